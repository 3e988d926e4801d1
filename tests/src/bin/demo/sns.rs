//! SNS callbacks: the state machine publishes its task to a topic; one worker
//! answers through an SNS topic subscribed by SQS with raw delivery off (so
//! `sqs-callback` unwraps the notification), another straight to `sns-callback`.

use std::time::Duration;

use serde_json::{Value, json};
use sfn_callback_tests::event_source::{create_queue, deliver, receive_exactly, task_token};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::{Answer, Lambda};
use sfn_callback_tests::{Result, sns, statemachine};

const LIMIT: Duration = Duration::from_secs(10);

pub async fn run(peer: &LocalAws) -> Result<()> {
    let Clients {
        sfn,
        sqs,
        sns: topics,
    } = peer.clients().await;

    println!(
        "Creating the work topic (raw SQS subscription), a callback topic (wrapped SQS subscription) and the state machine ..."
    );
    let work_topic = sns::create_topic(&topics, "demo-sns-work").await?;
    let work_queue = create_queue(&sqs, "demo-sns-work", &[]).await?;
    sns::subscribe_queue(
        &topics,
        &work_topic,
        &sns::local_queue_arn(&work_queue),
        true,
    )
    .await?;
    let callback_topic = sns::create_topic(&topics, "demo-sns-callbacks").await?;
    let callback_queue = create_queue(&sqs, "demo-sns-callbacks", &[]).await?;
    sns::subscribe_queue(
        &topics,
        &callback_topic,
        &sns::local_queue_arn(&callback_queue),
        false,
    )
    .await?;
    let definition = statemachine::definition("sns-callback", &[("WorkTopicArn", &work_topic)])?;
    let state_machine = statemachine::create(&sfn, "demo-sns-callback", &definition).await?;

    let start = |name: &'static str| {
        let (sfn, sqs, state_machine, work_queue) = (&sfn, &sqs, &state_machine, &work_queue);
        async move {
            let execution =
                statemachine::start(sfn, state_machine, name, &json!({"job": name})).await?;
            let work = receive_exactly(sqs, work_queue, 1, LIMIT).await?;
            Ok::<_, sfn_callback_tests::Error>((
                execution,
                task_token(work[0].body().unwrap_or_default())?,
            ))
        }
    };
    let (via_sqs, via_sqs_token) = start("via-sqs").await?;
    let (via_sns, via_sns_token) = start("via-sns").await?;

    println!(
        "Worker 1 publishes its callback; SNS wraps it for SQS; sqs-callback unwraps and completes it ..."
    );
    publish(
        &topics,
        &callback_topic,
        &json!({"taskToken": via_sqs_token, "output": {"route": "SNS -> SQS"}}),
    )
    .await?;
    let mut sqs_callback = Lambda::start("sqs-callback", &peer.function_env()).await?;
    let failed = deliver(
        &sqs,
        &callback_queue,
        &sns::local_queue_arn(&callback_queue),
        1,
        &mut sqs_callback,
    )
    .await?;
    println!("  partial batch response: {} failed", failed.len());

    println!(
        "Worker 2 publishes its callback; SNS invokes sns-callback (event built from the notification SNS delivered) ..."
    );
    publish(
        &topics,
        &callback_topic,
        &json!({"taskToken": via_sns_token, "output": {"route": "SNS -> Lambda"}}),
    )
    .await?;
    let delivered = receive_exactly(&sqs, &callback_queue, 1, LIMIT).await?;
    let event = sns::sns_event(delivered[0].body().unwrap_or_default())?;
    let mut sns_callback = Lambda::start("sns-callback", &peer.function_env()).await?;
    let answer = sns_callback.invoke(&event).await?;
    println!("  sns-callback answered: {}", describe(&answer));

    println!(
        "A notification that is not a callback: sns-callback fails it, so SNS retries and then uses OnFailure ..."
    );
    publish(
        &topics,
        &callback_topic,
        &json!({"hello": "not a callback"}),
    )
    .await?;
    let delivered = receive_exactly(&sqs, &callback_queue, 1, LIMIT).await?;
    let answer = sns_callback
        .invoke(&sns::sns_event(delivered[0].body().unwrap_or_default())?)
        .await?;
    println!("  sns-callback answered: {}", describe(&answer));

    crate::print_executions(&sfn, &[("via-sqs", via_sqs), ("via-sns", via_sns)]).await;
    Ok(())
}

async fn publish(topics: &aws_sdk_sns::Client, topic: &str, callback: &Value) -> Result<()> {
    topics
        .publish()
        .topic_arn(topic)
        .message(callback.to_string())
        .send()
        .await?;
    Ok(())
}

fn describe(answer: &Answer) -> String {
    match answer {
        Answer::Response(value) => format!("ok ({value})"),
        Answer::Error { error_type, .. } => format!("error, errorType {error_type}"),
    }
}
