# One role per function. Every function may use the installation's queues, table (and its
# indexes), bucket and the secrets named "<prefix>*" (the Secrets Manager backend of Kite's
# secret() function), and write its own log group; nothing else.

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${var.prefix}${each.value.name}"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name = "${var.prefix}${each.value.name}"
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid = "Queues"
        Action = [
          "sqs:SendMessage",
          "sqs:ReceiveMessage",
          "sqs:DeleteMessage",
          "sqs:ChangeMessageVisibility",
          "sqs:GetQueueAttributes",
          "sqs:GetQueueUrl",
        ]
        Effect   = "Allow"
        Resource = values(local.queue_arns)
      },
      {
        Sid = "Table"
        Action = [
          "dynamodb:GetItem",
          "dynamodb:BatchGetItem",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
          "dynamodb:DeleteItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:Query",
          "dynamodb:Scan",
          "dynamodb:TransactWriteItems",
          "dynamodb:ConditionCheckItem",
        ]
        Effect   = "Allow"
        Resource = [aws_dynamodb_table.table.arn, "${aws_dynamodb_table.table.arn}/index/*"]
      },
      {
        Sid      = "BucketList"
        Action   = ["s3:ListBucket", "s3:ListBucketMultipartUploads"]
        Effect   = "Allow"
        Resource = aws_s3_bucket.bucket.arn
      },
      {
        Sid = "BucketObjects"
        Action = [
          "s3:GetObject",
          "s3:PutObject",
          "s3:DeleteObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
        ]
        Effect   = "Allow"
        Resource = "${aws_s3_bucket.bucket.arn}/*"
      },
      {
        Sid      = "Secrets"
        Action   = ["secretsmanager:GetSecretValue"]
        Effect   = "Allow"
        Resource = "arn:${local.partition}:secretsmanager:${local.region}:${local.account_id}:secret:${var.prefix}*"
      },
      {
        Sid      = "Logs"
        Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
        Effect   = "Allow"
        Resource = "${aws_cloudwatch_log_group.function[each.key].arn}:*"
      },
    ]
  })
}
