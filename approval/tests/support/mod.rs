//! Test support of the approval crate's replay tests: the core's Step
//! Functions double (one place for both crates), and link keys that can no
//! longer be trusted.

#![allow(dead_code, unused_imports, reason = "each test file uses its own part")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::time::{Duration, SystemTime};

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use aws_smithy_types::body::SdkBody;
use lambda_runtime::Diagnostic;
use serde_json::Value;
use sfn_callback::{Class, Classify};
use sfn_callback_approval::link::store::STALE_GRACE;
use sfn_callback_approval::link::{KeyStore, LinkKeys};
use sfn_callback_approval::notify::{NotifierResponse, NotifyError};

/// The core's replay support: the Step Functions double, its answers and what
/// it was sent.
pub use sfn_callback_test_support as sfn;

/// The Secrets Manager double of the key modules' unit tests.
#[path = "../../src/link/test_secrets_manager.rs"]
pub mod secrets_manager;

/// `keys`, read from the secret longer ago than the refresh interval and the
/// grace together, with Secrets Manager failing every read since: a request
/// gets `KeysUnavailable`.
pub fn untrusted_key_store(keys: LinkKeys) -> KeyStore {
    let failing = (0..4)
        .map(|_| {
            secrets_manager::answer(
                500,
                r#"{"__type": "InternalServiceError", "message": "replayed"}"#,
            )
        })
        .collect();
    let client = secrets_manager::client(&StaticReplayClient::new(failing));
    let refresh = Duration::from_mins(5);
    let read_at = SystemTime::now() - refresh - STALE_GRACE - Duration::from_mins(1);
    KeyStore::from_secret(client, "links".to_owned(), keys, read_at, refresh)
}

/// SES's answer to one email: `status` with `body`, and the error type
/// header `error_type` when there is one.
pub fn ses_answer(status: u16, body: &str, error_type: Option<&str>) -> ReplayEvent {
    let mut response = http::Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(error_type) = error_type {
        response = response.header("x-amzn-errortype", error_type);
    }
    ReplayEvent::new(
        http::Request::builder()
            .uri("https://email.us-east-1.amazonaws.com/v2/email/outbound-emails")
            .body(SdkBody::empty())
            .unwrap(),
        response.body(SdkBody::from(body.to_owned())).unwrap(),
    )
}

/// What SES was asked to send, in order.
pub fn sent_emails(replay: &StaticReplayClient) -> Vec<Value> {
    replay
        .actual_requests()
        .map(|request| serde_json::from_slice(request.body().bytes().unwrap()).unwrap())
        .collect()
}

/// The notifier's answer, which must be one, as JSON.
pub fn answer_json(answer: Result<NotifierResponse, NotifyError>) -> Value {
    serde_json::to_value(answer.unwrap()).unwrap()
}

/// An SNS event of `message` from the approvals topic.
pub fn approvals_sns_event(message: &str) -> Value {
    sfn::sns_event("arn:aws:sns:us-east-1:123456789012:approvals", message)
}

/// Checks that `err` is retried, and that Lambda reports it as the email
/// being unavailable.
#[track_caller]
pub fn assert_transient_and_unavailable(err: NotifyError) {
    assert_eq!(err.class(), Class::Transient);
    assert_eq!(Diagnostic::from(err).error_type, "ApprovalEmailUnavailable");
}

/// The DynamoDB double of recorded mode's replay tests.
pub mod table;
