//! Lambda `approval-notifier`: emails an approval request with sealed Approve
//! and Reject links. Invoked directly (`lambda:invoke.waitForTaskToken`), from
//! SQS (partial batch response) or from SNS.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use sfn_callback_approval::ApprovalNotifier;

// One thread: the work is I/O, and a small function has less than one vCPU;
// no hand-offs between threads shortens Init and the first call.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let notifier = ApprovalNotifier::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        notifier.handle(event)
    }))
    .await
}
