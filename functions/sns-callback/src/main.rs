//! Lambda `sns-callback`: completes Step Functions task tokens from callback
//! messages that SNS delivers (asynchronous invocation).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use sfn_callback::SnsCallback;

// One thread: the work is I/O, and a small function has less than one vCPU;
// no hand-offs between threads shortens Init and the first call.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let function = SnsCallback::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| function.handle(event))).await
}
