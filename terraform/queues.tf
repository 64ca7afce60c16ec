# SQS queues. A queue cannot name its own resource block in its redrive policy, so the
# queues without a dead-letter queue (the DLQs themselves) are one resource and the queues
# that redrive to them another.

locals {
  terminal_queues  = { for name, q in local.queues : name => q if q.dead_letter == null }
  redriving_queues = { for name, q in local.queues : name => q if q.dead_letter != null }
}

resource "aws_sqs_queue" "dead_letter" {
  for_each = local.terminal_queues

  name                        = "${var.prefix}${each.value.name}"
  fifo_queue                  = each.value.fifo
  content_based_deduplication = each.value.fifo ? false : null
  deduplication_scope         = each.value.fifo && each.value.high_throughput ? "messageGroup" : null
  fifo_throughput_limit       = each.value.fifo && each.value.high_throughput ? "perMessageGroupId" : null
  visibility_timeout_seconds  = each.value.visibility_timeout_seconds
  message_retention_seconds   = each.value.retention_seconds
  sqs_managed_sse_enabled     = true
}

resource "aws_sqs_queue" "queue" {
  for_each = local.redriving_queues

  name                        = "${var.prefix}${each.value.name}"
  fifo_queue                  = each.value.fifo
  content_based_deduplication = each.value.fifo ? false : null
  deduplication_scope         = each.value.fifo && each.value.high_throughput ? "messageGroup" : null
  fifo_throughput_limit       = each.value.fifo && each.value.high_throughput ? "perMessageGroupId" : null
  visibility_timeout_seconds  = each.value.visibility_timeout_seconds
  message_retention_seconds   = each.value.retention_seconds
  sqs_managed_sse_enabled     = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letter[each.value.dead_letter].arn
    maxReceiveCount     = each.value.max_receive_count
  })
}

# Only its own source queues may move messages into a dead-letter queue.
locals {
  dead_letter_sources = {
    for dlq in distinct([for q in local.redriving_queues : q.dead_letter]) :
    dlq => [for q in local.redriving_queues : q.name if q.dead_letter == dlq]
  }
}

resource "aws_sqs_queue_redrive_allow_policy" "dead_letter" {
  for_each = local.dead_letter_sources

  queue_url = aws_sqs_queue.dead_letter[each.key].id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [for source in each.value : aws_sqs_queue.queue[source].arn]
  })
}

locals {
  queue_urls = merge(
    { for name, q in aws_sqs_queue.dead_letter : name => q.url },
    { for name, q in aws_sqs_queue.queue : name => q.url },
  )
  queue_arns = merge(
    { for name, q in aws_sqs_queue.dead_letter : name => q.arn },
    { for name, q in aws_sqs_queue.queue : name => q.arn },
  )
}
