//! Lambda `approval-http`: the page behind the approval email's links. GET or
//! HEAD shows a confirmation page and decides nothing; POST of its form
//! completes the task. Behind a Function URL or an API Gateway HTTP API.

use std::convert::Infallible;

use lambda_http::{Error, Request, service_fn};
use sfn_callback_approval::ApprovalHttp;

// One thread: the work is I/O, and a small function has less than one vCPU;
// no hand-offs between threads shortens Init and the first call.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    let app = ApprovalHttp::from_env().await?;
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Infallible>(app.handle(request).await)
    }))
    .await
}
