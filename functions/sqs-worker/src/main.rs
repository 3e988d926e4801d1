//! Example Lambda `sqs-worker`: the state machine's task message arrives on SQS,
//! this function does the work with heartbeats, and completes the token.
//! Copy it and replace `checksum` with your own
//! `async fn(serde_json::Value) -> Result<serde_json::Value, TaskFailure>`.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sfn_callback::examples::checksum;
use sfn_callback::worker::{SqsWorker, WorkerSettings};
use sfn_callback::{CallbackClient, config::Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let client = CallbackClient::from_env(Config::from_env()?.retry).await;
    let worker = SqsWorker::new(client, checksum, WorkerSettings::from_env()?);
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| worker.handle(event))).await
}
