# The Lambda functions: one per entry of resources.json, each packaged by cargo-lambda as
# <artifacts_dir>/<binary>/bootstrap.zip (a `provided.al2023` custom runtime on arm64).

locals {
  # The queue each queue-fed function consumes (its resources.json object), by function name.
  consumed = {
    for name, f in local.functions : name => local.queues[f.source_queue] if f.source_queue != null
  }

  # What every function reads at start-up (kite_aws::config, kite_aws::wiring).
  function_env = {
    KITE_PREFIX             = var.prefix
    KITE_TABLE              = aws_dynamodb_table.table.name
    KITE_BUCKET             = aws_s3_bucket.bucket.bucket
    KITE_EXECUTOR_QUEUE_URL = local.queue_urls[local.consumed.executor.name]
    KITE_EXECUTOR_DLQ_URL   = local.queue_urls[local.consumed.executor.dead_letter]
    KITE_WORKER_QUEUE_URL   = local.queue_urls[local.consumed.worker.name]
    KITE_WORKER_DLQ_URL     = local.queue_urls[local.consumed.worker.dead_letter]
    KITE_TIMERS_QUEUE_URL   = local.queue_urls[local.consumed.scheduler.name]
    KITE_TIMERS_DLQ_URL     = local.queue_urls[local.consumed.scheduler.dead_letter]
    RUST_LOG                = var.rust_log
  }

  queue_fed_functions = { for name, f in local.functions : name => f if f.source_queue != null }
  # Functions also fed by a notification queue (S3 events of the watched buckets), and those
  # queues (resources.json objects) by name.
  notified_functions  = { for name, f in local.functions : name => f if f.notification_queue != null }
  notification_queues = { for name, f in local.notified_functions : f.notification_queue => local.queues[f.notification_queue] }
  scheduled_functions = { for name, f in local.functions : name => f if f.schedule != null }
}

resource "aws_cloudwatch_log_group" "function" {
  for_each = local.functions

  name              = "/aws/lambda/${var.prefix}${each.value.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "function" {
  for_each = local.functions

  function_name    = "${var.prefix}${each.value.name}"
  description      = "Kite ${each.value.name} (${each.value.binary})"
  role             = aws_iam_role.function[each.key].arn
  runtime          = "provided.al2023"
  architectures    = ["arm64"]
  handler          = "bootstrap"
  filename         = "${local.artifacts_dir}/${each.value.binary}/bootstrap.zip"
  source_code_hash = filebase64sha256("${local.artifacts_dir}/${each.value.binary}/bootstrap.zip")
  memory_size      = each.value.memory_mb
  timeout          = each.value.timeout_seconds

  environment {
    variables = merge(
      local.function_env,
      length(var.globals) > 0 ? { KITE_GLOBALS = jsonencode(var.globals) } : {},
      each.value.http_api && var.api_token != null ? { KITE_API_TOKEN = var.api_token } : {},
    )
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  depends_on = [aws_iam_role_policy.function]
}

# Queue-fed functions: partial batch responses, so one failed message is retried (and
# eventually dead-lettered) without its batch. A FIFO source has no batching window.
resource "aws_lambda_event_source_mapping" "queue" {
  for_each = local.queue_fed_functions

  event_source_arn                   = local.queue_arns[each.value.source_queue]
  function_name                      = aws_lambda_function.function[each.key].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = local.queues[each.value.source_queue].fifo ? null : 0
  function_response_types            = ["ReportBatchItemFailures"]

  dynamic "scaling_config" {
    for_each = contains(keys(var.max_concurrency), each.key) ? [var.max_concurrency[each.key]] : []
    content {
      maximum_concurrency = scaling_config.value
    }
  }

  depends_on = [aws_iam_role_policy.function]
}

# The notification queue (S3 ObjectCreated events of the watched buckets, EventBridge "Object
# Created" events) feeds its function through a mapping of its own: the scheduler fires the S3
# triggers watching the bucket within seconds of an upload.
resource "aws_lambda_event_source_mapping" "notifications" {
  for_each = local.notified_functions

  event_source_arn                   = local.queue_arns[each.value.notification_queue]
  function_name                      = aws_lambda_function.function[each.key].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = 0
  function_response_types            = ["ReportBatchItemFailures"]

  depends_on = [aws_iam_role_policy.function]
}
