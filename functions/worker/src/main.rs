//! The worker Lambda's entry point: wires the platform from the environment during init, then
//! serves SQS batches.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let platform = kite_aws::lambda::start().await?.platform;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let platform = Arc::clone(&platform);
        async move { kite_fn_worker::handle(&platform, event).await }
    }))
    .await
}
