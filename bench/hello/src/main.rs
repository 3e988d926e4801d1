//! The floor of the cold-start benchmark: the smallest useful `lambda_runtime`
//! function, built with the workspace's release profile. It answers every event
//! with `{"hello": "world"}`; it has no config, no SDK client and no logging.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<Value>| async {
        Ok::<_, Error>(json!({"hello": "world"}))
    }))
    .await
}
