//! End to end: the state machine's own task message goes to `sqs-worker`
//! through the Lambda Runtime API; the worker computes, heartbeats and completes.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};
use sfn_callback_tests::event_source::{QueuePair, create_queue_pair, deliver};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::{Result, sha256_hex, statemachine};

const LIMIT: Duration = Duration::from_secs(30);
/// The task's HeartbeatSeconds in these tests.
const HEARTBEAT_SECONDS: &str = "2";

struct World {
    _peer: LocalAws,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    queue: QueuePair,
    state_machine: String,
    lambda: Lambda,
}

impl World {
    /// The worker heartbeats every `heartbeat_interval_s` seconds (0: never).
    async fn start(heartbeat_interval_s: &str) -> Result<Self> {
        let peer = LocalAws::start()?;
        let Clients { sfn, sqs, .. } = peer.clients().await;
        let queue = create_queue_pair(&sqs, "worker", 60, 3).await?;
        let definition = statemachine::definition(
            "worker-heartbeat",
            &[
                ("WorkerQueueUrl", &queue.url),
                ("HeartbeatSeconds", HEARTBEAT_SECONDS),
            ],
        )?;
        let state_machine = statemachine::create(&sfn, "worker-heartbeat", &definition).await?;
        let mut env = peer.function_env();
        env.push((
            "HEARTBEAT_INTERVAL_SECONDS".to_owned(),
            heartbeat_interval_s.to_owned(),
        ));
        let lambda = Lambda::start("sqs-worker", &env).await?;
        Ok(Self {
            _peer: peer,
            sfn,
            sqs,
            queue,
            state_machine,
            lambda,
        })
    }

    /// Runs one execution whose task message goes through the worker.
    async fn run(
        &mut self,
        name: &str,
        input: &Value,
    ) -> Result<(
        Vec<String>,
        aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput,
    )> {
        let execution = statemachine::start(&self.sfn, &self.state_machine, name, input).await?;
        let failed = deliver(
            &self.sqs,
            &self.queue.url,
            &self.queue.arn,
            1,
            &mut self.lambda,
        )
        .await?;
        let described = statemachine::wait_finished(&self.sfn, &execution, LIMIT).await?;
        Ok((failed, described))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_succeeds_the_execution_with_the_computed_checksum() -> Result<()> {
    let mut world = World::start("1").await?;
    let data = json!({"invoice": 42, "lines": ["a", "b"]});

    let (failed, described) = world.run("checksum", &json!({"data": data})).await?;

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
    let mut world = World::start("1").await?;

    let (failed, described) = world.run("no-data", &json!({"nothing": true})).await?;

    assert!(
        failed.is_empty(),
        "the record is done: the task was failed on purpose: {failed:?}"
    );
    assert_eq!(
        (described.status(), described.error()),
        (&ExecutionStatus::Failed, Some("Checksum.NoData"))
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_worker_outlives_heartbeat_seconds_because_it_heartbeats() -> Result<()> {
    let mut world = World::start("1").await?;

    // Five seconds of work against a two-second HeartbeatSeconds.
    let (failed, described) = world
        .run("slow", &json!({"data": "x", "workSeconds": 5}))
        .await?;

    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(described.status(), &ExecutionStatus::Succeeded);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_worker_without_heartbeats_times_out() -> Result<()> {
    let mut world = World::start("0").await?;

    let (_, described) = world
        .run("slow-silent", &json!({"data": "x", "workSeconds": 5}))
        .await?;

    assert_eq!(described.status(), &ExecutionStatus::Failed);
    let history = statemachine::history(&world.sfn, described.execution_arn()).await?;
    // AWS reports a missed heartbeat as States.HeartbeatTimeout; moto as States.Timeout
    // (FACTS). moto then fails the Fail state's empty CausePath with States.Runtime, so
    // the Catch's view of the error is what is checked here.
    assert_eq!(
        statemachine::caught_error(&history).as_deref(),
        Some("States.Timeout")
    );
    Ok(())
}
