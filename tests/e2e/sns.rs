//! End to end over SNS: the state machine publishes its task with
//! `sns:publish.waitForTaskToken`; the worker's callback travels through SNS to
//! SQS (raw and wrapped) for `sqs-callback`, or straight to `sns-callback`.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use sfn_callback_tests::runtime_api::Answer;
use sfn_callback_tests::sns_pattern::SnsCallbackWorld;
use sfn_callback_tests::{Result, statemachine};

const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_callback_completes_from_raw_and_wrapped_sns_deliveries() -> Result<()> {
    let world = SnsCallbackWorld::start("sns-callback").await?;
    let raw = world.callback_route("callbacks-raw", true).await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    let (first, first_token) = world.start_execution("via-raw").await?;
    let (second, second_token) = world.start_execution("via-wrapped").await?;
    let mut lambda = world.start_function("sqs-callback").await?;

    world
        .publish(
            &raw.topic,
            &json!({"taskToken": first_token, "output": {"route": "raw"}}),
        )
        .await?;
    world
        .publish(
            &wrapped.topic,
            &json!({"taskToken": second_token, "output": {"route": "wrapped"}}),
        )
        .await?;
    let raw_failed = world.deliver(&raw, &mut lambda).await?;
    let wrapped_failed = world.deliver(&wrapped, &mut lambda).await?;

    assert!(
        raw_failed.is_empty() && wrapped_failed.is_empty(),
        "{raw_failed:?} {wrapped_failed:?}"
    );
    assert_eq!(
        statemachine::finished(&world.sfn, &first, LIMIT).await?,
        (ExecutionStatus::Succeeded, Some(json!({"route": "raw"})))
    );
    assert_eq!(
        statemachine::finished(&world.sfn, &second, LIMIT).await?,
        (
            ExecutionStatus::Succeeded,
            Some(json!({"route": "wrapped"}))
        )
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_notification_whose_message_is_not_a_callback_is_reported_failed() -> Result<()> {
    let world = SnsCallbackWorld::start("sns-callback").await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    let mut lambda = world.start_function("sqs-callback").await?;
    world.publish_text(&wrapped.topic, "not a callback").await?;

    let failed = world.deliver(&wrapped, &mut lambda).await?;

    assert_eq!(failed.len(), 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_callback_completes_from_the_notification_sns_delivered() -> Result<()> {
    let world = SnsCallbackWorld::start("sns-callback").await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    let (execution, token) = world.start_execution("via-sns").await?;
    world
        .publish(
            &wrapped.topic,
            &json!({"taskToken": token, "status": "FAILED", "error": "Rejected", "cause": "no"}),
        )
        .await?;
    let event = world.sns_event(&wrapped).await?;
    let mut lambda = world.start_function("sns-callback").await?;

    let answer = lambda.invoke(&event).await?;

    assert_eq!(answer, Answer::Response(Value::Null));
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    statemachine::assert_failed_with(&described, "Rejected");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sns_callback_failure_names_its_class_in_the_lambda_error_type() -> Result<()> {
    let world = SnsCallbackWorld::start("sns-callback").await?;
    let wrapped = world.callback_route("callbacks-wrapped", false).await?;
    world
        .publish(
            &wrapped.topic,
            &json!({"taskToken": "unknown-token-for-this-peer"}),
        )
        .await?;
    let event = world.sns_event(&wrapped).await?;
    let mut lambda = world.start_function("sns-callback").await?;

    let answer = lambda.invoke(&event).await?;

    let Answer::Error { error_type, body } = answer else {
        return Err(format!("expected an error answer, got {answer:?}").into());
    };
    assert_eq!(error_type, "sfn_callback.Permanent");
    assert!(body.contains("InvalidToken"), "{body}");
    assert!(
        !body.contains("unknown-token-for-this-peer"),
        "the token is not echoed: {body}"
    );
    Ok(())
}
