//! `sns-callback`'s handler over a scripted Step Functions: duplicates are
//! acknowledged, and failures name their class in the Lambda error type.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::json;
use sfn_callback::SnsCallback;
use sfn_callback::outcome::Class;
use sfn_callback::respond::{PERMANENT_ERROR_TYPE, TRANSIENT_ERROR_TYPE};
use support::{SUCCESS, ScriptedSfn, TOKEN};

fn event(message: &str) -> LambdaEvent<SnsEvent> {
    let record = json!({"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:t:s",
        "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:123456789012:t", "Message": message,
                "Timestamp": "2026-11-21T00:00:00.000Z", "SignatureVersion": "1", "Signature": "x",
                "SigningCertUrl": "https://example.invalid/c.pem", "UnsubscribeUrl": "https://example.invalid/u", "MessageAttributes": {}}});
    let payload: SnsEvent =
        serde_json::from_value(json!({"Records": [record]})).expect("a valid SNS event");
    let mut context = Context::default();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    context.deadline =
        u64::try_from((now + Duration::from_mins(1)).as_millis()).expect("millis fit");
    LambdaEvent::new(payload, context)
}

fn callback() -> String {
    json!({"taskToken": TOKEN, "output": {"ok": true}}).to_string()
}

#[tokio::test]
async fn duplicate_delivery_of_a_completed_callback_is_acknowledged_not_failed() {
    let sfn = ScriptedSfn::default();
    let function = SnsCallback::new(sfn.client(&[(SUCCESS, 400, r#"{"__type":"TaskTimedOut"}"#)]));

    let result = function.handle(event(&callback())).await;

    assert_eq!(result, Ok(()));
    assert_eq!(sfn.count(SUCCESS), 1);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_a_transient_lambda_error() {
    let sfn = ScriptedSfn::default();
    let function =
        SnsCallback::new(sfn.client(&[(SUCCESS, 400, r#"{"__type":"ThrottlingException"}"#)]));

    let err = function.handle(event(&callback())).await.unwrap_err();

    assert_eq!(err.class, Class::Transient);
    assert_eq!(Diagnostic::from(err).error_type, TRANSIENT_ERROR_TYPE);
}

#[tokio::test]
async fn invalid_message_is_a_permanent_lambda_error_and_calls_nothing() {
    let sfn = ScriptedSfn::default();
    let function = SnsCallback::new(sfn.client(&[]));

    let err = function.handle(event("not json")).await.unwrap_err();

    assert_eq!(Diagnostic::from(err).error_type, PERMANENT_ERROR_TYPE);
    assert_eq!(sfn.count(SUCCESS), 0);
}
