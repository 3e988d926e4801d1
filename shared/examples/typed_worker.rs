//! A complete typed worker: the task message arrives on SQS, the handler does
//! the work while heartbeats keep the task alive, and its result completes it.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sfn_callback::SqsWorker;

#[derive(serde::Deserialize)]
struct Order {
    quantity: String,
}

/// The units to reserve; a quantity that is not a number fails the task with `ParseIntError`.
async fn reserve(order: Order) -> Result<u32, std::num::ParseIntError> {
    order.quantity.parse()
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let worker = SqsWorker::from_env(reserve).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| worker.handle(event))).await
}
