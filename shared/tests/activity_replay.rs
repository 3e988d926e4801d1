//! The activity worker loop over a scripted Step Functions: polling, working,
//! completing, backing off, and shutting down without abandoning a token.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers: a panic is a failed test"
)]

mod support;

use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};
use sfn_callback::Classify;
use sfn_callback::config::{ActivitySettings, WorkerSettings};
use sfn_callback::handlers::activity::{
    ActivityReport, ActivityWorker, HANDLER_PANICKED_ERROR, WORKER_SHUTDOWN_ERROR,
};
use sfn_callback::worker::TaskFailure;
use support::{
    FAILURE, MAX_ATTEMPTS, SUCCESS, ScriptedSfn, TOKEN, acceptance, busy, guarded, refusal,
};

const POLL: &str = "AWSStepFunctions.GetActivityTask";

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
fn one_task(input: &str) -> impl Fn(&str, usize) -> (u16, String) + Send + Sync + 'static {
    let input = input.to_owned();
    move |operation, earlier| {
        if operation != POLL {
            return acceptance();
        }
        if earlier == 0 {
            return (200, json!({"taskToken": TOKEN, "input": input}).to_string());
        }
        std::thread::sleep(Duration::from_millis(5));
        acceptance()
    }
}

/// Runs the worker until `done` says so (checked every 10 ms), then shuts it down.
async fn run_until(
    worker: ActivityWorker<impl sfn_callback::worker::TaskHandler>,
    sfn: &ScriptedSfn,
    done: impl Fn(&ScriptedSfn) -> bool,
) -> ActivityReport {
    guarded("the worker did not stop", worker.run(when(sfn, done))).await
}

/// Resolves once `done(sfn)` holds, checked every 10 ms of Tokio's clock.
fn when(sfn: &ScriptedSfn, done: impl Fn(&ScriptedSfn) -> bool) -> impl Future<Output = ()> {
    let watcher = sfn.clone();
    async move {
        while !done(&watcher) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Runs an echo worker over `client` until `shutdown`, on Tokio's paused clock:
/// minutes of scripted poll time pass at once.
async fn run_echo_paused(
    client: sfn_callback::CallbackClient,
    shutdown: impl Future<Output = ()>,
) -> ActivityReport {
    let echo = |input: Value| async move { Ok(input) };
    let worker = ActivityWorker::new(client, echo, settings(1000));
    tokio::time::timeout(Duration::from_mins(10), worker.run(shutdown))
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
            return refusal("ThrottlingException");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_error_name_over_the_limit_fails_the_task_as_invalid_error() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(one_task("{}"));
    let refuse = |_input: Value| async { Err(TaskFailure::new("E".repeat(300), "why")) };
    let worker = ActivityWorker::new(client, refuse, settings(1000));

    let report = run_until(worker, &sfn, |s| s.count(FAILURE) > 0 || s.count(POLL) > 2).await;

    let failures = sfn.bodies(FAILURE);
    assert_eq!(failures.len(), 1, "the token was dropped: {report:?}");
    assert_eq!(failures[0]["error"], "sfn_callback.InvalidError");
    assert!(
        failures[0]["cause"]
            .as_str()
            .unwrap()
            .starts_with(&"E".repeat(300)),
        "{failures:?}"
    );
}

// On the test's thread, so that the log of every poller is captured.
#[tokio::test]
async fn transient_completion_failure_is_retried_until_it_is_done() {
    let (logs, _guard) = support::capture_logs();
    let sfn = ScriptedSfn::default();
    // Every attempt of the first call (the SDK makes MAX_ATTEMPTS) is refused as busy.
    let client = sfn.client_fn(|operation, earlier| {
        if operation == SUCCESS && earlier < MAX_ATTEMPTS as usize {
            return busy();
        }
        one_task("{}")(operation, earlier)
    });
    let echo = |input: Value| async move { Ok(input) };
    let worker = ActivityWorker::new(client, echo, settings(1000));

    let report = run_until(worker, &sfn, |s| s.count(SUCCESS) > MAX_ATTEMPTS as usize).await;

    assert_eq!(sfn.count(SUCCESS), MAX_ATTEMPTS as usize + 1);
    assert_eq!(
        (report.completed, report.not_completed),
        (1, 0),
        "{report:?}"
    );
    let retries = logs.text().matches("completion failed; retrying").count();
    assert_eq!(retries, 1, "one failed completion, one retry logged once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_retries_end_when_the_grace_period_ends() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(|operation, earlier| {
        if operation == SUCCESS {
            return busy();
        }
        one_task("{}")(operation, earlier)
    });
    let echo = |input: Value| async move { Ok(input) };
    let worker = ActivityWorker::new(client, echo, settings(300));

    let report = run_until(worker, &sfn, |s| s.count(SUCCESS) > 0).await;

    assert_eq!(
        (report.completed, report.not_completed),
        (0, 1),
        "{report:?}"
    );
    assert!(
        sfn.count(SUCCESS) > MAX_ATTEMPTS as usize,
        "the completion was retried within the grace period: {} calls",
        sfn.count(SUCCESS)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_that_is_not_json_fails_the_task_with_invalid_input() {
    let failure = failure_for_input("{not json").await;

    assert_eq!(failure["error"], "sfn_callback.InvalidInput");
    assert!(
        failure["cause"].as_str().unwrap().contains("not JSON"),
        "{failure}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn input_nested_too_deep_fails_the_task_with_invalid_input() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));

    let failure = failure_for_input(&deep).await;

    assert_eq!(failure["error"], "sfn_callback.InvalidInput");
    let cause = failure["cause"].as_str().unwrap();
    assert!(
        cause.contains("at most 128 levels deep") && cause.contains("recursion limit"),
        "{failure}"
    );
}

/// Polls one task with `input`; returns the failure it was completed with. The
/// handler must not run.
async fn failure_for_input(input: &str) -> Value {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(one_task(input));
    let must_not_run =
        |input: Value| async move { Err(TaskFailure::new("HandlerRan", format!("got {input}"))) };
    let worker = ActivityWorker::new(client, must_not_run, settings(1000));

    run_until(worker, &sfn, |s| s.count(FAILURE) > 0).await;

    let failures = sfn.bodies(FAILURE);
    assert_eq!(failures.len(), 1, "{failures:?}");
    failures[0].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_poll_stops_the_worker() {
    for code in [
        "ActivityDoesNotExist",
        "InvalidArn",
        "AccessDeniedException",
    ] {
        let sfn = ScriptedSfn::default();
        let client = sfn.client_fn(move |_, _| refusal(code));
        let echo = |input: Value| async move { Ok(input) };
        let worker = ActivityWorker::new(client, echo, settings(1000));

        let report = guarded(
            &format!("{code}: the worker kept polling"),
            worker.run(std::future::pending()),
        )
        .await;

        assert_eq!(sfn.count(POLL), 1, "{code}: the refused poll was retried");
        let refused = report.refused_poll.expect("the report names the refusal");
        assert_eq!(refused.service_code(), Some(code));
    }
}

/// Each poll attempt gets the long-poll timeout; a retry is not cut short by
/// time the earlier attempts used.
#[tokio::test(start_paused = true)]
async fn poll_retry_is_not_cut_short_by_earlier_attempts() {
    let sfn = ScriptedSfn::default();
    let client = sfn.delayed_client_fn(|operation, earlier| {
        let task = json!({"taskToken": TOKEN, "input": "{}"}).to_string();
        match (operation, earlier) {
            // A poll that fails late, then its retry, which is handed the task late.
            (POLL, 0) => (Duration::from_secs(40), 500, "{}".to_owned()),
            (POLL, 1) => (Duration::from_secs(40), 200, task),
            (POLL, _) => (Duration::from_mins(1), 200, "{}".to_owned()),
            _ => (Duration::ZERO, 200, "{}".to_owned()),
        }
    });
    let shutdown = when(&sfn, |s| s.count(SUCCESS) > 0 || s.count(POLL) >= 4);

    let report = run_echo_paused(client, shutdown).await;

    assert_eq!(
        sfn.count(SUCCESS),
        1,
        "the task handed out was lost: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panicking_handler_fails_its_task_and_the_poller_goes_on() {
    let sfn = ScriptedSfn::default();
    let client = sfn.client_fn(|operation, earlier| {
        if operation == POLL && earlier < 2 {
            let input = json!({"panic": earlier == 0}).to_string();
            return (200, json!({"taskToken": TOKEN, "input": input}).to_string());
        }
        one_task("{}")(operation, 1)
    });
    let panics_on_demand = |input: Value| async move {
        assert!(input["panic"] != json!(true), "handler bug");
        Ok(input)
    };
    let worker = ActivityWorker::new(client, panics_on_demand, settings(1000));

    let report = run_until(worker, &sfn, |s| s.count(SUCCESS) > 0 || s.count(POLL) > 20).await;

    let failures = sfn.bodies(FAILURE);
    assert_eq!(
        failures.len(),
        1,
        "the panicking task was dropped: {report:?}"
    );
    assert_eq!(failures[0]["error"], HANDLER_PANICKED_ERROR);
    assert_eq!(
        sfn.count(SUCCESS),
        1,
        "the poller died with the panic: {report:?}"
    );
}

/// A poll in flight at shutdown that fails is not retried: no poll starts after
/// shutdown began, so none can be cut off with a task handed to it.
#[tokio::test(start_paused = true)]
async fn no_poll_starts_after_shutdown_even_when_the_poll_in_flight_fails() {
    let sfn = ScriptedSfn::default();
    let client = sfn.delayed_client_fn(|operation, _| match operation {
        POLL => (Duration::from_secs(65), 500, "{}".to_owned()),
        _ => (Duration::ZERO, 200, "{}".to_owned()),
    });
    let shutdown = tokio::time::sleep(Duration::from_secs(1));

    let report = run_echo_paused(client, shutdown).await;

    let polls = sfn.count(POLL);
    assert_eq!(polls, 1, "a poll started after shutdown: {report:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_a_task_for_shutdown_is_retried_past_a_transient_error() {
    let endless = |_input: Value| std::future::pending::<Result<Value, TaskFailure>>();
    let sfn = ScriptedSfn::default();
    // Every attempt of the first SendTaskFailure (the SDK makes MAX_ATTEMPTS) is refused as busy.
    let client = sfn.client_fn(|operation, earlier| {
        if operation == FAILURE && earlier < MAX_ATTEMPTS as usize {
            return busy();
        }
        one_task("{}")(operation, earlier)
    });
    let worker = ActivityWorker::new(client, endless, settings(50));

    let report = run_until(worker, &sfn, |s| s.count(POLL) > 0).await;

    assert_eq!(sfn.count(FAILURE), MAX_ATTEMPTS as usize + 1, "{report:?}");
    assert_eq!(
        sfn.bodies(FAILURE)[MAX_ATTEMPTS as usize]["error"],
        WORKER_SHUTDOWN_ERROR
    );
    assert_eq!(
        (report.failed_for_shutdown, report.not_completed),
        (1, 0),
        "{report:?}"
    );
}

#[test]
fn worker_name_longer_than_step_functions_takes_is_a_config_error() {
    let arn = "arn:aws:states:us-east-1:123456789012:activity:checksum";
    let name = "w".repeat(81);

    let settings = ActivitySettings::from_lookup(|key| match key {
        "ACTIVITY_ARN" => Some(arn.to_owned()),
        "WORKER_NAME" => Some(name.clone()),
        _ => None,
    });

    assert_eq!(settings.unwrap_err().name, "WORKER_NAME");
}

#[test]
fn worker_name_defaults_to_the_host_name() {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let arn = "arn:aws:states:us-east-1:123456789012:activity:checksum";

    let settings =
        ActivitySettings::from_lookup(|name| (name == "ACTIVITY_ARN").then(|| arn.to_owned()))
            .unwrap();

    assert_eq!(settings.worker_name, host.trim());
}

#[test]
fn settings_need_an_activity_arn() {
    let err = ActivitySettings::from_lookup(|_| None).unwrap_err();
    assert_eq!(err.name, "ACTIVITY_ARN");
}
