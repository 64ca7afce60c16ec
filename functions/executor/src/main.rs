//! The executor Lambda's entry point: wires the platform from the environment during init, then
//! serves SQS batches.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kite_aws::lambda::init_tracing();
    let init = kite_aws::lambda::init().await?;
    let platform = Arc::clone(&init.platform);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let platform = Arc::clone(&platform);
        async move { kite_fn_executor::handle(&platform, event).await }
    }))
    .await
}
