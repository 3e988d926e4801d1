//! End to end: the state machine's own task message goes to `sqs-worker`
//! through the Lambda Runtime API; the worker computes, heartbeats and completes.

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::worker_pattern::WorkerWorld;
use sfn_callback_tests::{Result, sha256_hex, statemachine};

/// The task's HeartbeatSeconds in these tests.
const HEARTBEAT_SECONDS: u32 = 2;

/// The worker heartbeats every `heartbeat_interval_s` seconds (0: never).
async fn world(heartbeat_interval_s: &str) -> Result<(WorkerWorld, Lambda)> {
    let world = WorkerWorld::start("worker-heartbeat", HEARTBEAT_SECONDS).await?;
    let worker = world
        .start_worker(&[("HEARTBEAT_INTERVAL_SECONDS", heartbeat_interval_s)])
        .await?;
    Ok((world, worker))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_succeeds_the_execution_with_the_computed_checksum() -> Result<()> {
    let (world, mut worker) = world("1").await?;
    let data = json!({"invoice": 42, "lines": ["a", "b"]});

    let (failed, described) = world
        .run(&mut worker, "checksum", &json!({"data": data}))
        .await?;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    let bytes = serde_json::to_vec(&data)?;
    let output: Value = serde_json::from_str(described.output().unwrap_or_default())?;
    assert_eq!(
        output,
        json!({"sha256": sha256_hex(&bytes), "bytes": bytes.len()})
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_work_fails_the_execution_with_the_workers_error() -> Result<()> {
    let (world, mut worker) = world("1").await?;

    let (failed, described) = world
        .run(&mut worker, "no-data", &json!({"nothing": true}))
        .await?;

    assert!(
        failed.is_empty(),
        "the record is done: the task was failed on purpose: {failed:?}"
    );
    statemachine::assert_failed_with(&described, "Checksum.NoData");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_worker_outlives_heartbeat_seconds_because_it_heartbeats() -> Result<()> {
    let (world, mut worker) = world("1").await?;

    // Five seconds of work against a two-second HeartbeatSeconds.
    let (failed, described) = world
        .run(&mut worker, "slow", &json!({"data": "x", "workSeconds": 5}))
        .await?;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_worker_without_heartbeats_times_out() -> Result<()> {
    let (world, mut worker) = world("0").await?;

    let (_, described) = world
        .run(
            &mut worker,
            "slow-silent",
            &json!({"data": "x", "workSeconds": 5}),
        )
        .await?;

    assert_eq!(described.status(), &ExecutionStatus::Failed);
    let history = statemachine::history(&world.sfn, described.execution_arn()).await?;
    // AWS reports a missed heartbeat as States.HeartbeatTimeout; moto as States.Timeout
    // (docs/local-peers.md). moto then fails the Fail state's empty CausePath with
    // States.Runtime, so the Catch's view of the error is what is checked here.
    assert_eq!(
        statemachine::caught_error(&history).as_deref(),
        Some("States.Timeout")
    );
    Ok(())
}
