//! A complete SQS callback function: every record is a callback message.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sfn_callback::SqsCallback;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let function = SqsCallback::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| function.handle(event))).await
}
