# Every name, key and setting comes from resources.json, the file `kite infra up`
# (kite_aws::resources) reads too. Names there are unprefixed; var.prefix is prepended here.

locals {
  resources = jsondecode(file("${path.module}/resources.json"))

  # The JSON objects with their optional fields filled in (the serde defaults of
  # kite_aws::resources), keyed by name.
  queues = {
    for q in local.resources.queues : q.name => merge({
      dead_letter       = null
      max_receive_count = null
      high_throughput   = false
    }, q)
  }
  functions = {
    for f in local.resources.functions : f.name => merge({
      source_queue       = null
      notification_queue = null
      batch_size         = null
      schedule           = null
      http_api           = false
    }, f)
  }

  artifacts_dir = coalesce(var.artifacts_dir, "${path.module}/../target/lambda")
  account_id    = data.aws_caller_identity.current.account_id
  partition     = data.aws_partition.current.partition
  region        = data.aws_region.current.region
}
