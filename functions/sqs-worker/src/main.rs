//! Example Lambda `sqs-worker`: the state machine's task message arrives on SQS,
//! this function does the work with heartbeats, and completes the token.
//! Copy it and replace `checksum` with your own `async fn(I) -> Result<O, E>`
//! (see `sfn_callback::worker`).

mod checksum;

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sfn_callback::SqsWorker;

use crate::checksum::checksum;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let worker = SqsWorker::from_env(checksum).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| worker.handle(event))).await
}
