//! The `approval-notifier` handler over the real aws-sdk-sesv2 client on
//! replayed HTTP exchanges: what each trigger's shape gets, what the email
//! carries, and how every answer SES can give is classified.

// clippy.toml allows unwrap and expect in `#[test]` functions only; the helpers
// here are test code too, and a panic in them is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use sfn_callback::{Class, Classify};
use sfn_callback_approval::link::{self, Action, LinkKey, LinkKeys};
use sfn_callback_approval::notify::{
    ApprovalNotifier, NotifierSettings, NotifyError, RequestError, Trigger, detect,
};
use sfn_callback_approval::now_unix;

mod support;

use support::{answer_json, approvals_sns_event, assert_transient_and_unavailable, sent_emails};

const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";
const BASE_URL: &str = "https://approve.example/";

fn keys() -> LinkKeys {
    LinkKeys::single(LinkKey::new([3; 32]))
}

fn request_json() -> Value {
    json!({
        "taskToken": TOKEN,
        "to": ["approver@example.com", "backup@example.com"],
        "subject": "Approve deploy 42",
        "summary": "Release 1.4.2",
        "details": {"build": 42},
        "expiresInSeconds": 3600
    })
}

fn sent_ok() -> ReplayEvent {
    support::ses_answer(200, r#"{"MessageId": "msg-1"}"#, None)
}

fn refused(status: u16, code: &str) -> ReplayEvent {
    support::ses_answer(
        status,
        &json!({"message": "replayed"}).to_string(),
        Some(code),
    )
}

/// The error a direct request ends in when SES answers with this refusal.
async fn refusal_error(status: u16, code: &str) -> NotifyError {
    let replay = StaticReplayClient::new(vec![refused(status, code)]);
    notifier(&replay)
        .handle(invoke(request_json()))
        .await
        .unwrap_err()
}

fn ses_client(replay: &StaticReplayClient) -> aws_sdk_sesv2::Client {
    aws_sdk_sesv2::Client::new(&support::sfn::replay_sdk_config(replay.clone()))
}

fn settings() -> NotifierSettings {
    NotifierSettings {
        sender_email: "approvals@example.com".into(),
        base_url: BASE_URL.into(),
    }
}

fn notifier(replay: &StaticReplayClient) -> ApprovalNotifier {
    ApprovalNotifier::new(ses_client(replay), keys(), settings())
}

fn invoke(payload: Value) -> LambdaEvent<Value> {
    LambdaEvent::new(payload, Context::default())
}

fn sqs_event(bodies: &[String]) -> Value {
    let queue = "arn:aws:sqs:us-east-1:123456789012:approvals";
    support::sfn::sqs_event(bodies, queue, |i| format!("m{i}"))
}

/// The one email SES was asked to send for a direct request of `payload`.
async fn sent_email(payload: Value) -> Value {
    let replay = StaticReplayClient::new(vec![sent_ok()]);
    notifier(&replay).handle(invoke(payload)).await.unwrap();
    sent_emails(&replay).remove(0)
}

/// The sealed link behind a button, from the sent email's HTML.
fn link_in(html: &str, label: &str) -> String {
    let end = html.find(&format!(">{label}</a>")).unwrap();
    let start = html[..end].rfind("?l=").unwrap() + 3;
    let rest = &html[start..end];
    rest[..rest.find('"').unwrap()].to_owned()
}

#[tokio::test]
async fn direct_invoke_sends_one_email_from_the_sender_to_every_approver() {
    let replay = StaticReplayClient::new(vec![sent_ok()]);

    let answer = answer_json(notifier(&replay).handle(invoke(request_json())).await);

    assert_eq!(answer["messageId"], "msg-1");
    assert!(answer["expiresAt"].as_str().unwrap().ends_with('Z'));
    let sent = sent_emails(&replay);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["FromEmailAddress"], "approvals@example.com");
    assert_eq!(
        sent[0]["Destination"]["ToAddresses"],
        json!(["approver@example.com", "backup@example.com"])
    );
    assert_eq!(
        sent[0]["Content"]["Simple"]["Subject"]["Data"],
        "Approve deploy 42"
    );
}

#[tokio::test]
async fn email_has_html_and_text_parts_with_both_links() {
    let email = sent_email(request_json()).await;
    let body = &email["Content"]["Simple"]["Body"];
    let html = body["Html"]["Data"].as_str().unwrap();
    let text = body["Text"]["Data"].as_str().unwrap();
    for label in ["Approve", "Reject"] {
        let sealed = link_in(html, label);
        assert!(text.contains(&format!("{BASE_URL}?l={sealed}")), "{text}");
    }
}

#[tokio::test]
async fn each_button_carries_the_token_sealed_with_its_action() {
    let email = sent_email(request_json()).await;
    let html = email["Content"]["Simple"]["Body"]["Html"]["Data"]
        .as_str()
        .unwrap();
    assert!(!html.contains(TOKEN));
    for (label, action) in [("Approve", Action::Approve), ("Reject", Action::Reject)] {
        let opened = link::open(&keys(), &link_in(html, label), now_unix()).unwrap();
        assert_eq!(opened.token.expose(), TOKEN);
        assert_eq!(opened.action, action);
        assert_eq!(opened.subject.as_deref(), Some("Approve deploy 42"));
        let lifetime = opened.expires_at - now_unix();
        assert!((3_590..=3_600).contains(&lifetime), "{lifetime}");
    }
}

#[tokio::test]
async fn format_characters_reach_neither_the_email_nor_the_sealed_links() {
    let mut payload = request_json();
    payload["subject"] = json!("Approve \u{202E}deploy 42\u{200B}");
    payload["summary"] = json!("Release\u{2067} 1.4.2\u{FEFF}");

    let email = sent_email(payload).await;
    let content = &email["Content"]["Simple"];
    let html = content["Body"]["Html"]["Data"].as_str().unwrap();
    let mut shown = vec![
        content["Subject"]["Data"].as_str().unwrap().to_owned(),
        html.to_owned(),
        content["Body"]["Text"]["Data"].as_str().unwrap().to_owned(),
    ];
    for label in ["Approve", "Reject"] {
        let opened = link::open(&keys(), &link_in(html, label), now_unix()).unwrap();
        shown.extend(opened.subject);
        shown.extend(opened.summary);
    }
    assert_eq!(shown[0], "Approve deploy 42");
    assert_eq!(shown.len(), 7);
    for text in &shown {
        for format in ['\u{202E}', '\u{200B}', '\u{2067}', '\u{FEFF}'] {
            assert!(!text.contains(format), "{format:?} in {text}");
        }
    }
}

#[tokio::test]
async fn stateless_mode_ignores_requested_by_and_a_quorum_of_one() {
    let replay = StaticReplayClient::new(vec![sent_ok()]);
    let mut payload = request_json();
    payload["quorum"] = json!(1);
    payload["requestedBy"] = json!(42);

    let answer = answer_json(notifier(&replay).handle(invoke(payload)).await);

    assert_eq!(answer["messageId"], "msg-1");
    assert_eq!(replay.actual_requests().count(), 1);
}

#[tokio::test]
async fn stateless_mode_refuses_a_quorum_it_cannot_count_and_sends_nothing() {
    for quorum in [json!(2), json!("two"), json!(0)] {
        let replay = StaticReplayClient::new(vec![sent_ok()]);
        let mut payload = request_json();
        payload["quorum"] = quorum.clone();

        let err = notifier(&replay).handle(invoke(payload)).await.unwrap_err();

        assert_eq!(
            err,
            NotifyError::InvalidRequest(RequestError::QuorumNeedsRecordedMode),
            "{quorum}"
        );
        assert_eq!(Diagnostic::from(err).error_type, "InvalidApprovalRequest");
        assert_eq!(replay.actual_requests().count(), 0, "{quorum}");
    }
}

#[tokio::test]
async fn bad_direct_request_is_an_invalid_approval_request_error_and_sends_nothing() {
    let replay = StaticReplayClient::new(vec![sent_ok()]);
    let mut payload = request_json();
    payload["to"] = json!([]);

    let err = notifier(&replay).handle(invoke(payload)).await.unwrap_err();

    assert_eq!(err, NotifyError::InvalidRequest(RequestError::NoRecipients));
    let diagnostic = Diagnostic::from(err);
    assert_eq!(diagnostic.error_type, "InvalidApprovalRequest");
    assert!(diagnostic.error_message.contains("to is missing or empty"));
    assert_eq!(replay.actual_requests().count(), 0);
}

#[tokio::test]
async fn sqs_batch_sends_good_requests_and_fails_only_the_bad_ones() {
    let replay = StaticReplayClient::new(vec![sent_ok(), sent_ok()]);
    let event = sqs_event(&[
        request_json().to_string(),
        "{\"to\": []}".to_owned(),
        request_json().to_string(),
    ]);

    let answer = answer_json(notifier(&replay).handle(invoke(event)).await);

    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m1"}]})
    );
    assert_eq!(replay.actual_requests().count(), 2);
}

#[tokio::test]
async fn sqs_record_throttled_by_ses_is_returned_for_retry() {
    let replay = StaticReplayClient::new(vec![refused(429, "TooManyRequestsException")]);
    let event = sqs_event(&[request_json().to_string()]);

    let answer = answer_json(notifier(&replay).handle(invoke(event)).await);

    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "m0"}]})
    );
}

#[tokio::test]
async fn sqs_record_carrying_an_sns_notification_is_unwrapped() {
    let replay = StaticReplayClient::new(vec![sent_ok()]);
    let notification = json!({
        "Type": "Notification",
        "MessageId": "n-1",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:approvals",
        "Message": request_json().to_string(),
        "Timestamp": "2025-06-15T15:06:40.000Z",
    });
    let event = sqs_event(&[notification.to_string()]);

    let answer = answer_json(notifier(&replay).handle(invoke(event)).await);

    assert_eq!(answer, json!({"batchItemFailures": []}));
    assert_eq!(replay.actual_requests().count(), 1);
}

#[tokio::test]
async fn sns_message_is_sent() {
    let replay = StaticReplayClient::new(vec![sent_ok()]);
    let event = approvals_sns_event(&request_json().to_string());

    let answer = answer_json(notifier(&replay).handle(invoke(event)).await);

    assert_eq!(answer, json!({"emailsSent": 1}));
    assert_eq!(replay.actual_requests().count(), 1);
}

#[tokio::test]
async fn bad_sns_message_is_an_error_for_lambda_to_retry_and_route() {
    let replay = StaticReplayClient::new(vec![sent_ok()]);
    let event = approvals_sns_event("not json");

    let err = notifier(&replay).handle(invoke(event)).await.unwrap_err();

    assert!(matches!(err, NotifyError::InvalidRequest(_)), "{err:?}");
    assert_eq!(replay.actual_requests().count(), 0);
}

#[tokio::test]
async fn link_keys_too_old_to_trust_are_a_transient_failure_and_send_nothing() {
    let ses = StaticReplayClient::new(vec![sent_ok()]);
    let keys = support::untrusted_key_store(keys());
    let notifier = ApprovalNotifier::with_key_store(ses_client(&ses), keys, settings(), 10);

    let err = notifier.handle(invoke(request_json())).await.unwrap_err();

    assert!(matches!(err, NotifyError::KeysUnavailable(_)), "{err:?}");
    assert_transient_and_unavailable(err);
    assert_eq!(ses.actual_requests().count(), 0);
}

#[tokio::test]
async fn ses_throttling_is_transient() {
    assert_transient_and_unavailable(refusal_error(429, "TooManyRequestsException").await);
}

#[tokio::test]
async fn ses_server_error_is_transient() {
    assert_transient_and_unavailable(refusal_error(500, "InternalFailure").await);
}

#[tokio::test]
async fn ses_sending_quota_exceeded_is_transient() {
    assert_transient_and_unavailable(refusal_error(400, "LimitExceededException").await);
}

#[tokio::test]
async fn ses_message_rejected_is_permanent() {
    let err = refusal_error(400, "MessageRejected").await;

    assert_eq!(
        err,
        NotifyError::EmailRefused {
            code: "MessageRejected".into()
        }
    );
    assert_eq!(err.class(), Class::Permanent);
    assert_eq!(Diagnostic::from(err).error_type, "ApprovalEmailRefused");
}

#[test]
fn event_without_records_is_a_direct_request() {
    assert!(matches!(
        detect(json!({"taskToken": "t"})),
        Ok(Trigger::Direct(_))
    ));
}

#[test]
fn sqs_and_sns_events_are_told_apart_by_their_source() {
    assert!(matches!(
        detect(sqs_event(&["x".into()])),
        Ok(Trigger::Sqs(_))
    ));
    assert!(matches!(
        detect(approvals_sns_event("x")),
        Ok(Trigger::Sns(_))
    ));
}
