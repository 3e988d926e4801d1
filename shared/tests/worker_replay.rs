//! The worker API against the real SDK client over a scripted HTTP layer: the
//! heartbeat guard, cancellation when the workflow has moved on, and completion
//! with the handler's result.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sfn_callback::config::WorkerSettings;
use sfn_callback::heartbeat::{Guarded, with_heartbeats};
use sfn_callback::message::{TaskMessage, parse_task_message};
use sfn_callback::outcome::OutcomeClass;
use sfn_callback::worker::{TaskFailure, TaskHandler, work_on};
use sfn_callback::{CallbackClient, Class, Classify, Deadline, Done, Outcome, RetrySettings};
use support::{
    FAILURE, HEARTBEAT, SUCCESS, ScriptedSfn, TOKEN, acceptance, distant_deadline, guarded,
    refusal, token,
};

fn settings(heartbeat_ms: u64) -> WorkerSettings {
    WorkerSettings {
        heartbeat_interval: Some(Duration::from_millis(heartbeat_ms)),
        max_concurrency: 1,
    }
}

fn task(input: Value) -> TaskMessage {
    TaskMessage {
        token: token(),
        input,
    }
}

/// Works on a task with input `{}` and a distant deadline, heartbeats every
/// `heartbeat_ms`, under the hang guard.
async fn work_on_a_task<H: TaskHandler>(
    client: &CallbackClient,
    handler: &H,
    heartbeat_ms: u64,
) -> Outcome {
    let work = work_on(
        client,
        handler,
        task(json!({})),
        settings(heartbeat_ms),
        distant_deadline(),
    );
    guarded("the work neither ended nor was cancelled", work).await
}

/// A handler whose work ends with `output` only once `count` heartbeats were sent.
fn ending_after_heartbeats(sfn: &ScriptedSfn, count: usize, output: Value) -> impl TaskHandler {
    let watcher = sfn.clone();
    move |_input: Value| {
        let watcher = watcher.clone();
        let output = output.clone();
        async move {
            while watcher.count(HEARTBEAT) < count {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            Ok(output)
        }
    }
}

/// A client whose heartbeats are refused with `code`; every other call is accepted.
fn heartbeats_refused(sfn: &ScriptedSfn, code: &'static str) -> CallbackClient {
    sfn.client_fn(move |operation, _| {
        if operation == HEARTBEAT {
            refusal(code)
        } else {
            acceptance()
        }
    })
}

/// Work that never ends on its own, and counts whether it was dropped (cancelled).
struct Endless(Arc<AtomicUsize>);

impl Drop for Endless {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn heartbeat_on_a_closed_task_cancels_the_work_and_counts_as_done() {
    let sfn = ScriptedSfn::default();
    let client = heartbeats_refused(&sfn, "TaskTimedOut");
    let handler = |_input: Value| std::future::pending::<Result<Value, TaskFailure>>();

    let outcome = work_on_a_task(&client, &handler, 10).await;

    assert_eq!(outcome, Ok(Done::AlreadyClosed));
    assert_eq!(
        sfn.count(SUCCESS) + sfn.count(FAILURE),
        0,
        "a closed task is not completed"
    );
}

#[tokio::test]
async fn heartbeat_answered_invalid_token_cancels_the_guarded_work_as_gone() {
    let sfn = ScriptedSfn::default();
    let client = heartbeats_refused(&sfn, "InvalidToken");
    let dropped = Arc::new(AtomicUsize::new(0));
    let work = {
        let guard = Endless(Arc::clone(&dropped));
        async move {
            let _keep = guard;
            std::future::pending::<()>().await;
        }
    };

    let guarded = guarded(
        "the guard did not cancel the work",
        with_heartbeats(
            &client,
            &token(),
            work,
            Duration::from_millis(10),
            distant_deadline(),
        ),
    )
    .await;

    assert!(
        matches!(&guarded, Guarded::Gone(err) if err.service_code() == Some("InvalidToken")),
        "{guarded:?}"
    );
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the work future was dropped"
    );
}

#[tokio::test]
async fn transient_heartbeat_errors_never_abort_the_work() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client(&[(HEARTBEAT, 503, r#"{"__type":"ServiceUnavailable"}"#)]);
    // The work ends only after it has lived through failing heartbeats.
    let handler = ending_after_heartbeats(&sfn, 4, json!({"survived": true}));

    let outcome = work_on_a_task(&client, &handler, 10).await;

    assert_eq!(outcome, Ok(Done::Completed));
    assert_eq!(
        sfn.bodies(SUCCESS),
        [json!({"taskToken": TOKEN, "output": r#"{"survived":true}"#})]
    );
}

#[tokio::test]
async fn heartbeats_stop_as_soon_as_the_work_ends() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client(&[]);
    let handler = |input: Value| async move { Ok(json!({"echo": input})) };

    let outcome = work_on(
        &client,
        &handler,
        task(json!({"n": 1})),
        settings(200),
        distant_deadline(),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;

    assert_eq!(outcome, Ok(Done::Completed));
    assert_eq!(sfn.count(HEARTBEAT), 0);
    assert_eq!(sfn.count(SUCCESS), 1);
}

#[tokio::test]
async fn heartbeats_are_sent_while_the_work_runs() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client(&[]);
    let handler = ending_after_heartbeats(&sfn, 3, json!({}));

    let outcome = work_on_a_task(&client, &handler, 10).await;

    assert_eq!(outcome, Ok(Done::Completed));
    assert_eq!(sfn.bodies(HEARTBEAT)[0], json!({"taskToken": TOKEN}));
}

#[tokio::test]
async fn failing_work_fails_the_task_with_its_error_and_cause() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client(&[]);
    let handler = |_input: Value| async {
        Err(TaskFailure::new(
            "Checksum.Mismatch",
            "expected abc, got def",
        ))
    };

    let outcome = work_on_a_task(&client, &handler, 1000).await;

    assert_eq!(outcome, Ok(Done::Completed));
    assert_eq!(
        sfn.bodies(FAILURE),
        [
            json!({"taskToken": TOKEN, "error": "Checksum.Mismatch", "cause": "expected abc, got def"})
        ]
    );
}

#[tokio::test]
async fn handler_error_name_over_the_limit_fails_the_task_as_invalid_error() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client(&[]);
    let long_name = format!("Io.{}", "e".repeat(300));
    let handler = {
        let long_name = long_name.clone();
        move |_input: Value| {
            let long_name = long_name.clone();
            async move { Err(TaskFailure::new(long_name, "disk full")) }
        }
    };

    let outcome = work_on_a_task(&client, &handler, 1000).await;

    assert_eq!(
        outcome,
        Ok(Done::Completed),
        "the task is failed, not re-run"
    );
    let failures = sfn.bodies(FAILURE);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["error"], "sfn_callback.InvalidError");
    let cause = failures[0]["cause"].as_str().unwrap();
    assert!(
        cause.starts_with(&long_name) && cause.ends_with("disk full"),
        "the cause starts with the handler's name and keeps its cause: {cause}"
    );
}

/// Runs endless work under heartbeats answered with `code`; returns the outcome
/// and whether the work was cancelled.
async fn work_with_heartbeats_refused(code: &'static str) -> (Outcome, usize, ScriptedSfn) {
    let sfn = ScriptedSfn::default();
    let client = heartbeats_refused(&sfn, code);
    let dropped = Arc::new(AtomicUsize::new(0));
    let handler = {
        let dropped = Arc::clone(&dropped);
        move |_input: Value| {
            let guard = Endless(Arc::clone(&dropped));
            async move {
                let _keep = guard;
                std::future::pending::<Result<Value, TaskFailure>>().await
            }
        }
    };

    let outcome = work_on_a_task(&client, &handler, 10).await;
    (outcome, dropped.load(Ordering::SeqCst), sfn)
}

async fn assert_refused_heartbeat_cancels_the_work_as_permanent(code: &'static str) {
    let (outcome, dropped, sfn) = work_with_heartbeats_refused(code).await;

    assert_eq!(outcome.class(), Class::Permanent, "{outcome:?}");
    assert_eq!(dropped, 1, "the work was cancelled");
    assert_eq!(sfn.count(SUCCESS) + sfn.count(FAILURE), 0);
}

#[tokio::test]
async fn heartbeat_answered_invalid_token_cancels_the_work_and_the_message_is_permanent() {
    assert_refused_heartbeat_cancels_the_work_as_permanent("InvalidToken").await;
}

#[tokio::test]
async fn heartbeat_answered_task_does_not_exist_cancels_the_work_and_the_message_is_permanent() {
    assert_refused_heartbeat_cancels_the_work_as_permanent("TaskDoesNotExist").await;
}

#[tokio::test]
async fn work_is_stopped_one_attempt_timeout_before_the_deadline_margin() {
    let sfn = ScriptedSfn::default();
    let retry = RetrySettings {
        max_attempts: 1,
        attempt_timeout: Duration::from_millis(1500),
        deadline_margin: Duration::from_millis(100),
    };
    let client = sfn.client_fn_with(retry, |_, _| acceptance());
    let handler = |_input: Value| std::future::pending::<Result<Value, TaskFailure>>();
    let started = Instant::now();
    // 2.1 s less the margin and one attempt leaves 0.5 s of work.
    let deadline = Deadline::at(started + Duration::from_millis(2100));

    let outcome = guarded(
        "the deadline did not stop the work",
        work_on(
            &client,
            &handler,
            task(json!({})),
            settings(10_000),
            deadline,
        ),
    )
    .await;

    let stopped_after = started.elapsed();
    assert_eq!(outcome.class(), Class::Transient, "{outcome:?}");
    assert!(
        stopped_after < Duration::from_millis(1500),
        "the work ran {stopped_after:?}, into the time the completion needs"
    );
}

#[tokio::test]
async fn work_that_outlives_the_lambda_deadline_is_handed_back_for_redelivery() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client(&[]);
    let handler = |_input: Value| std::future::pending::<Result<Value, TaskFailure>>();
    // Less than the 500 ms margin plus one 5 s attempt: no time to work and complete.
    let deadline = Deadline::at(Instant::now() + Duration::from_millis(700));

    let outcome = guarded(
        "the deadline did not stop the work",
        work_on(&client, &handler, task(json!({})), settings(50), deadline),
    )
    .await;

    assert_eq!(outcome.class(), Class::Transient, "{outcome:?}");
    assert_eq!(sfn.count(SUCCESS) + sfn.count(FAILURE), 0);
}

#[test]
fn task_message_gives_the_token_and_the_input() {
    let message =
        parse_task_message(&json!({"TaskToken": TOKEN, "input": {"data": [1, 2]}}).to_string())
            .unwrap();
    assert_eq!(message.token, token());
    assert_eq!(message.input, json!({"data": [1, 2]}));
}

#[test]
fn task_message_without_input_uses_its_other_fields() {
    let message =
        parse_task_message(&json!({"taskToken": TOKEN, "orderId": 7}).to_string()).unwrap();
    assert_eq!(message.input, json!({"orderId": 7}));
}

#[test]
fn task_message_without_a_token_or_not_an_object_is_invalid() {
    assert!(parse_task_message(r#"{"input": {}}"#).is_err());
    assert!(parse_task_message(r#"["TaskToken"]"#).is_err());
    assert!(parse_task_message("not json").is_err());
    assert!(parse_task_message(r#"{"TaskToken": 5}"#).is_err());
}
