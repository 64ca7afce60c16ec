//! The worker Lambda's entry point: wires the platform from the environment during init, then
//! serves SQS batches.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    kite_aws::lambda::init_tracing();
    let init = match kite_aws::lambda::init().await {
        Ok(init) => init,
        Err(e) => {
            // Lambda reports the exit; the reason goes to the function's log.
            tracing::error!("init failed: {e}");
            return Err(e.into());
        }
    };
    let platform = Arc::clone(&init.platform);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let platform = Arc::clone(&platform);
        async move { kite_fn_worker::handle(&platform, event).await }
    }))
    .await
}
