//! The activity worker loop over a scripted Step Functions: polling, working,
//! completing, backing off, and shutting down without abandoning a token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use sfn_callback::activity::{
    ActivityReport, ActivitySettings, ActivityWorker, WORKER_SHUTDOWN_ERROR,
};
use sfn_callback::worker::{TaskFailure, WorkerSettings};
use support::{FAILURE, SUCCESS, ScriptedSfn, TOKEN};

const POLL: &str = "AWSStepFunctions.GetActivityTask";
const HANG_GUARD: Duration = Duration::from_secs(20);

fn settings(grace_ms: u64) -> ActivitySettings {
    ActivitySettings {
        activity_arn: "arn:aws:states:us-east-1:123456789012:activity:checksum".to_owned(),
        worker_name: "test-worker".to_owned(),
        pollers: 1,
        worker: WorkerSettings {
            heartbeat_interval: None,
            max_concurrency: 1,
        },
        grace: Duration::from_millis(grace_ms),
        max_backoff: Duration::from_millis(200),
    }
}

/// The first poll hands out one task; later polls come back empty after a short wait
/// (a real poll waits up to 60 s).
fn one_task(input: &'static str) -> impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static {
    move |operation, earlier| {
        if operation != POLL {
            return (200, "{}".to_owned());
        }
        if earlier == 0 {
            return (200, json!({"taskToken": TOKEN, "input": input}).to_string());
        }
        std::thread::sleep(Duration::from_millis(5));
        (200, "{}".to_owned())
    }
}

/// Runs the worker until `done` says so (checked every 10 ms), then shuts it down.
async fn run_until(
    worker: ActivityWorker<impl sfn_callback::worker::TaskHandler>,
    sfn: &ScriptedSfn,
    done: impl Fn(&ScriptedSfn) -> bool,
) -> ActivityReport {
    let watcher = sfn.clone();
    let shutdown = async move {
        while !done(&watcher) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(HANG_GUARD, worker.run(shutdown))
        .await
        .expect("the worker did not stop")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polled_task_is_worked_and_completed_with_its_output() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(one_task(r#"{"n": 20}"#));
    let double =
        |input: Value| async move { Ok(json!({"doubled": input["n"].as_i64().unwrap_or(0) * 2})) };
    let worker = ActivityWorker::new(client, double, settings(1000));

    let report = run_until(worker, &sfn, |s| s.count(SUCCESS) > 0).await;

    assert_eq!(
        sfn.bodies(SUCCESS),
        [json!({"taskToken": TOKEN, "output": r#"{"doubled":40}"#})]
    );
    assert_eq!((report.tasks, report.completed), (1, 1));
    assert_eq!(sfn.bodies(POLL)[0]["workerName"], "test-worker");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_task_is_failed_with_the_handlers_error() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(one_task("{}"));
    let refuse = |_input: Value| async { Err(TaskFailure::new("Nope", "not today")) };
    let worker = ActivityWorker::new(client, refuse, settings(1000));

    run_until(worker, &sfn, |s| s.count(FAILURE) > 0).await;

    assert_eq!(
        sfn.bodies(FAILURE),
        [json!({"taskToken": TOKEN, "error": "Nope", "cause": "not today"})]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_polls_back_off_and_then_get_the_task() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(|operation, earlier| {
        if operation == POLL && earlier < 3 {
            return (400, r#"{"__type":"ThrottlingException"}"#.to_owned());
        }
        one_task("{}")(operation, earlier.saturating_sub(3))
    });
    let echo = |input: Value| async move { Ok(input) };
    let worker = ActivityWorker::new(client, echo, settings(1000));

    let report = run_until(worker, &sfn, |s| s.count(SUCCESS) > 0).await;

    assert!(report.poll_errors >= 1, "{report:?}");
    assert_eq!(report.completed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_still_running_after_the_grace_period_is_failed_not_abandoned() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(one_task("{}"));
    let endless = |_input: Value| std::future::pending::<Result<Value, TaskFailure>>();
    let worker = ActivityWorker::new(client, endless, settings(50));

    // Shut down as soon as the task has been handed out.
    let report = run_until(worker, &sfn, |s| s.count(POLL) > 0).await;

    let failures = sfn.bodies(FAILURE);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["error"], WORKER_SHUTDOWN_ERROR);
    assert!(
        failures[0]["cause"]
            .as_str()
            .unwrap_or_default()
            .contains("test-worker")
    );
    assert_eq!(report.failed_for_shutdown, 1);
    assert_eq!(sfn.count(SUCCESS), 0);
}

#[test]
fn settings_need_an_activity_arn() {
    let err = ActivitySettings::from_lookup(|_| None).unwrap_err();
    assert_eq!(err.name, "ACTIVITY_ARN");
}
