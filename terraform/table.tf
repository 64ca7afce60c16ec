# The DynamoDB table (single-table design, see infra/aws/src/dynamo.rs): string keys,
# one global secondary index per entry of resources.json, item expiry through TTL.

locals {
  table = local.resources.table
  # Every key attribute must be declared once, and only key attributes may be.
  table_key_attributes = distinct(concat(
    [local.table.hash_key],
    flatten([for index in local.table.indexes : [index.hash_key, index.range_key]]),
  ))
}

resource "aws_dynamodb_table" "table" {
  name         = "${var.prefix}${local.table.name}"
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = local.table.hash_key

  dynamic "attribute" {
    for_each = local.table_key_attributes
    content {
      name = attribute.value
      type = "S"
    }
  }

  dynamic "global_secondary_index" {
    for_each = { for index in local.table.indexes : index.name => index }
    content {
      name            = global_secondary_index.value.name
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "KEYS_ONLY"
    }
  }

  ttl {
    attribute_name = local.table.ttl_attribute
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}
