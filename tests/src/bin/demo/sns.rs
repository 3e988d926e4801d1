//! SNS callbacks: the state machine publishes its task to a topic; one worker
//! answers through an SNS topic subscribed by SQS with raw delivery off (so
//! `sqs-callback` unwraps the notification), another straight to `sns-callback`.

use std::sync::Arc;

use serde_json::{Value, json};
use sfn_callback_tests::Result;
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::runtime_api::Answer;
use sfn_callback_tests::sns_pattern::SnsCallbackWorld;

pub async fn run(peer: &Arc<LocalAws>) -> Result<()> {
    println!(
        "Creating the work topic (raw SQS subscription), a callback topic (wrapped SQS subscription) and the state machine ..."
    );
    let world = SnsCallbackWorld::start_on(peer, "demo-sns-callback").await?;
    let callbacks = world.callback_route("demo-sns-callbacks", false).await?;
    let (via_sqs, via_sqs_token) = world.start_execution("via-sqs").await?;
    let (via_sns, via_sns_token) = world.start_execution("via-sns").await?;

    println!(
        "Worker 1 publishes its callback; SNS wraps it for SQS; sqs-callback unwraps and completes it ..."
    );
    world
        .publish(&callbacks.topic, &callback(&via_sqs_token, "SNS -> SQS"))
        .await?;
    let mut sqs_callback = world.start_function("sqs-callback").await?;
    let failed = world.deliver(&callbacks, &mut sqs_callback).await?;
    println!("  partial batch response: {} failed", failed.len());

    println!(
        "Worker 2 publishes its callback; SNS invokes sns-callback (event built from the notification SNS delivered) ..."
    );
    world
        .publish(&callbacks.topic, &callback(&via_sns_token, "SNS -> Lambda"))
        .await?;
    let event = world.sns_event(&callbacks).await?;
    let mut sns_callback = world.start_function("sns-callback").await?;
    let answer = sns_callback.invoke(&event).await?;
    println!("  sns-callback answered: {}", describe(&answer));

    println!(
        "A notification that is not a callback: sns-callback fails it, so SNS retries and then uses OnFailure ..."
    );
    world
        .publish(&callbacks.topic, &json!({"hello": "not a callback"}))
        .await?;
    let answer = sns_callback
        .invoke(&world.sns_event(&callbacks).await?)
        .await?;
    println!("  sns-callback answered: {}", describe(&answer));

    crate::print_executions(&world.sfn, &[("via-sqs", via_sqs), ("via-sns", via_sns)]).await;
    Ok(())
}

/// A worker's callback for `token`, whose output names the `route` it took.
fn callback(token: &str, route: &str) -> Value {
    json!({"taskToken": token, "output": {"route": route}})
}

fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Response(value) => format!("ok ({value})"),
        Answer::Error { error_type, .. } => format!("error, errorType {error_type}"),
    }
}
