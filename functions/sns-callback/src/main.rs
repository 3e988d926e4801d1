//! Lambda `sns-callback`: completes Step Functions task tokens from callback
//! messages that SNS delivers (asynchronous invocation).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sfn_callback::SnsCallback;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let function = SnsCallback::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| function.handle(event))).await
}
