output "api_url" {
  description = "Base URL of the REST API (KITE_SERVER for the `kite` CLI)."
  value       = aws_apigatewayv2_stage.default.invoke_url
}

output "queue_urls" {
  description = "SQS queue URLs by unprefixed resources.json name."
  value       = local.queue_urls
}

output "table_name" {
  description = "The DynamoDB table."
  value       = aws_dynamodb_table.table.name
}

output "bucket_name" {
  description = "The S3 bucket."
  value       = aws_s3_bucket.bucket.bucket
}

output "function_names" {
  description = "Lambda function names by resources.json name."
  value       = { for name, f in aws_lambda_function.function : name => f.function_name }
}
