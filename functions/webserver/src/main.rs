//! The webserver Lambda's entry point: wires the platform from the environment during init,
//! then serves API Gateway requests with the axum router.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let init = kite_aws::lambda::start().await?;
    let env: Vec<(String, String)> = std::env::vars().collect();
    let app = kite_fn_webserver::app(init.platform, &env)?;
    lambda_http::run(app).await
}
