//! Cold-start measurement of a built Lambda function: the binary is started with
//! `AWS_LAMBDA_RUNTIME_API` pointing at a loopback listener that plays the Lambda Runtime
//! API just far enough to see the function's first `GET /2018-06-01/runtime/invocation/next`
//! — the moment its init is over. Process start to that request is the init time Lambda
//! would report (minus the sandbox's own start).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// Starts `binary` `runs` times and returns the median time to its first `next` request.
/// The function's configuration comes from the environment (`KITE_AWS_ENDPOINT`,
/// `KITE_PREFIX`...), as it would in Lambda.
pub async fn measure_cold_start(binary: &Path, runs: usize) -> Result<Duration, String> {
    let mut times = Vec::new();
    for _ in 0..runs.max(1) {
        times.push(once(binary).await?);
    }
    times.sort();
    Ok(times[times.len() / 2])
}

async fn once(binary: &Path) -> Result<Duration, String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("no loopback port: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("no loopback port: {e}"))?;
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "function".into());
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "cold-start")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
    let first = async {
        loop {
            let (mut conn, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut buf = vec![0u8; 4096];
            let n = conn.read(&mut buf).await.map_err(|e| e.to_string())?;
            if String::from_utf8_lossy(&buf[..n]).contains("/runtime/invocation/next") {
                return Ok::<Duration, String>(started.elapsed());
            }
        }
    };
    let result = match tokio::time::timeout(Duration::from_secs(30), first).await {
        Ok(r) => r,
        Err(_) => Err(format!(
            "{} made no Runtime API request within 30 s",
            binary.display()
        )),
    };
    let _ = child.kill().await;
    result
}
