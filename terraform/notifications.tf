# S3 file detection on AWS. Uploads to the watched buckets reach the notification queue of
# resources.json (S3 event notifications, or an EventBridge rule for buckets that already use
# EventBridge); the function it feeds (the scheduler) fires the S3 triggers watching that
# bucket within seconds, and nothing runs while nothing is uploaded. The scheduler's extra
# grants cover these buckets and the SQS queues the SQS triggers consume, nothing more.

locals {
  watched_bucket_arns     = [for b in var.watched_buckets : "arn:${local.partition}:s3:::${b}"]
  eventbridge_bucket_arns = [for b in var.watched_buckets_eventbridge : "arn:${local.partition}:s3:::${b}"]
  trigger_bucket_arns = distinct(concat(
    local.watched_bucket_arns,
    local.eventbridge_bucket_arns,
    [for b in var.trigger_buckets : "arn:${local.partition}:s3:::${b}"],
  ))
  notified_buckets = { for b in var.watched_buckets : b => b }
  eventbridge_queues = {
    for name, q in local.notification_queues : name => q if length(var.watched_buckets_eventbridge) > 0
  }
}

# Only the watched buckets (of this account) and the EventBridge rule may send to it.
resource "aws_sqs_queue_policy" "notifications" {
  for_each = length(var.watched_buckets) + length(var.watched_buckets_eventbridge) > 0 ? local.notification_queues : {}

  queue_url = local.queue_urls[each.key]
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      length(local.watched_bucket_arns) > 0 ? [
        {
          Sid       = "WatchedBuckets"
          Effect    = "Allow"
          Principal = { Service = "s3.amazonaws.com" }
          Action    = "sqs:SendMessage"
          Resource  = local.queue_arns[each.key]
          Condition = {
            ArnLike      = { "aws:SourceArn" = local.watched_bucket_arns }
            StringEquals = { "aws:SourceAccount" = local.account_id }
          }
        },
      ] : [],
      length(local.eventbridge_bucket_arns) > 0 ? [
        {
          Sid       = "ObjectCreatedRule"
          Effect    = "Allow"
          Principal = { Service = "events.amazonaws.com" }
          Action    = "sqs:SendMessage"
          Resource  = local.queue_arns[each.key]
          Condition = {
            ArnEquals = { "aws:SourceArn" = "arn:${local.partition}:events:${local.region}:${local.account_id}:rule/${var.prefix}${each.key}" }
          }
        },
      ] : [],
    )
  })
}

# Terraform owns the whole notification configuration of each watched bucket.
resource "aws_s3_bucket_notification" "watched" {
  for_each = length(local.notification_queues) > 0 ? local.notified_buckets : {}

  bucket = each.key

  dynamic "queue" {
    for_each = local.notification_queues
    content {
      id        = "${var.prefix}${queue.key}"
      queue_arn = local.queue_arns[queue.key]
      events    = ["s3:ObjectCreated:*"]
    }
  }

  depends_on = [aws_sqs_queue_policy.notifications]
}

# Buckets already sending their events to EventBridge: one rule forwards their uploads.
resource "aws_cloudwatch_event_rule" "object_created" {
  for_each = local.eventbridge_queues

  name        = "${var.prefix}${each.key}"
  description = "S3 Object Created events of the watched buckets, to ${var.prefix}${each.key}"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail        = { bucket = { name = var.watched_buckets_eventbridge } }
  })
}

resource "aws_cloudwatch_event_target" "object_created" {
  for_each = local.eventbridge_queues

  rule = aws_cloudwatch_event_rule.object_created[each.key].name
  arn  = local.queue_arns[each.key]
}

# What the notified function (the scheduler) may do with the triggers' buckets and queues.
resource "aws_iam_role_policy" "triggers" {
  for_each = length(local.trigger_bucket_arns) + length(var.trigger_queues) > 0 ? local.notified_functions : {}

  name = "${var.prefix}${each.value.name}-triggers"
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = concat(
      length(local.trigger_bucket_arns) > 0 ? [
        {
          Sid      = "TriggerBucketsList"
          Action   = ["s3:ListBucket"]
          Effect   = "Allow"
          Resource = local.trigger_bucket_arns
        },
        {
          Sid      = "TriggerBucketsObjects"
          Action   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
          Effect   = "Allow"
          Resource = [for arn in local.trigger_bucket_arns : "${arn}/*"]
        },
      ] : [],
      length(var.trigger_queues) > 0 ? [
        {
          Sid      = "TriggerQueues"
          Action   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
          Effect   = "Allow"
          Resource = var.trigger_queues
        },
      ] : [],
    )
  })
}
