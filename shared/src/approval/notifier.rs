//! The `approval-notifier` function: takes an approval request, seals an
//! Approve and a Reject link for its token, and sends one email through SES v2.
//!
//! The request arrives in one of three shapes, told apart by the JSON itself:
//! - an SQS event (`Records[0].eventSource == "aws:sqs"`): every record's body is
//!   a request (or an SNS notification carrying one); bad requests go to the
//!   DLQ through the partial batch response;
//! - an SNS event (`Records[0].EventSource == "aws:sns"`): the record's `Message`
//!   is the request; a failure is returned as an error, so Lambda retries it
//!   and then hands it to the function's failure destination;
//! - anything else is the request itself (a direct invoke, as from
//!   `arn:aws:states:::lambda:invoke.waitForTaskToken`); a failure is returned
//!   as an error whose `errorType` names it, which the state machine can catch.

use std::sync::Arc;

use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde::Serialize;
use serde_json::Value;

use super::email::{self, ButtonLinks, Email};
use super::key_store::{KeyStore, KeysUnavailable};
use super::keys::{KeySource, LinkKeys};
use super::link::{self, Action, LinkData, SealError};
use super::request::{self, ApprovalRequest, RequestError};
use super::settings::NotifierSettings;
use super::{now_unix, rfc3339};
use crate::aws::ClientOnFirstUse;
use crate::batch::{Handled, process_sqs_batch};
use crate::config::Config;
use crate::envelope::sqs_callback_text;
use crate::outcome::{CallbackError, Class, Done};

/// SES error codes after which trying again later may work.
const SES_TRANSIENT: &[&str] = &[
    "TooManyRequestsException",
    "LimitExceededException",
    "Throttling",
    "ThrottlingException",
    "ServiceUnavailable",
    "InternalFailure",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Why an approval email was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid approval request: {0}")]
    InvalidRequest(#[from] RequestError),
    #[error("the {trigger} event could not be read: {reason}")]
    InvalidEvent {
        trigger: &'static str,
        reason: String,
    },
    #[error("the approval links could not be sealed: {0}")]
    Seal(#[from] SealError),
    #[error("the approval links could not be sealed: {0}")]
    KeysUnavailable(#[from] KeysUnavailable),
    #[error("the email could not be built: {reason}")]
    EmailNotBuilt { reason: String },
    #[error("SES refused the email ({code})")]
    EmailRefused { code: String },
    #[error("SES is busy or could not be reached ({reason})")]
    EmailUnavailable { reason: String },
}

impl NotifyError {
    /// The single classification: retry (transient) or give up (permanent).
    pub fn class(&self) -> Class {
        match self {
            Self::InvalidRequest(_)
            | Self::InvalidEvent { .. }
            | Self::EmailNotBuilt { .. }
            | Self::EmailRefused { .. } => Class::Permanent,
            // The OS RNG or Secrets Manager failing is not the request's fault.
            Self::Seal(_) | Self::KeysUnavailable(_) | Self::EmailUnavailable { .. } => {
                Class::Transient
            }
        }
    }

    /// The Lambda `errorType`, which a state machine's `Catch` or `Retry` names.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::InvalidEvent { .. } => "InvalidApprovalRequest",
            Self::EmailNotBuilt { .. } | Self::EmailRefused { .. } => "ApprovalEmailRefused",
            Self::Seal(_) | Self::KeysUnavailable(_) | Self::EmailUnavailable { .. } => {
                "ApprovalEmailUnavailable"
            }
        }
    }
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        Self {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// For the SQS batch driver, which decides redelivery by [`CallbackError`]'s
/// class. Its messages speak of Step Functions, so the notifier logs its own
/// line with the real reason first.
impl From<NotifyError> for CallbackError {
    fn from(err: NotifyError) -> Self {
        let reason = err.to_string();
        match err.class() {
            Class::Transient => Self::ServiceUnavailable {
                service: "approval-notifier",
                reason,
            },
            Class::Permanent | Class::Done => Self::ServiceRefused {
                service: "approval-notifier",
                reason,
            },
        }
    }
}

/// An email that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// SES's id for the message.
    pub message_id: Option<String>,
    /// Unix seconds; the links work until then.
    pub expires_at: u64,
}

/// What the function answers, by trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum NotifierResponse {
    /// SQS: the records to retry or dead-letter.
    Batch(SqsBatchResponse),
    /// Direct invoke: `{"messageId": "...", "expiresAt": "<RFC 3339>"}`.
    #[serde(rename_all = "camelCase")]
    Sent {
        message_id: Option<String>,
        expires_at: String,
    },
    /// SNS: `{"emailsSent": 1}`.
    #[serde(rename_all = "camelCase")]
    Published { emails_sent: usize },
}

/// The shapes a notifier invocation can take.
#[derive(Debug)]
pub enum Trigger {
    Sqs(SqsEvent),
    Sns(SnsEvent),
    Direct(Value),
}

/// Tells the trigger from the event's own JSON.
pub fn detect(event: Value) -> Result<Trigger, NotifyError> {
    let first = event.get("Records").and_then(|records| records.get(0));
    let source = |field: &str| {
        first
            .and_then(|record| record.get(field))
            .and_then(Value::as_str)
    };
    if source("eventSource") == Some("aws:sqs") {
        return serde_json::from_value(event)
            .map(Trigger::Sqs)
            .map_err(|err| invalid_event("SQS", &err));
    }
    if source("EventSource") == Some("aws:sns") {
        return serde_json::from_value(event)
            .map(Trigger::Sns)
            .map_err(|err| invalid_event("SNS", &err));
    }
    Ok(Trigger::Direct(event))
}

fn invalid_event(trigger: &'static str, err: &serde_json::Error) -> NotifyError {
    // Position only: the event holds the request, token included.
    NotifyError::InvalidEvent {
        trigger,
        reason: format!(
            "unexpected shape at line {} column {}",
            err.line(),
            err.column()
        ),
    }
}

/// What the function builds once at cold start and borrows on every invocation.
#[derive(Debug, Clone)]
pub struct ApprovalNotifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ses: ClientOnFirstUse<aws_sdk_sesv2::Client>,
    keys: KeyStore,
    settings: NotifierSettings,
    max_concurrency: usize,
}

impl ApprovalNotifier {
    pub fn new(ses: aws_sdk_sesv2::Client, keys: LinkKeys, settings: NotifierSettings) -> Self {
        Self::with_max_concurrency(ses, keys, settings, 10)
    }

    /// As [`ApprovalNotifier::new`], sending at most `max_concurrency` emails
    /// of one SQS batch at once.
    pub fn with_max_concurrency(
        ses: aws_sdk_sesv2::Client,
        keys: LinkKeys,
        settings: NotifierSettings,
        max_concurrency: usize,
    ) -> Self {
        Self::build(
            ClientOnFirstUse::ready(ses),
            KeyStore::fixed(keys),
            settings,
            max_concurrency,
        )
    }

    fn build(
        ses: ClientOnFirstUse<aws_sdk_sesv2::Client>,
        keys: KeyStore,
        settings: NotifierSettings,
        max_concurrency: usize,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ses,
                keys,
                settings,
                max_concurrency,
            }),
        }
    }

    /// Reads the settings (`SENDER_EMAIL`, `APPROVAL_BASE_URL`,
    /// `LINK_KEY_SECRET_ARN` and `LINK_KEY_REFRESH_SECONDS` or `LINK_KEY`,
    /// `MAX_CONCURRENCY`), loads the keys and prepares the SES client (built
    /// on the first email: see [`ClientOnFirstUse`]).
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let settings = NotifierSettings::from_env()?;
        let config = Config::from_env()?;
        let key_source = KeySource::from_env()?;
        let sdk_config = crate::aws::sdk_config().await;
        let keys = key_source.into_store(&sdk_config).await?;
        let ses = ClientOnFirstUse::new(move || aws_sdk_sesv2::Client::new(&sdk_config));
        Ok(Self::build(ses, keys, settings, config.max_concurrency))
    }

    /// Handles one invocation of any shape (see the module docs).
    pub async fn handle(&self, event: LambdaEvent<Value>) -> Result<NotifierResponse, NotifyError> {
        match detect(event.payload)? {
            Trigger::Sqs(event) => Ok(NotifierResponse::Batch(self.handle_sqs(event).await)),
            Trigger::Sns(event) => {
                let mut emails_sent = 0;
                for record in &event.records {
                    let request = request::parse(&record.sns.message)
                        .map_err(NotifyError::from)
                        .inspect_err(|err| log_failure(None, err))?;
                    self.send(&request).await?;
                    emails_sent += 1;
                }
                Ok(NotifierResponse::Published { emails_sent })
            }
            Trigger::Direct(payload) => {
                let request = request::from_value(payload)
                    .map_err(NotifyError::from)
                    .inspect_err(|err| log_failure(None, err))?;
                let sent = self.send(&request).await?;
                Ok(NotifierResponse::Sent {
                    message_id: sent.message_id,
                    expires_at: rfc3339(sent.expires_at),
                })
            }
        }
    }

    /// Sends one email per record; the response lists the records to retry or
    /// dead-letter.
    pub async fn handle_sqs(&self, event: SqsEvent) -> SqsBatchResponse {
        let notifier = self.clone();
        let handler = move |record: SqsMessage| {
            let notifier = notifier.clone();
            async move { notifier.handle_record(&record).await }
        };
        process_sqs_batch(event.records, self.inner.max_concurrency, handler).await
    }

    async fn handle_record(&self, record: &SqsMessage) -> Handled {
        let text = match sqs_callback_text(record) {
            Ok(text) => text,
            Err(err) => return Handled::new(None, Err(err.into())),
        };
        let request = match request::parse(&text) {
            Ok(request) => request,
            Err(err) => {
                let err = NotifyError::from(err);
                log_failure(None, &err);
                return Handled::new(None, Err(err.into()));
            }
        };
        let token = Some(request.token.fingerprint());
        match self.send(&request).await {
            Ok(_) => Handled::new(token, Ok(Done::Completed)),
            Err(err) => Handled::new(token, Err(err.into())),
        }
    }

    /// Seals the links and sends the email for a valid request.
    pub async fn send(&self, request: &ApprovalRequest) -> Result<Sent, NotifyError> {
        let expires_at = now_unix().saturating_add(request.expires_in_seconds);
        let result = match self.prepare(request, expires_at).await {
            Ok(email) => self.send_email(&request.to, &email).await,
            Err(err) => Err(err),
        };
        match result {
            Ok(message_id) => {
                tracing::info!(
                    token = %request.token,
                    recipients = request.to.len(),
                    message_id = message_id.as_deref(),
                    expires_at = %rfc3339(expires_at),
                    "approval email sent"
                );
                Ok(Sent {
                    message_id,
                    expires_at,
                })
            }
            Err(err) => {
                log_failure(Some(request), &err);
                Err(err)
            }
        }
    }

    /// The email for `request`, its links sealed with the current key to
    /// expire at `expires_at`.
    pub async fn prepare(
        &self,
        request: &ApprovalRequest,
        expires_at: u64,
    ) -> Result<Email, NotifyError> {
        let keys = self.inner.keys.keys().await?;
        let sealed = |action| {
            link::seal(
                &keys,
                &LinkData {
                    token: request.token.clone(),
                    action,
                    expires_at,
                    subject: Some(request.subject.clone()),
                    summary: request.summary.clone(),
                },
            )
        };
        let base_url = &self.inner.settings.base_url;
        let links = ButtonLinks {
            approve: email::link_url(base_url, &sealed(Action::Approve)?),
            reject: email::link_url(base_url, &sealed(Action::Reject)?),
        };
        Ok(email::render(request, &links, expires_at))
    }

    async fn send_email(
        &self,
        to: &[String],
        email: &Email,
    ) -> Result<Option<String>, NotifyError> {
        let content = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|err| NotifyError::EmailNotBuilt {
                    reason: err.to_string(),
                })
        };
        let message = Message::builder()
            .subject(content(&email.subject)?)
            .body(
                Body::builder()
                    .html(content(&email.html)?)
                    .text(content(&email.text)?)
                    .build(),
            )
            .build();
        let answer = self
            .inner
            .ses
            .get()
            .send_email()
            .from_email_address(&self.inner.settings.sender_email)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(to.to_vec()))
                    .build(),
            )
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await
            .map_err(|err| classify_ses_error(&err))?;
        Ok(answer.message_id().map(str::to_owned))
    }
}

/// Classifies a failed SES call: throttling, quotas and 5xx are transient;
/// every other refusal is permanent.
pub fn classify_ses_error<E: ProvideErrorMetadata>(
    err: &SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> NotifyError {
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            if status >= 500 || status == 429 || SES_TRANSIENT.contains(&code.as_str()) {
                NotifyError::EmailUnavailable { reason: code }
            } else {
                NotifyError::EmailRefused { code }
            }
        }
        SdkError::ConstructionFailure(_) => NotifyError::EmailNotBuilt {
            reason: "the SDK refused to build the request".to_owned(),
        },
        SdkError::TimeoutError(_) => NotifyError::EmailUnavailable {
            reason: "the call timed out".to_owned(),
        },
        _ => NotifyError::EmailUnavailable {
            reason: "no answer".to_owned(),
        },
    }
}

fn log_failure(request: Option<&ApprovalRequest>, err: &NotifyError) {
    tracing::warn!(
        token = request.map(|request| tracing::field::display(&request.token)),
        outcome = ?err.class(),
        error_type = err.error_type(),
        error = %err,
        "approval email not sent"
    );
}

#[cfg(test)]
mod tests {
    use aws_sdk_sesv2::config::retry::RetryConfig;
    use aws_sdk_sesv2::config::{BehaviorVersion, Credentials, Region};
    use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient};
    use aws_smithy_types::body::SdkBody;
    use lambda_runtime::Context;

    use serde_json::json;

    use super::*;
    use crate::approval::keys::LinkKey;

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

    fn ses_answer(status: u16, body: &str, error_type: Option<&str>) -> ReplayEvent {
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

    fn sent_ok() -> ReplayEvent {
        ses_answer(200, r#"{"MessageId": "msg-1"}"#, None)
    }

    fn refused(status: u16, code: &str) -> ReplayEvent {
        ses_answer(
            status,
            &json!({"message": "replayed"}).to_string(),
            Some(code),
        )
    }

    fn ses_client(replay: &StaticReplayClient) -> aws_sdk_sesv2::Client {
        let config = aws_sdk_sesv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .retry_config(RetryConfig::disabled())
            .http_client(replay.clone())
            .build();
        aws_sdk_sesv2::Client::from_conf(config)
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

    fn answer_json(answer: Result<NotifierResponse, NotifyError>) -> Value {
        serde_json::to_value(answer.unwrap()).unwrap()
    }

    fn sent_bodies(replay: &StaticReplayClient) -> Vec<Value> {
        replay
            .actual_requests()
            .map(|request| serde_json::from_slice(request.body().bytes().unwrap()).unwrap())
            .collect()
    }

    fn sqs_event(bodies: &[String]) -> Value {
        let records: Vec<Value> = bodies
            .iter()
            .enumerate()
            .map(|(i, body)| {
                json!({
                    "messageId": format!("m{i}"),
                    "receiptHandle": "handle",
                    "body": body,
                    "attributes": {"ApproximateReceiveCount": "1"},
                    "messageAttributes": {},
                    "eventSource": "aws:sqs",
                    "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:approvals",
                    "awsRegion": "us-east-1"
                })
            })
            .collect();
        json!({ "Records": records })
    }

    fn sns_event(message: &str) -> Value {
        json!({"Records": [{
            "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:approvals:sub",
            "EventSource": "aws:sns",
            "Sns": {
                "Type": "Notification",
                "MessageId": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:approvals",
                "Subject": null,
                "Message": message,
                "Timestamp": "2025-06-15T15:06:40.000Z",
                "SignatureVersion": "1",
                "Signature": "c2lnbmF0dXJl",
                "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
                "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                "MessageAttributes": {}
            }
        }]})
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
        let sent = sent_bodies(&replay);
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
        let replay = StaticReplayClient::new(vec![sent_ok()]);

        notifier(&replay)
            .handle(invoke(request_json()))
            .await
            .unwrap();

        let sent = sent_bodies(&replay);
        let body = &sent[0]["Content"]["Simple"]["Body"];
        let html = body["Html"]["Data"].as_str().unwrap();
        let text = body["Text"]["Data"].as_str().unwrap();
        for label in ["Approve", "Reject"] {
            let sealed = link_in(html, label);
            assert!(text.contains(&format!("{BASE_URL}?l={sealed}")), "{text}");
        }
    }

    #[tokio::test]
    async fn each_button_carries_the_token_sealed_with_its_action() {
        let replay = StaticReplayClient::new(vec![sent_ok()]);

        notifier(&replay)
            .handle(invoke(request_json()))
            .await
            .unwrap();

        let sent = sent_bodies(&replay);
        let html = sent[0]["Content"]["Simple"]["Body"]["Html"]["Data"]
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
        let replay = StaticReplayClient::new(vec![sent_ok()]);
        let mut payload = request_json();
        payload["subject"] = json!("Approve \u{202E}deploy 42\u{200B}");
        payload["summary"] = json!("Release\u{2067} 1.4.2\u{FEFF}");

        notifier(&replay).handle(invoke(payload)).await.unwrap();

        let sent = sent_bodies(&replay);
        let content = &sent[0]["Content"]["Simple"];
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
        let event = sns_event(&request_json().to_string());

        let answer = answer_json(notifier(&replay).handle(invoke(event)).await);

        assert_eq!(answer, json!({"emailsSent": 1}));
        assert_eq!(replay.actual_requests().count(), 1);
    }

    #[tokio::test]
    async fn bad_sns_message_is_an_error_for_lambda_to_retry_and_route() {
        let replay = StaticReplayClient::new(vec![sent_ok()]);
        let event = sns_event("not json");

        let err = notifier(&replay).handle(invoke(event)).await.unwrap_err();

        assert!(matches!(err, NotifyError::InvalidRequest(_)), "{err:?}");
        assert_eq!(replay.actual_requests().count(), 0);
    }

    #[tokio::test]
    async fn link_keys_too_old_to_trust_are_a_transient_failure_and_send_nothing() {
        let ses = StaticReplayClient::new(vec![sent_ok()]);
        let secrets = StaticReplayClient::new(vec![ReplayEvent::new(
            http::Request::builder()
                .uri("https://secretsmanager.us-east-1.amazonaws.com/")
                .body(SdkBody::empty())
                .unwrap(),
            http::Response::builder()
                .status(500)
                .header("content-type", "application/x-amz-json-1.1")
                .body(SdkBody::from(r#"{"__type": "InternalServiceError"}"#))
                .unwrap(),
        )]);
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
            .retry_config(aws_sdk_secretsmanager::config::retry::RetryConfig::disabled())
            .http_client(secrets)
            .build();
        let read_at = std::time::SystemTime::now() - std::time::Duration::from_hours(1);
        let keys = KeyStore::from_secret(
            aws_sdk_secretsmanager::Client::from_conf(config),
            "links".into(),
            self::keys(),
            read_at,
            std::time::Duration::from_mins(5),
        );
        let notifier = ApprovalNotifier::build(
            ClientOnFirstUse::ready(ses_client(&ses)),
            keys,
            settings(),
            10,
        );

        let err = notifier.handle(invoke(request_json())).await.unwrap_err();

        assert!(matches!(err, NotifyError::KeysUnavailable(_)), "{err:?}");
        assert_eq!(err.class(), Class::Transient);
        assert_eq!(Diagnostic::from(err).error_type, "ApprovalEmailUnavailable");
        assert_eq!(ses.actual_requests().count(), 0);
    }

    #[tokio::test]
    async fn ses_throttling_is_transient() {
        let replay = StaticReplayClient::new(vec![refused(429, "TooManyRequestsException")]);

        let err = notifier(&replay)
            .handle(invoke(request_json()))
            .await
            .unwrap_err();

        assert_eq!(err.class(), Class::Transient);
        assert_eq!(Diagnostic::from(err).error_type, "ApprovalEmailUnavailable");
    }

    #[tokio::test]
    async fn ses_server_error_is_transient() {
        let replay = StaticReplayClient::new(vec![refused(500, "InternalFailure")]);

        let err = notifier(&replay)
            .handle(invoke(request_json()))
            .await
            .unwrap_err();

        assert_eq!(err.class(), Class::Transient);
    }

    #[tokio::test]
    async fn ses_message_rejected_is_permanent() {
        let replay = StaticReplayClient::new(vec![refused(400, "MessageRejected")]);

        let err = notifier(&replay)
            .handle(invoke(request_json()))
            .await
            .unwrap_err();

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
        assert!(matches!(detect(sns_event("x")), Ok(Trigger::Sns(_))));
    }

    #[test]
    fn transient_notify_error_is_retried_by_the_batch_driver() {
        let err = NotifyError::EmailUnavailable {
            reason: "TooManyRequestsException".into(),
        };
        assert_eq!(CallbackError::from(err).class(), Class::Transient);
        let err = NotifyError::InvalidRequest(RequestError::MissingToken);
        assert_eq!(CallbackError::from(err).class(), Class::Permanent);
    }
}
