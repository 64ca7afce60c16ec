//! The scheduler Lambda's entry point: wires the platform from the environment during init, then
//! serves timer batches and ticks.

use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // The EventBridge rule ticks once a minute: each tick creates the fire times of the
    // coming minute ahead, as executions scheduled for their second.
    let platform = Arc::new(
        (*kite_aws::lambda::start().await?.platform)
            .clone()
            .with_tick_config(kite_engine::triggers::TickConfig::every_minute()),
    );
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| {
        let platform = Arc::clone(&platform);
        async move { kite_fn_scheduler::handle(&platform, event).await }
    }))
    .await
}
