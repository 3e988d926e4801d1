//! The example work that `sqs-worker` and `activity-worker` run: replace it
//! with yours. Any `async fn(I) -> Result<O, E>` will do for `sqs-worker` (see
//! `sfn_callback::worker`), any `async fn(Value) -> Result<Value, TaskFailure>`
//! for `activity-worker`.

use std::fmt::Write;
use std::time::Duration;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use sfn_callback::TaskFailure;

/// Checksums the input's `data`: `{"sha256": "<hex>", "bytes": n}`. Fails with
/// `Checksum.NoData` when there is none. `workSeconds` (at most 900) makes it
/// slow on purpose, to watch heartbeats keep the task alive.
pub async fn checksum(input: Value) -> Result<Value, TaskFailure> {
    let data = input
        .get("data")
        .ok_or_else(|| TaskFailure::new("Checksum.NoData", "the input has no `data` field"))?;
    if let Some(seconds) = input.get("workSeconds").and_then(Value::as_f64) {
        tokio::time::sleep(Duration::from_secs_f64(seconds.clamp(0.0, 900.0))).await;
    }
    let bytes = serde_json::to_vec(data)
        .map_err(|err| TaskFailure::new("Checksum.Unreadable", err.to_string()))?;
    let hex = Sha256::digest(&bytes)
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        });
    Ok(json!({"sha256": hex, "bytes": bytes.len()}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn checksum_of_data_is_its_sha256() {
        // sha256("\"abc\"")
        let output = checksum(json!({"data": "abc"})).await.unwrap();
        assert_eq!(output["bytes"], 5);
        assert_eq!(output["sha256"].as_str().map(str::len), Some(64));
    }

    #[tokio::test]
    async fn checksum_without_data_fails_with_a_named_error() {
        let failure = checksum(json!({})).await.unwrap_err();
        assert_eq!(failure.error, "Checksum.NoData");
    }
}
