//! Test support shared by the replay tests of the core and the approval
//! crate: a real aws-sdk-sfn client whose HTTP layer is a test double, the
//! answers it gives, what it sent, the hang guard, log capture and Lambda's
//! SQS events (the bench's too). Never a dependency of a library: only a
//! dev-dependency, and the bench's.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::missing_panics_doc,
    reason = "test helpers: a panic is a failed test"
)]

use std::future::Future;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use aws_smithy_http_client::test_util::{ReplayEvent, StaticReplayClient, infallible_client_fn};
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use tracing_subscriber::fmt::MakeWriter;

use aws_sdk_sfn::config::retry::RetryConfig;
use aws_sdk_sfn::config::{
    BehaviorVersion, Credentials, HttpClient, Region, SharedCredentialsProvider,
};
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;
use sfn_callback::outcome::ThrottlingClassifier;
use sfn_callback::{CallbackClient, Deadline, RetrySettings, TaskToken};

/// Shaped like a real token: `+`, `/` and `=` must reach Step Functions unchanged.
pub const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";
/// Attempts per call of the SDK client built by [`callback_client`].
pub const MAX_ATTEMPTS: u32 = 3;

pub const SUCCESS: &str = "AWSStepFunctions.SendTaskSuccess";
pub const FAILURE: &str = "AWSStepFunctions.SendTaskFailure";
pub const HEARTBEAT: &str = "AWSStepFunctions.SendTaskHeartbeat";

pub fn token() -> TaskToken {
    TaskToken::new(TOKEN).expect("TOKEN is a valid token")
}

/// Only a guard against a hang; no test asserts on elapsed time.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// Awaits `future`; fails the test with `hung` if it has not ended within [`HANG_GUARD`].
pub async fn guarded<T>(hung: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("{hung}"))
}

/// A Lambda deadline far enough away never to matter.
pub fn distant_deadline() -> Deadline {
    Deadline::at(Instant::now() + Duration::from_mins(1))
}

/// The SDK config of every replayed service client: a fixed region, test
/// credentials, no retries, and `http` for transport. Build any service's
/// client from it with `Client::new(&replay_sdk_config(http))`.
pub fn replay_sdk_config(http: impl HttpClient + 'static) -> aws_config::SdkConfig {
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "SECRET", None, None, "test",
        )))
        .retry_config(RetryConfig::disabled())
        .http_client(http)
        .build()
}

/// The SDK client over `http`, with fast retries and the library's retry classifier.
pub fn sdk_client(http: impl HttpClient + 'static) -> aws_sdk_sfn::Client {
    let config = aws_sdk_sfn::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKID", "SECRET", None, None, "test"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(1)),
        )
        .retry_classifier(ThrottlingClassifier)
        .http_client(http)
        .build();
    aws_sdk_sfn::Client::from_conf(config)
}

pub fn callback_client(http: impl HttpClient + 'static) -> CallbackClient {
    CallbackClient::from_client(sdk_client(http), RetrySettings::default())
}

/// A replayed answer of the AWS JSON service at `endpoint`: `status` with
/// `body`, of the service's `content_type` (`application/x-amz-json-1.x`).
pub fn json_service_answer(
    endpoint: &str,
    content_type: &str,
    status: u16,
    body: &str,
) -> ReplayEvent {
    ReplayEvent::new(
        http::Request::builder()
            .uri(endpoint)
            .body(SdkBody::empty())
            .unwrap(),
        http::Response::builder()
            .status(status)
            .header("content-type", content_type)
            .body(SdkBody::from(body.to_owned()))
            .unwrap(),
    )
}

/// A replayed Step Functions answer: `status` with the JSON `body`.
pub fn answer(status: u16, body: &str) -> ReplayEvent {
    json_service_answer(
        "https://states.us-east-1.amazonaws.com/",
        "application/x-amz-json-1.0",
        status,
        body,
    )
}

/// HTTP 200 `{}`: Step Functions took the call.
pub fn accepted() -> ReplayEvent {
    answer(200, "{}")
}

/// HTTP 400 with the error `code`, as Step Functions answers every `SendTask*` error.
pub fn refused(code: &str) -> ReplayEvent {
    let (status, body) = refusal(code);
    answer(status, &body)
}

/// [`accepted`] as a scripted answer of [`ScriptedSfn`]: status and body.
pub fn acceptance() -> (u16, String) {
    (200, "{}".to_owned())
}

/// [`refused`] as a scripted answer of [`ScriptedSfn`]: status and body.
pub fn refusal(code: &str) -> (u16, String) {
    (
        400,
        json!({"__type": code, "message": "replayed answer"}).to_string(),
    )
}

/// HTTP 503 `ServiceUnavailable` as a scripted answer: busy, a retry may pass.
pub fn busy() -> (u16, String) {
    (503, r#"{"__type":"ServiceUnavailable"}"#.to_owned())
}

/// One request a replay client received: its operation and its JSON body.
#[derive(Debug)]
pub struct Sent {
    pub target: String,
    pub body: Value,
}

/// Every request `replay` received, in order.
pub fn sent(replay: &StaticReplayClient) -> Vec<Sent> {
    replay
        .actual_requests()
        .map(|request| Sent {
            target: request
                .headers()
                .get("x-amz-target")
                .unwrap_or_default()
                .to_owned(),
            body: serde_json::from_slice(request.body().bytes().unwrap()).unwrap(),
        })
        .collect()
}

/// A Step Functions double: answers each operation with a fixed status and
/// body, and records every request as (operation, JSON body).
#[derive(Debug, Clone, Default)]
pub struct ScriptedSfn {
    sent: Arc<Mutex<Vec<(String, Value)>>>,
}

impl ScriptedSfn {
    /// Answers each operation with a fixed status and body (200 `{}` if unlisted).
    pub fn client(&self, answers: &'static [(&'static str, u16, &'static str)]) -> CallbackClient {
        self.client_fn(move |target, _| {
            answers
                .iter()
                .find(|(op, _, _)| *op == target)
                .map_or_else(acceptance, |(_, status, body)| {
                    (*status, (*body).to_owned())
                })
        })
    }

    /// Answers with `answer(operation, how many earlier requests of that operation)`.
    pub fn client_fn(
        &self,
        answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> CallbackClient {
        self.client_fn_with(RetrySettings::default(), answer)
    }

    /// As [`Self::client_fn`], with the client's retry and deadline settings.
    pub fn client_fn_with(
        &self,
        settings: RetrySettings,
        answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> CallbackClient {
        CallbackClient::from_client(sdk_client(self.http_client_fn(answer)), settings)
    }

    /// The HTTP client under [`Self::client_fn`], for the SDK client of any
    /// JSON service (DynamoDB too): `Client::new(&replay_sdk_config(http))`.
    /// Every request is recorded by its `x-amz-target` operation.
    pub fn http_client_fn(
        &self,
        answer: impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static,
    ) -> SharedHttpClient {
        let scripted = self.clone();
        SharedHttpClient::new(infallible_client_fn(
            move |request: http::Request<SdkBody>| {
                let (target, earlier) = scripted.record(&request);
                let (status, body) = answer(&target, earlier);
                json_response(status, body)
            },
        ))
    }

    /// Answers with `answer(operation, earlier requests)`: `(delay, status, body)`,
    /// the answer given after `delay` on Tokio's clock (so a test with paused
    /// time can script answers that take minutes).
    pub fn delayed_client_fn(
        &self,
        answer: impl Fn(&str, usize) -> (Duration, u16, String) + Send + Sync + 'static,
    ) -> CallbackClient {
        let http = DelayedAnswers {
            scripted: self.clone(),
            answer: Arc::new(answer),
        };
        CallbackClient::from_client(sdk_client(http), RetrySettings::default())
    }

    /// Records `request`; returns its operation and how many of that operation came before.
    fn record(&self, request: &http::Request<SdkBody>) -> (String, usize) {
        let target = request
            .headers()
            .get("x-amz-target")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = serde_json::from_slice(request.body().bytes().unwrap_or_default())
            .unwrap_or(Value::Null);
        let mut sent = self.sent.lock().unwrap();
        let earlier = sent.iter().filter(|(op, _)| *op == target).count();
        sent.push((target.clone(), body));
        (target, earlier)
    }

    pub fn count(&self, operation: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .count()
    }

    pub fn bodies(&self, operation: &str) -> Vec<Value> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, body)| body.clone())
            .collect()
    }
}

fn json_response(status: u16, body: String) -> http::Response<SdkBody> {
    http::Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.0")
        .body(SdkBody::from(body))
        .unwrap()
}

type DelayedAnswer = dyn Fn(&str, usize) -> (Duration, u16, String) + Send + Sync;

/// An HTTP client whose answers take scripted time.
#[derive(Clone)]
struct DelayedAnswers {
    scripted: ScriptedSfn,
    answer: Arc<DelayedAnswer>,
}

impl std::fmt::Debug for DelayedAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DelayedAnswers")
    }
}

impl HttpConnector for DelayedAnswers {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = request.try_into_http1x().unwrap();
        let (target, earlier) = self.scripted.record(&request);
        let (delay, status, body) = (self.answer)(&target, earlier);
        HttpConnectorFuture::new(async move {
            tokio::time::sleep(delay).await;
            Ok(HttpResponse::try_from(json_response(status, body)).unwrap())
        })
    }
}

impl HttpClient for DelayedAnswers {
    fn http_connector(
        &self,
        _: &HttpConnectorSettings,
        _: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.clone().into_shared()
    }
}

/// An SQS event as Lambda's event source delivers it: one record per body,
/// from the queue `queue_arn`, the `i`th with the message id `message_id(i)`.
pub fn sqs_event(
    bodies: &[String],
    queue_arn: &str,
    message_id: impl Fn(usize) -> String,
) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({
                "messageId": message_id(i),
                "receiptHandle": format!("receipt-{i}"),
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1700000000000",
                    "SenderId": "123456789012",
                    "ApproximateFirstReceiveTimestamp": "1700000000001"
                },
                "messageAttributes": {},
                "md5OfBody": "00000000000000000000000000000000",
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    json!({ "Records": records })
}

/// An SNS event as Lambda's SNS trigger delivers it: one record of
/// `message`, published to the topic `topic_arn`.
pub fn sns_event(topic_arn: &str, message: &str) -> Value {
    json!({"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": format!("{topic_arn}:sub"),
        "EventSource": "aws:sns",
        "Sns": {
            "Type": "Notification",
            "MessageId": "82833b5c-8d5d-56d0-b0e1-7511f8253eb8",
            "TopicArn": topic_arn,
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

/// A settings lookup (`name` to value) that finds the names of `vars`, and no others.
pub fn vars_lookup<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        vars.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

/// Collects formatted log output.
#[derive(Clone, Default, Debug)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Self;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Captures every log line of this thread, the SDK's own TRACE output included,
/// until the guard drops. `#[tokio::test]` polls on the test's thread, so this
/// covers every call the test awaits.
pub fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    // With a single dispatcher alive, tracing caches a callsite's interest
    // from the default of whichever thread reaches it first: a parallel test
    // without a subscriber would switch the callsite off for this one too. A
    // second dispatcher that lives forever makes every callsite ask each
    // event's own thread instead.
    static SECOND_DISPATCHER: OnceLock<tracing::Dispatch> = OnceLock::new();
    SECOND_DISPATCHER
        .get_or_init(|| tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default()));
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_max_level(tracing::Level::TRACE)
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}
