variable "prefix" {
  description = "Prefix of every resource name (queues, table, bucket, functions, roles). The bucket name (prefix + \"storage\") must be globally unique, so pick a prefix of your own, e.g. \"acme-kite-\"."
  type        = string
  default     = "kite-"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]*$", var.prefix)) && length(var.prefix) <= 32
    error_message = "The prefix must be lowercase letters, digits and '-' (S3 bucket names), at most 32 characters."
  }
}

variable "region" {
  description = "AWS region. null: the provider's default (AWS_REGION, the profile)."
  type        = string
  default     = null
}

variable "artifacts_dir" {
  description = "Where `cargo lambda build --release --arm64 --output-format zip` put the packages: <artifacts_dir>/<binary>/bootstrap.zip. null: ../target/lambda next to this module."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the functions' CloudWatch log groups, in days (0: never expire)."
  type        = number
  default     = 30

  validation {
    condition     = contains([0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "CloudWatch Logs accepts 0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653 days."
  }
}

variable "api_token" {
  description = "Bearer token the REST API requires (KITE_API_TOKEN of the HTTP function). null: the API is open to anyone who knows its URL."
  type        = string
  default     = null
  sensitive   = true
}

variable "max_concurrency" {
  description = "Maximum concurrent invocations per queue-fed function (event source mapping scaling_config), by function name, e.g. { worker = 50 }. Absent: no limit beyond the account's."
  type        = map(number)
  default     = {}

  validation {
    condition     = alltrue([for n in values(var.max_concurrency) : n >= 2 && n <= 1000])
    error_message = "maximum_concurrency must be between 2 and 1000."
  }
}

variable "rust_log" {
  description = "RUST_LOG of every function."
  type        = string
  default     = "info"
}

variable "tags" {
  description = "Tags added to every resource (besides kite:prefix)."
  type        = map(string)
  default     = {}
}

variable "globals" {
  description = "Kestra globals ({{ globals.x }} in flows), passed to every function as KITE_GLOBALS (JSON). Empty: unset."
  type        = any
  default     = {}
}

variable "watched_buckets" {
  description = "Buckets whose uploads start flows with an io.kestra.plugin.aws.s3.Trigger within seconds: each gets an S3 event notification (s3:ObjectCreated:*) to the notification queue, and the scheduler may list, read, write and delete its objects. Terraform then owns the bucket's whole notification configuration: for a bucket that already has one, use watched_buckets_eventbridge."
  type        = list(string)
  default     = []
}

variable "watched_buckets_eventbridge" {
  description = "Buckets that already send their events to Amazon EventBridge (bucket setting \"Send notifications to Amazon EventBridge\"): an EventBridge rule forwards their \"Object Created\" events to the notification queue, and the scheduler may list, read, write and delete their objects."
  type        = list(string)
  default     = []
}

variable "trigger_buckets" {
  description = "Other buckets S3 triggers poll (without notifications) or MOVE objects to: the scheduler may list, read, write and delete their objects."
  type        = list(string)
  default     = []
}

variable "trigger_queues" {
  description = "ARNs of the SQS queues io.kestra.plugin.aws.sqs.Trigger and RealtimeTrigger consume (without their own credentials): the scheduler may receive and delete their messages."
  type        = list(string)
  default     = []
}
