//! The webserver Lambda's entry point: wires the platform from the environment during init,
//! then serves API Gateway requests with the axum router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    kite_aws::lambda::init_tracing();
    let init = match kite_aws::lambda::init().await {
        Ok(init) => init,
        Err(e) => {
            // Lambda reports the exit; the reason goes to the function's log.
            tracing::error!("init failed: {e}");
            return Err(e.into());
        }
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let app = kite_fn_webserver::app(init.platform, &env);
    lambda_http::run(app).await
}
