# The REST API: an API Gateway HTTP API proxying every request ($default route) to the
# function marked `http_api` in resources.json (payload format 2.0, what lambda_http reads).

locals {
  http_function = one([for name, f in local.functions : name if f.http_api])
}

resource "aws_apigatewayv2_api" "http" {
  name          = "${var.prefix}${local.http_function}"
  protocol_type = "HTTP"
  description   = "Kite REST API"

  lifecycle {
    precondition {
      condition     = local.http_function != null
      error_message = "resources.json must mark exactly one function with \"http_api\": true."
    }
  }
}

resource "aws_apigatewayv2_integration" "http" {
  api_id                 = aws_apigatewayv2_api.http.id
  integration_type       = "AWS_PROXY"
  integration_method     = "POST"
  integration_uri        = aws_lambda_function.function[local.http_function].invoke_arn
  payload_format_version = "2.0"
  timeout_milliseconds   = min(30000, local.functions[local.http_function].timeout_seconds * 1000)
}

resource "aws_apigatewayv2_route" "default" {
  api_id    = aws_apigatewayv2_api.http.id
  route_key = "$default"
  target    = "integrations/${aws_apigatewayv2_integration.http.id}"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.http.id
  name        = "$default"
  auto_deploy = true
}

resource "aws_lambda_permission" "http" {
  statement_id  = "AllowApiGateway"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[local.http_function].function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.http.execution_arn}/*/*"
}
