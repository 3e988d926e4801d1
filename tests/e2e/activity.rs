//! The built `activity-worker` run as a process against localstack in host mode
//! (moto has no `GetActivityTask`): it takes activity tasks from the
//! `statemachines/activity.asl.json` state machine, completes them with the
//! example checksum work, and on SIGTERM stops as `sfn_callback::activity`
//! documents. Also the operator CLI completing an activity task by hand, its
//! `activities` commands, and `pending` listing an activity task no worker took.
//!
//! Every test starts its own localstack (about 5–10 s) and fails, never skips,
//! when it cannot.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};
use sfn_callback_tests::activity_pattern::ActivityPattern;
use sfn_callback_tests::localstack::LocalStack;
use sfn_callback_tests::pending_pattern::{json_lines, sfn_callback};
use sfn_callback_tests::{Result, artifacts_dir, built_binary, sha256_hex, statemachine};

/// How long an execution may take to finish once its task can be worked on.
const LIMIT: Duration = Duration::from_secs(30);
/// localstack holds an empty `GetActivityTask` open for 60 s, as AWS does; a
/// worker stopping with a poll in flight waits for it (plus a margin).
const POLL_TIME: Duration = Duration::from_secs(65);
const WORKER_NAME: &str = "e2e-activity-worker";

struct World {
    peer: LocalStack,
    sfn: aws_sdk_sfn::Client,
    activity: String,
    state_machine: String,
}

impl World {
    /// localstack with one activity and the activity state machine on it.
    async fn start() -> Result<Self> {
        let peer = LocalStack::start()?;
        let sfn = aws_sdk_sfn::Client::new(&peer.sdk_config().await);
        let pattern = ActivityPattern::create(&sfn, "activity").await?;
        Ok(Self {
            peer,
            sfn,
            activity: pattern.activity,
            state_machine: pattern.state_machine,
        })
    }

    async fn start_execution(&self, name: &str, input: &Value) -> Result<String> {
        statemachine::start(&self.sfn, &self.state_machine, name, input).await
    }

    /// Starts the built worker on this peer's activity.
    fn worker(&self, test: &str, pollers: u32, grace: Duration) -> Result<Worker> {
        self.worker_on(&self.activity, test, pollers, grace)
    }

    /// Starts the built worker against this peer, polling `activity`.
    fn worker_on(
        &self,
        activity: &str,
        test: &str,
        pollers: u32,
        grace: Duration,
    ) -> Result<Worker> {
        let log =
            artifacts_dir()?.join(format!("activity-worker-{test}-{}.log", std::process::id()));
        let file = std::fs::File::create(&log)?;
        let child = tokio::process::Command::new(built_binary("activity-worker")?)
            .env_clear()
            .envs(self.peer.process_env())
            .env("ACTIVITY_ARN", activity)
            .env("WORKER_NAME", WORKER_NAME)
            .env("POLLERS", pollers.to_string())
            .env("GRACE_SECONDS", grace.as_secs().to_string())
            .env("RUST_LOG", "info")
            // Plain text: the tests read the log.
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true)
            .spawn()?;
        Ok(Worker { child, log, grace })
    }

    /// Waits until the worker has taken the execution's task (`ActivityStarted`).
    async fn wait_task_taken(&self, execution: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            let history = statemachine::history(&self.sfn, execution).await?;
            let taken_by = history
                .iter()
                .filter(|event| event.r#type() == &HistoryEventType::ActivityStarted)
                .find_map(|event| event.activity_started_event_details()?.worker_name());
            if let Some(worker) = taken_by {
                assert_eq!(worker, WORKER_NAME, "the task was taken by another worker");
                return Ok(());
            }
            if started.elapsed() > LIMIT {
                return Err(format!("no worker took the task of {execution} in {LIMIT:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// The worker process; killed if a test ends before it exits.
struct Worker {
    child: tokio::process::Child,
    log: PathBuf,
    grace: Duration,
}

impl Worker {
    /// SIGTERM, as ECS and systemd stop it (the workspace forbids `unsafe`, so `kill`).
    fn terminate(&self) -> Result<()> {
        let pid = self.child.id().ok_or("the worker has already exited")?;
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("kill -TERM {pid} failed: {status}").into())
        }
    }

    /// Waits for the process to exit, at most `limit`.
    async fn exit_within(&mut self, limit: Duration) -> Result<ExitStatus> {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => Err(format!(
                "the worker did not exit within {limit:?}; log:\n{}",
                self.log()
            )
            .into()),
        }
    }

    /// Everything the worker logged.
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn output_of(
    described: &aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
) -> Value {
    serde_json::from_str(described.output().unwrap_or("null")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_with_data_succeeds_with_the_checksum_of_its_data() -> Result<()> {
    let world = World::start().await?;
    let _worker = world.worker("data", 2, Duration::from_secs(5))?;
    let data = json!({"invoice": 42, "lines": ["a", "b"]});

    let execution = world
        .start_execution("with-data", &json!({"data": data}))
        .await?;
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;

    assert_eq!(
        described.status(),
        &ExecutionStatus::Succeeded,
        "{described:?}"
    );
    let bytes = serde_json::to_vec(&data)?;
    assert_eq!(
        output_of(&described),
        json!({"sha256": sha256_hex(&bytes), "bytes": bytes.len()})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn task_without_data_fails_the_execution_with_checksum_no_data() -> Result<()> {
    let world = World::start().await?;
    let _worker = world.worker("no-data", 2, Duration::from_secs(5))?;

    let execution = world
        .start_execution("without-data", &json!({"nothing": true}))
        .await?;
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;

    assert_eq!(
        (described.status(), described.error()),
        (&ExecutionStatus::Failed, Some("Checksum.NoData")),
        "{described:?}"
    );
    let history = statemachine::history(&world.sfn, &execution).await?;
    assert_eq!(
        statemachine::caught_error(&history).as_deref(),
        Some("Checksum.NoData"),
        "the Catch routed the worker's error to WorkFailed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_task_in_flight_finish_within_the_grace_period_then_exits_0() -> Result<()> {
    let world = World::start().await?;
    // One poller, busy with the task: no poll is in flight when SIGTERM comes.
    let mut worker = world.worker("finish-in-grace", 1, Duration::from_secs(20))?;
    let input = json!({"data": "slow but in time", "workSeconds": 3});
    let execution = world.start_execution("finishes", &input).await?;
    world.wait_task_taken(&execution).await?;

    let signalled = Instant::now();
    worker.terminate()?;
    let status = worker.exit_within(worker.grace + POLL_TIME).await?;

    assert_eq!(status.code(), Some(0), "{}", worker.log());
    assert!(
        signalled.elapsed() < worker.grace,
        "it exits once the task is done, not at the end of the grace period: {:?}",
        signalled.elapsed()
    );
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        described.status(),
        &ExecutionStatus::Succeeded,
        "{described:?}"
    );
    let bytes = serde_json::to_vec(&json!("slow but in time"))?;
    assert_eq!(
        output_of(&described),
        json!({"sha256": sha256_hex(&bytes), "bytes": bytes.len()})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_fails_a_task_still_running_after_the_grace_period_with_worker_shutdown()
-> Result<()> {
    let world = World::start().await?;
    let mut worker = world.worker("cut-off", 1, Duration::from_secs(1))?;
    let input = json!({"data": "too slow", "workSeconds": 120});
    let execution = world.start_execution("cut-off", &input).await?;
    world.wait_task_taken(&execution).await?;

    worker.terminate()?;
    let status = worker.exit_within(worker.grace + POLL_TIME).await?;

    assert_eq!(status.code(), Some(0), "{}", worker.log());
    // Failed at once, not left to its 3,600 s TimeoutSeconds.
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        (described.status(), described.error()),
        (
            &ExecutionStatus::Failed,
            Some(sfn_callback::handlers::activity::WORKER_SHUTDOWN_ERROR)
        ),
        "{described:?}"
    );
    assert!(
        described.cause().unwrap_or_default().contains(WORKER_NAME),
        "the cause names the worker: {:?}",
        described.cause()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_worker_exits_0_on_sigterm_once_its_long_poll_ends_empty() -> Result<()> {
    let world = World::start().await?;
    let mut worker = world.worker("idle", 2, Duration::from_secs(2))?;
    // One task first, so the worker is known to be up and polling.
    let execution = world
        .start_execution("warm-up", &json!({"data": "x"}))
        .await?;
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);

    let signalled = Instant::now();
    worker.terminate()?;
    let status = worker.exit_within(worker.grace + POLL_TIME).await?;

    assert_eq!(status.code(), Some(0), "{}", worker.log());
    let log = worker.log();
    assert!(log.contains("shutting down: no new polls"), "{log}");
    // The polls in flight ended empty after 60 s: that is no error.
    assert!(
        log.contains("poll_errors: 0,") && !log.contains("empty_polls: 0,"),
        "{log}"
    );
    eprintln!("idle worker exited {:?} after SIGTERM", signalled.elapsed());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_on_an_unknown_activity_stops_and_exits_1_naming_the_refusal() -> Result<()> {
    let world = World::start().await?;
    let unknown = format!("{}-that-does-not-exist", world.activity);
    let mut worker = world.worker_on(&unknown, "unknown-activity", 2, Duration::from_secs(1))?;

    let status = worker.exit_within(LIMIT).await?;

    let log = worker.log();
    assert_eq!(status.code(), Some(1), "{log}");
    assert!(log.contains("ActivityDoesNotExist"), "{log}");
    assert!(
        log.contains("ACTIVITY_ARN"),
        "the message says what to check: {log}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_cli_succeeds_an_activity_task_by_hand() -> Result<()> {
    let world = World::start().await?;
    let execution = world.start_execution("by-hand", &json!({})).await?;
    // No worker: the operator takes the task's token and completes it.
    let task = world
        .sfn
        .get_activity_task()
        .activity_arn(&world.activity)
        .worker_name("operator")
        .send()
        .await?;
    let token = task.task_token().filter(|token| !token.is_empty()).unwrap();
    let file = artifacts_dir()?.join(format!("activity-token-{}", std::process::id()));
    std::fs::write(&file, format!("{token}\n"))?;

    let mut cli = std::process::Command::new(built_binary("sfn-callback")?)
        .args(["succeed", "--token-file"])
        .arg(&file)
        .args(["--output", r#"{"fixed":"by hand"}"#])
        .env_clear()
        .envs(world.peer.process_env())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    cli.stdin.take().unwrap().write_all(b"")?;
    let output = cli.wait_with_output()?;
    let _ = std::fs::remove_file(&file);

    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains(token), "the token is never printed: {text}");
    let described = statemachine::wait_finished(&world.sfn, &execution, LIMIT).await?;
    assert_eq!(
        described.status(),
        &ExecutionStatus::Succeeded,
        "{described:?}"
    );
    assert_eq!(output_of(&described), json!({"fixed": "by hand"}));
    Ok(())
}

/// Runs `sfn-callback ARGS` against the world's localstack; returns the exit
/// code and everything it printed.
fn operator(world: &World, args: &[&str]) -> Result<(Option<i32>, String)> {
    let output = sfn_callback(args, world.peer.process_env())?;
    Ok((
        output.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_create_then_list_and_describe_show_its_arn_and_creation_date() -> Result<()> {
    let world = World::start().await?;

    let (created_code, created) = operator(&world, &["activities", "create", "ops-extra"])?;
    let arn = created.trim().to_owned();
    let (list_code, list) = operator(&world, &["activities", "list"])?;
    let (describe_code, described) = operator(&world, &["activities", "describe", &arn])?;

    assert_eq!(created_code, Some(0), "{created}");
    assert!(
        arn.starts_with("arn:aws:states:") && arn.ends_with(":activity:ops-extra"),
        "{arn}"
    );
    assert_eq!(list_code, Some(0), "{list}");
    let line = list
        .lines()
        .find(|line| line.starts_with("ops-extra "))
        .unwrap_or_default();
    assert!(line.contains(&arn), "{list}");
    assert!(
        line.trim_end().ends_with('Z'),
        "a creation date in UTC: {list}"
    );
    assert!(list.contains(&world.activity), "{list}");
    assert_eq!(describe_code, Some(0), "{described}");
    assert!(
        described.contains("name: ops-extra")
            && described.contains(&format!("arn: {arn}"))
            && described.contains("created: "),
        "{described}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_delete_removes_it_from_the_list() -> Result<()> {
    let world = World::start().await?;
    let (_, created) = operator(&world, &["activities", "create", "ops-gone"])?;
    let arn = created.trim().to_owned();

    let (code, deleted) = operator(&world, &["activities", "delete", &arn])?;
    let (_, list) = operator(&world, &["activities", "list"])?;

    assert_eq!(code, Some(0), "{deleted}");
    assert!(!list.contains(&arn), "{list}");
    assert!(list.contains(&world.activity), "{list}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_describe_of_an_unknown_arn_is_refused_with_exit_4() -> Result<()> {
    let world = World::start().await?;
    let unknown = format!("{}-missing", world.activity);

    let (code, text) = operator(&world, &["activities", "describe", &unknown])?;

    assert_eq!(code, Some(4), "{text}");
    assert!(text.contains("ActivityDoesNotExist"), "{text}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_lists_an_activity_task_no_worker_has_taken() -> Result<()> {
    let world = World::start().await?;
    let execution = world.start_execution("untaken", &json!({})).await?;
    wait_for_event(&world, &execution, HistoryEventType::ActivityScheduled).await?;

    let output = sfn_callback(&["pending", "--json"], world.peer.process_env())?;

    let rows = json_lines(&output)?;
    assert_eq!(output.status.code(), Some(0), "{rows:?}");
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(
        (
            &rows[0]["executionArn"],
            &rows[0]["state"],
            &rows[0]["integration"],
            &rows[0]["timeoutSeconds"],
            &rows[0]["heartbeatSeconds"]
        ),
        (
            &json!(execution),
            &json!("DoWork"),
            &json!("activity"),
            &json!(3600),
            &json!(300)
        )
    );
    Ok(())
}

/// Waits until the execution's history has an event of `kind`.
async fn wait_for_event(world: &World, execution: &str, kind: HistoryEventType) -> Result<()> {
    let started = Instant::now();
    loop {
        let history = statemachine::history(&world.sfn, execution).await?;
        if history.iter().any(|event| event.r#type() == &kind) {
            return Ok(());
        }
        if started.elapsed() > LIMIT {
            return Err(format!("no {kind:?} in the history of {execution} in {LIMIT:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
