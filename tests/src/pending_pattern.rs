//! The world of `sfn-callback pending` on one moto: executions waiting on an
//! SQS callback (`statemachines/sqs-callback.asl.json`), on a Lambda callback
//! (`lambda:invoke.waitForTaskToken`, with no `TimeoutSeconds`), and executions
//! that run without waiting on any callback (a long `Wait` state). The built
//! `sfn-callback` runs against it as a process.

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{HistoryEventType, StateMachineType};
use serde_json::{Value, json};

use crate::peer::LocalAws;
use crate::sqs_pattern::SqsCallbackWorld;
use crate::{Result, built_binary, statemachine};

/// How long moto may take to schedule a started execution's task.
const SCHEDULE_LIMIT: Duration = Duration::from_secs(20);
/// The stand-in function the Lambda task invokes (moto does not run it).
const NOTIFIER: &str = "pending-notifier";

#[derive(Debug)]
pub struct PendingWorld {
    pub peer: Arc<LocalAws>,
    pub sqs: SqsCallbackWorld,
    pub sfn: aws_sdk_sfn::Client,
    pub lambda_machine: String,
    pub sleeping_machine: String,
}

impl PendingWorld {
    /// The three state machines, `pending-sqs`, `pending-lambda` and
    /// `pending-sleep`, on a moto of their own.
    pub async fn start() -> Result<Self> {
        let peer = Arc::new(LocalAws::start()?);
        let sqs = SqsCallbackWorld::builder("pending-sqs")
            .start_on(&peer)
            .await?;
        let sfn = sqs.sfn.clone();
        let notifier = peer.setup("lambda", NOTIFIER)?;
        let lambda = json!({
            "StartAt": "Notify",
            "States": {"Notify": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {"FunctionName": notifier, "Payload": {"taskToken.$": "$$.Task.Token"}},
                "End": true
            }}
        });
        let lambda_machine =
            statemachine::create(&sfn, "pending-lambda", &lambda.to_string()).await?;
        let sleeping = json!({
            "StartAt": "Sleep",
            "States": {"Sleep": {"Type": "Wait", "Seconds": 3600, "End": true}}
        });
        let sleeping_machine =
            statemachine::create(&sfn, "pending-sleep", &sleeping.to_string()).await?;
        Ok(Self {
            peer,
            sqs,
            sfn,
            lambda_machine,
            sleeping_machine,
        })
    }

    /// An Express state machine `name` (a `Pass` state: Express workflows
    /// cannot wait on a callback); returns its ARN.
    pub async fn express_machine(&self, name: &str) -> Result<String> {
        let passing = json!({
            "StartAt": "Pass",
            "States": {"Pass": {"Type": "Pass", "End": true}}
        });
        statemachine::create_of_type(
            &self.sfn,
            name,
            &passing.to_string(),
            StateMachineType::Express,
        )
        .await
    }

    /// An execution waiting on its SQS callback; returns it and its token.
    pub async fn wait_on_sqs(&self, name: &str) -> Result<(String, String)> {
        self.sqs.start_execution(name, &json!({"n": name})).await
    }

    /// An execution waiting on its Lambda callback (its task scheduled).
    pub async fn wait_on_lambda(&self, name: &str) -> Result<String> {
        let execution =
            statemachine::start(&self.sfn, &self.lambda_machine, name, &json!({})).await?;
        self.wait_scheduled(&execution).await?;
        Ok(execution)
    }

    /// Starts `count` executions waiting on their Lambda callback, without
    /// waiting for each to be scheduled; returns their ARNs.
    pub async fn many_on_lambda(&self, prefix: &str, count: usize) -> Result<Vec<String>> {
        let mut executions = Vec::with_capacity(count);
        for n in 0..count {
            let name = format!("{prefix}-{n}");
            executions.push(
                statemachine::start(&self.sfn, &self.lambda_machine, &name, &json!({})).await?,
            );
        }
        for execution in &executions {
            self.wait_scheduled(execution).await?;
        }
        Ok(executions)
    }

    /// An execution that runs without waiting on any callback.
    pub async fn sleep(&self, name: &str) -> Result<String> {
        let execution =
            statemachine::start(&self.sfn, &self.sleeping_machine, name, &json!({})).await?;
        statemachine::assert_status(
            &self.sfn,
            &execution,
            aws_sdk_sfn::types::ExecutionStatus::Running,
        )
        .await?;
        Ok(execution)
    }

    async fn wait_scheduled(&self, execution: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            let history = statemachine::history(&self.sfn, execution).await?;
            if history
                .iter()
                .any(|event| event.r#type() == &HistoryEventType::TaskScheduled)
            {
                return Ok(());
            }
            if started.elapsed() > SCHEDULE_LIMIT {
                return Err(format!("{execution} scheduled no task in {SCHEDULE_LIMIT:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `sfn-callback ARGS` against this world's moto.
    pub fn cli(&self, args: &[&str]) -> Result<Output> {
        sfn_callback(args, self.peer.function_env())
    }
}

/// Runs the built `sfn-callback` with `args` and only `env` for environment.
pub fn sfn_callback(args: &[&str], env: Vec<(String, String)>) -> Result<Output> {
    Ok(Command::new(built_binary("sfn-callback")?)
        .args(args)
        .env_clear()
        .envs(env)
        .stdin(Stdio::null())
        .output()?)
}

/// `pending --json`'s lines, parsed.
pub fn json_lines(output: &Output) -> Result<Vec<Value>> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| Ok(serde_json::from_str(line)?))
        .collect()
}

/// The executions `pending --json` listed, by name.
pub fn listed_executions(output: &Output) -> Result<BTreeSet<String>> {
    Ok(json_lines(output)?
        .iter()
        .filter_map(|row| row["execution"].as_str().map(str::to_owned))
        .collect())
}
