//! Lambda `approval-http`: the page behind the approval email's links. GET or
//! HEAD shows a confirmation page and decides nothing; POST of its form
//! completes the task. Behind a Function URL or an API Gateway HTTP API.

use std::convert::Infallible;

use lambda_http::{Error, Request, service_fn};
use sfn_callback::CallbackClient;
use sfn_callback::approval::http::ApprovalHttp;
use sfn_callback::approval::keys::KeySource;
use sfn_callback::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    // `ApprovalHttp::from_env`, step by step, with the functions' shared SDK
    // config (`sfn_callback::aws`), which keeps the trust store and the unused
    // credential providers out of Init. Back to `from_env` once it uses it.
    let config = Config::from_env()?;
    let key_source = KeySource::from_env()?;
    let sdk_config = sfn_callback::aws::sdk_config().await;
    let keys = key_source.load(&sdk_config).await?;
    let client = CallbackClient::from_sdk_config(&sdk_config, config.retry);
    let app = ApprovalHttp::new(keys, client);
    lambda_http::run(service_fn(|request: Request| async {
        Ok::<_, Infallible>(app.handle(request).await)
    }))
    .await
}
