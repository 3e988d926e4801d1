//! The worker pattern on a local peer: `statemachines/worker-heartbeat.asl.json`
//! sends its own task message (token and input) to a worker queue, with its
//! DLQ, that `sqs-worker` drains, heartbeating while it works.

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use serde_json::Value;

use crate::event_source::{QueuePair, create_queue_pair, deliver};
use crate::peer::{Clients, LocalAws};
use crate::runtime_api::Lambda;
use crate::{Result, statemachine};

/// How long an execution may take once its task message went to the worker.
const FINISH_LIMIT: Duration = Duration::from_secs(30);

/// The pattern, started.
#[derive(Debug)]
pub struct WorkerWorld {
    pub peer: Arc<LocalAws>,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub queue: QueuePair,
    pub state_machine: String,
}

impl WorkerWorld {
    /// The pattern on a moto of its own; see [`WorkerWorld::start_on`].
    pub async fn start(name: &str, heartbeat_seconds: u32) -> Result<Self> {
        Self::start_on(&Arc::new(LocalAws::start()?), name, heartbeat_seconds).await
    }

    /// The pattern on `peer`: the queue `{name}-work` (visibility 60 s, to its
    /// DLQ after 3 receives) and the state machine `name`, whose task has
    /// `HeartbeatSeconds` `heartbeat_seconds`.
    pub async fn start_on(
        peer: &Arc<LocalAws>,
        name: &str,
        heartbeat_seconds: u32,
    ) -> Result<Self> {
        let Clients { sfn, sqs, .. } = peer.clients().await;
        let queue = create_queue_pair(&sqs, &format!("{name}-work"), 60, 3).await?;
        let definition = statemachine::definition(
            "worker-heartbeat",
            &[
                ("WorkerQueueUrl", &queue.url),
                ("HeartbeatSeconds", &heartbeat_seconds.to_string()),
            ],
        )?;
        let state_machine = statemachine::create(&sfn, name, &definition).await?;
        Ok(Self {
            peer: Arc::clone(peer),
            sfn,
            sqs,
            queue,
            state_machine,
        })
    }

    /// Starts `sqs-worker` against the peer with these extra settings.
    pub async fn start_worker(&self, settings: &[(&str, &str)]) -> Result<Lambda> {
        let mut env = self.peer.function_env();
        env.extend(
            settings
                .iter()
                .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
        );
        Lambda::start("sqs-worker", &env).await
    }

    /// Runs one execution whose task message goes through `worker`; returns the
    /// ids the worker reported failed and the execution once it ended.
    pub async fn run(
        &self,
        worker: &mut Lambda,
        name: &str,
        input: &Value,
    ) -> Result<(Vec<String>, DescribeExecutionOutput)> {
        let execution = statemachine::start(&self.sfn, &self.state_machine, name, input).await?;
        let failed = deliver(&self.sqs, &self.queue.url, &self.queue.arn, 1, worker).await?;
        let described = statemachine::wait_finished(&self.sfn, &execution, FINISH_LIMIT).await?;
        Ok((failed, described))
    }

    /// Starts an execution and takes its task message off the queue, so no
    /// worker ever sees it: the execution waits on its token until someone
    /// (an operator) completes it. Returns the execution ARN and the token.
    pub async fn start_stuck(&self, name: &str, input: &Value) -> Result<(String, String)> {
        statemachine::start_with_task(
            &self.sfn,
            &self.sqs,
            &self.state_machine,
            &self.queue.url,
            name,
            input,
        )
        .await
    }
}
