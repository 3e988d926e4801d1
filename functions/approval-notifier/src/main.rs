//! Lambda `approval-notifier`: emails an approval request with sealed Approve
//! and Reject links. Invoked directly (`lambda:invoke.waitForTaskToken`), from
//! SQS (partial batch response) or from SNS.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;
use sfn_callback::approval::keys::KeySource;
use sfn_callback::approval::notifier::ApprovalNotifier;
use sfn_callback::approval::settings::NotifierSettings;
use sfn_callback::config::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    sfn_callback::logging::init();
    // `ApprovalNotifier::from_env`, step by step, with the functions' shared SDK
    // config (`sfn_callback::aws`), which keeps the trust store and the unused
    // credential providers out of Init. Back to `from_env` once it uses it.
    let settings = NotifierSettings::from_env()?;
    let config = Config::from_env()?;
    let key_source = KeySource::from_env()?;
    let sdk_config = sfn_callback::aws::sdk_config().await;
    let keys = key_source.load(&sdk_config).await?;
    let ses = aws_sdk_sesv2::Client::new(&sdk_config);
    let notifier =
        ApprovalNotifier::with_max_concurrency(ses, keys, settings, config.max_concurrency);
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        notifier.handle(event)
    }))
    .await
}
