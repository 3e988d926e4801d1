//! `CallbackClient` against the real aws-sdk-sfn client over replayed HTTP
//! exchanges: what each call sends, how the SDK retries, and how every answer
//! Step Functions can give is classified.
//!
//! Step Functions speaks `awsJson1_0`: an error is HTTP 400 with a JSON body
//! `{"__type": "<code>", "message": "..."}`; a success is HTTP 200 with `{}`.

// clippy.toml allows unwrap and expect in `#[test]` functions only; the helpers
// here are test code too, and a panic in them is a failed assertion.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_sfn::config::{
    BehaviorVersion, Credentials, HttpClient, Region, SharedCredentialsProvider,
};
use aws_smithy_http_client::test_util::{NeverClient, ReplayEvent, StaticReplayClient};
use serde_json::{Value, json};
use sfn_callback::outcome::OutcomeClass;
use sfn_callback::{
    CallbackClient, CallbackError, Class, Classify, Completion, Deadline, Done, Outcome,
    RetrySettings,
};

mod support;

use support::{
    FAILURE, HEARTBEAT, MAX_ATTEMPTS, SUCCESS, Sent, TOKEN, accepted, answer, callback_client,
    distant_deadline, guarded, refused, sent, token,
};

/// What [`guarded`] says when a call never ends.
const HUNG: &str = "the call hung instead of ending";

/// The client as the functions build it (`from_sdk_config`), over `http`.
fn production_client(http: impl HttpClient + 'static, settings: RetrySettings) -> CallbackClient {
    let sdk_config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "AKID", "SECRET", None, None, "test",
        )))
        .http_client(http)
        .build();
    CallbackClient::from_sdk_config(&sdk_config, settings)
}

/// Sends `completion` with a distant deadline over the replayed `answers`.
async fn complete(answers: Vec<ReplayEvent>, completion: Completion) -> (Outcome, Vec<Sent>) {
    let replay = StaticReplayClient::new(answers);
    let client = callback_client(replay.clone());
    let outcome = guarded(
        HUNG,
        client.complete(&token(), completion, distant_deadline()),
    )
    .await;
    (outcome, sent(&replay))
}

/// Sends `completion`, accepted at once; asserts it ended `done` with exactly one
/// request, to `target`, carrying exactly `body`.
async fn assert_sent_once(completion: Completion, done: Done, target: &str, body: Value) {
    let (outcome, sent) = complete(vec![accepted()], completion).await;

    assert_eq!(outcome, Ok(done));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].target, target);
    assert_eq!(sent[0].body, body);
}

/// `make()` as the answer to every attempt the SDK makes.
fn on_every_attempt(make: impl Fn() -> ReplayEvent) -> Vec<ReplayEvent> {
    (0..MAX_ATTEMPTS).map(|_| make()).collect()
}

/// Two attempts of 100 ms each.
fn two_short_attempts() -> RetrySettings {
    RetrySettings {
        max_attempts: 2,
        attempt_timeout: Duration::from_millis(100),
        ..RetrySettings::default()
    }
}

fn success() -> Completion {
    Completion::Success {
        output: r#"{"result":42,"path":"a+b/c=="}"#.to_owned(),
    }
}

fn failure() -> Completion {
    Completion::Failure {
        error: Some("Payment.Declined".to_owned()),
        cause: Some("card expired".to_owned()),
    }
}

/// A field SendTaskFailure may leave out: absent, null or empty.
fn is_blank(body: &Value, field: &str) -> bool {
    match body.get(field) {
        None | Some(Value::Null) => true,
        Some(Value::String(text)) => text.is_empty(),
        Some(_) => false,
    }
}

fn assert_permanent(outcome: &Outcome, code: &str) {
    let err = outcome.as_ref().unwrap_err();
    assert_eq!(err.class(), Class::Permanent, "{err:?}");
    assert_eq!(err.service_code(), Some(code), "{err:?}");
}

fn assert_transient(outcome: &Outcome) -> &CallbackError {
    let err = outcome.as_ref().unwrap_err();
    assert_eq!(err.class(), Class::Transient, "{err:?}");
    err
}

// --- What each call sends --------------------------------------------------

#[tokio::test]
async fn success_is_completed_with_the_exact_token_and_output() {
    let body = json!({"taskToken": TOKEN, "output": r#"{"result":42,"path":"a+b/c=="}"#});

    assert_sent_once(success(), Done::Completed, SUCCESS, body).await;
}

#[tokio::test]
async fn failure_is_completed_with_the_token_error_and_cause() {
    let body = json!({"taskToken": TOKEN, "error": "Payment.Declined", "cause": "card expired"});

    assert_sent_once(failure(), Done::Completed, FAILURE, body).await;
}

#[tokio::test]
async fn heartbeat_is_completed_and_sends_only_the_token() {
    let body = json!({"taskToken": TOKEN});

    assert_sent_once(Completion::Heartbeat, Done::Completed, HEARTBEAT, body).await;
}

#[tokio::test]
async fn rejected_output_fails_the_task_with_invalid_output_error_and_the_cause() {
    let cause = "output is 262145 bytes; the limit is 262144";
    let completion = Completion::OutputRejected {
        cause: cause.to_owned(),
    };

    let body = json!({"taskToken": TOKEN, "error": "sfn_callback.InvalidOutput", "cause": cause});

    assert_sent_once(completion, Done::OutputRejected, FAILURE, body).await;
}

// --- Duplicate or late delivery ---------------------------------------------

/// `completion` refused with the `code` of a timed-out task is acknowledged, not retried.
async fn assert_timed_out_is_acknowledged_and_sent_once(code: &str, completion: Completion) {
    let (outcome, sent) = complete(vec![refused(code), accepted()], completion).await;

    assert_eq!(outcome, Ok(Done::AlreadyClosed));
    assert_eq!(sent.len(), 1, "{code} must not be retried");
}

#[tokio::test]
async fn task_timed_out_on_success_is_acknowledged_as_already_closed() {
    assert_timed_out_is_acknowledged_and_sent_once("TaskTimedOut", success()).await;
}

#[tokio::test]
async fn task_timed_out_on_failure_is_acknowledged_as_already_closed() {
    assert_timed_out_is_acknowledged_and_sent_once("TaskTimedOut", failure()).await;
}

#[tokio::test]
async fn task_timed_out_on_heartbeat_is_acknowledged_as_already_closed() {
    assert_timed_out_is_acknowledged_and_sent_once("TaskTimedOut", Completion::Heartbeat).await;
}

#[tokio::test]
async fn task_timed_out_with_a_namespaced_type_is_acknowledged_as_already_closed() {
    let namespaced = "com.amazonaws.states#TaskTimedOut";
    assert_timed_out_is_acknowledged_and_sent_once(namespaced, success()).await;
}

// --- Refusals that will never succeed ----------------------------------------

async fn assert_refusal_of_success_is_permanent_and_sent_once(code: &str) {
    let (outcome, sent) = complete(vec![refused(code), accepted()], success()).await;

    assert_permanent(&outcome, code);
    assert_eq!(sent.len(), 1, "{code} must not be retried");
    assert_eq!(sent[0].target, SUCCESS);
}

#[tokio::test]
async fn invalid_token_is_permanent_and_not_retried() {
    assert_refusal_of_success_is_permanent_and_sent_once("InvalidToken").await;
}

#[tokio::test]
async fn task_does_not_exist_is_permanent_and_not_retried() {
    assert_refusal_of_success_is_permanent_and_sent_once("TaskDoesNotExist").await;
}

#[tokio::test]
async fn output_step_functions_refuses_fails_the_task_with_its_message_as_the_cause() {
    let refusal = answer(
        400,
        &json!({"__type": "InvalidOutput", "message": "Invalid JSON: lone surrogate"}).to_string(),
    );
    let (outcome, sent) = complete(vec![refusal, accepted()], success()).await;

    assert_eq!(outcome, Ok(Done::OutputRejected));
    assert_eq!(sent.len(), 2, "the success once, then the failure");
    assert_eq!(sent[0].target, SUCCESS);
    assert_eq!(sent[1].target, FAILURE);
    assert_eq!(
        sent[1].body,
        json!({
            "taskToken": TOKEN,
            "error": "sfn_callback.InvalidOutput",
            "cause": "Step Functions refused the output (InvalidOutput): Invalid JSON: lone surrogate",
        })
    );
}

#[tokio::test]
async fn output_refused_and_then_a_closed_task_is_acknowledged() {
    let (outcome, sent) = complete(
        vec![refused("InvalidOutput"), refused("TaskTimedOut")],
        success(),
    )
    .await;

    assert_eq!(outcome, Ok(Done::AlreadyClosed));
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn kms_access_denied_on_success_is_permanent_and_not_retried() {
    assert_refusal_of_success_is_permanent_and_sent_once("KmsAccessDeniedException").await;
}

#[tokio::test]
async fn kms_invalid_state_on_success_is_permanent_and_not_retried() {
    assert_refusal_of_success_is_permanent_and_sent_once("KmsInvalidStateException").await;
}

#[tokio::test]
async fn invalid_token_on_failure_is_permanent_and_not_resent_without_details() {
    let (outcome, sent) = complete(vec![refused("InvalidToken"), accepted()], failure()).await;

    assert_permanent(&outcome, "InvalidToken");
    assert_eq!(sent.len(), 1);
}

// --- Busy or failing service ------------------------------------------------

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_completed() {
    let answers = vec![refused("ThrottlingException"), accepted()];

    let (outcome, sent) = complete(answers, success()).await;

    assert_eq!(outcome, Ok(Done::Completed));
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|s| s.target == SUCCESS));
    assert_eq!(sent[0].body, sent[1].body, "the retry sends the same call");
}

async fn assert_throttling_is_transient_after_max_attempts(code: &str) {
    let (outcome, sent) = complete(on_every_attempt(|| refused(code)), success()).await;

    let err = assert_transient(&outcome);
    assert_eq!(err.service_code(), Some(code));
    assert_eq!(
        sent.len(),
        MAX_ATTEMPTS as usize,
        "{code} is retried as throttling"
    );
}

#[tokio::test]
async fn throttling_on_every_attempt_is_transient_after_max_attempts() {
    assert_throttling_is_transient_after_max_attempts("ThrottlingException").await;
}

#[tokio::test]
async fn http_500_on_every_attempt_is_transient_after_max_attempts() {
    let (outcome, sent) = complete(on_every_attempt(|| answer(500, "{}")), success()).await;

    assert!(
        matches!(outcome, Err(CallbackError::Unavailable { .. })),
        "{outcome:?}"
    );
    assert_transient(&outcome);
    assert_eq!(sent.len(), MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn http_503_without_a_json_body_on_every_attempt_is_transient_after_max_attempts() {
    let answers = on_every_attempt(|| answer(503, "Service Unavailable"));

    let (outcome, sent) = complete(answers, failure()).await;

    assert_transient(&outcome);
    assert_eq!(sent.len(), MAX_ATTEMPTS as usize);
}

#[tokio::test]
async fn kms_throttling_on_every_attempt_is_transient_after_max_attempts() {
    assert_throttling_is_transient_after_max_attempts("KmsThrottlingException").await;
}

#[tokio::test]
async fn kms_throttling_is_retried_by_the_sdk_then_completed() {
    let replay = StaticReplayClient::new(vec![refused("KmsThrottlingException"), accepted()]);
    let client = production_client(replay.clone(), RetrySettings::default());

    let outcome = guarded(
        HUNG,
        client.complete(&token(), success(), distant_deadline()),
    )
    .await;

    assert_eq!(outcome, Ok(Done::Completed));
    assert_eq!(sent(&replay).len(), 2, "one throttled attempt, one retry");
}

// --- KMS refusing the failure's details -------------------------------------

/// Sends `completion`, refused by KMS with `code` and then accepted; asserts the
/// task was failed again without details, and returns the two requests.
async fn assert_kms_refusal_fails_the_task_again_without_details(
    code: &str,
    completion: Completion,
) -> Vec<Sent> {
    let (outcome, sent) = complete(vec![refused(code), accepted()], completion).await;

    assert_eq!(outcome, Ok(Done::FailedWithoutDetails));
    assert_eq!(sent.len(), 2);
    assert!(is_blank(&sent[1].body, "error"), "{:?}", sent[1].body);
    assert!(is_blank(&sent[1].body, "cause"), "{:?}", sent[1].body);
    sent
}

#[tokio::test]
async fn kms_access_denied_on_failure_fails_the_task_again_without_details() {
    let sent = assert_kms_refusal_fails_the_task_again_without_details(
        "KmsAccessDeniedException",
        failure(),
    )
    .await;

    assert_eq!(sent[0].target, FAILURE);
    assert_eq!(sent[0].body["error"], "Payment.Declined");
    assert_eq!(sent[1].target, FAILURE);
    assert_eq!(sent[1].body["taskToken"], TOKEN);
}

#[tokio::test]
async fn kms_invalid_state_on_failure_fails_the_task_again_without_details() {
    assert_kms_refusal_fails_the_task_again_without_details("KmsInvalidStateException", failure())
        .await;
}

#[tokio::test]
async fn bare_failure_refused_after_kms_refusal_is_permanent() {
    let answers = vec![
        refused("KmsAccessDeniedException"),
        refused("InvalidToken"),
        accepted(),
    ];

    let (outcome, sent) = complete(answers, failure()).await;

    assert_permanent(&outcome, "InvalidToken");
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn bare_failure_timed_out_after_kms_refusal_is_acknowledged_as_already_closed() {
    let answers = vec![refused("KmsAccessDeniedException"), refused("TaskTimedOut")];

    let (outcome, sent) = complete(answers, failure()).await;

    assert_eq!(outcome, Ok(Done::AlreadyClosed));
    assert_eq!(sent.len(), 2);
}

#[tokio::test]
async fn kms_access_denied_on_rejected_output_fails_the_task_again_without_details() {
    let completion = Completion::OutputRejected {
        cause: "too large".to_owned(),
    };

    assert_kms_refusal_fails_the_task_again_without_details("KmsAccessDeniedException", completion)
        .await;
}

// --- The Lambda deadline ----------------------------------------------------

#[tokio::test]
async fn deadline_already_passed_is_out_of_time_and_sends_nothing() {
    let replay = StaticReplayClient::new(vec![accepted()]);
    let client = callback_client(replay.clone());

    let outcome = guarded(
        HUNG,
        client.complete(&token(), success(), Deadline::at(Instant::now())),
    )
    .await;

    assert_eq!(outcome, Err(CallbackError::OutOfTime));
    assert_eq!(outcome.class(), Class::Transient);
    assert_eq!(replay.actual_requests().count(), 0);
}

#[tokio::test]
async fn deadline_inside_the_safety_margin_is_out_of_time_and_sends_nothing() {
    let replay = StaticReplayClient::new(vec![accepted()]);
    let client = callback_client(replay.clone());
    let margin = RetrySettings::default().deadline_margin;
    let deadline = Deadline::at(Instant::now() + margin + Duration::from_millis(10));

    let outcome = guarded(HUNG, client.complete(&token(), failure(), deadline)).await;

    assert_eq!(outcome, Err(CallbackError::OutOfTime));
    assert_eq!(replay.actual_requests().count(), 0);
}

#[tokio::test]
async fn answer_slower_than_the_deadline_is_cut_off_as_no_answer() {
    let never = NeverClient::new();
    let client = callback_client(never.clone());
    // 500 ms of the 700 are the default safety margin: about 200 ms for the call.
    let deadline = Deadline::at(Instant::now() + Duration::from_millis(700));

    let outcome = guarded(HUNG, client.complete(&token(), success(), deadline)).await;

    assert!(
        matches!(outcome, Err(CallbackError::NoAnswer { .. })),
        "{outcome:?}"
    );
    assert_transient(&outcome);
    assert!(never.num_calls() >= 1);
}

#[tokio::test]
async fn attempt_timeout_from_settings_bounds_each_attempt_under_a_deadline() {
    let never = NeverClient::new();
    let client = production_client(never.clone(), two_short_attempts());

    let outcome = guarded(
        HUNG,
        client.complete(&token(), success(), distant_deadline()),
    )
    .await;

    assert!(
        matches!(outcome, Err(CallbackError::NoAnswer { .. })),
        "{outcome:?}"
    );
    assert_eq!(
        never.num_calls(),
        2,
        "each attempt timed out and was retried"
    );
}

#[tokio::test]
async fn attempt_timeout_from_settings_bounds_each_attempt_without_a_deadline() {
    let never = NeverClient::new();
    let client = production_client(never.clone(), two_short_attempts());

    let token = token();
    let call = client.complete(&token, success(), Deadline::NONE);
    let outcome = tokio::time::timeout(Duration::from_secs(5), call).await;

    // `Deadline::NONE` promises calls "bounded only by the retry settings".
    assert!(
        matches!(outcome, Ok(Err(CallbackError::NoAnswer { .. }))),
        "with Deadline::NONE the attempt timeout must still end the call (an empty \
         TimeoutConfig override would disable it); got {outcome:?}"
    );
}

// --- Logs -------------------------------------------------------------------

#[tokio::test]
async fn log_output_never_contains_the_raw_token() {
    let (captured, _logs) = support::capture_logs();

    // The KMS fallback is the path that logs about the token.
    let answers = vec![refused("KmsAccessDeniedException"), accepted()];
    let (outcome, _) = complete(answers, failure()).await;

    assert_eq!(outcome, Ok(Done::FailedWithoutDetails));
    let logs = captured.text();
    assert!(
        logs.contains(&token().fingerprint().to_string()),
        "the warning names the token by its fingerprint: {logs}"
    );
    assert!(!logs.contains(TOKEN), "raw token in the logs: {logs}");
}
