//! Example Lambda `sqs-worker`: the state machine's task message arrives on SQS,
//! this function does the work (a SHA-256 checksum of the input's `data`) with
//! heartbeats, and completes the token. Copy it and replace `checksum`.

use std::fmt::Write;
use std::time::Duration;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use sfn_callback::worker::{SqsWorker, TaskFailure, WorkerSettings};
use sfn_callback::{CallbackClient, config::Config};
use sha2::{Digest, Sha256};

/// The work: checksum the input's `data`. `workSeconds` (at most 900) makes it
/// slow on purpose, to see the heartbeats keep the task alive.
async fn checksum(input: Value) -> Result<Value, TaskFailure> {
    let data = input
        .get("data")
        .ok_or_else(|| TaskFailure::new("Checksum.NoData", "the input has no `data` field"))?;
    if let Some(seconds) = input.get("workSeconds").and_then(Value::as_f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds.clamp(0.0, 900.0))).await;
    }
    let bytes = serde_json::to_vec(data)
        .map_err(|err| TaskFailure::new("Checksum.Unreadable", err.to_string()))?;
    let digest = Sha256::digest(&bytes);
    let hex = digest.iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    });
    Ok(json!({"sha256": hex, "bytes": bytes.len()}))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let client = CallbackClient::from_env(Config::from_env()?.retry).await;
    let worker = SqsWorker::new(client, checksum, WorkerSettings::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| worker.handle(event))).await
}
