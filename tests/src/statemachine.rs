//! State machines from `statemachines/*.asl.json`, the same files the SAM
//! template deploys, with local ARNs and URLs substituted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, StateMachineType};
use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::{Result, aws_error, event_source, workspace_root};

/// A role ARN the local peer accepts.
pub const LOCAL_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sfn-callback-local";
/// How long a started execution's task message may take to reach its queue.
const TASK_LIMIT: Duration = Duration::from_secs(20);

/// Creates a state machine from `definition`; returns its ARN.
pub async fn create(sfn: &Client, name: &str, definition: &str) -> Result<String> {
    create_of_type(sfn, name, definition, StateMachineType::Standard).await
}

/// Creates a Standard or Express state machine from `definition`; returns its ARN.
pub async fn create_of_type(
    sfn: &Client,
    name: &str,
    definition: &str,
    kind: StateMachineType,
) -> Result<String> {
    let created = sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .r#type(kind)
        .role_arn(LOCAL_ROLE_ARN)
        .send()
        .await
        .map_err(|err| aws_error(&format!("create state machine {name}"), err))?;
    Ok(created.state_machine_arn().to_owned())
}

/// Reads `statemachines/<name>.asl.json` and replaces each `${Key}` as SAM's
/// `DefinitionSubstitutions` would. A placeholder left over is an error.
pub fn definition(name: &str, substitutions: &[(&str, &str)]) -> Result<String> {
    let path = workspace_root()
        .join("statemachines")
        .join(format!("{name}.asl.json"));
    let mut text =
        std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    for (key, value) in substitutions {
        text = text.replace(&format!("${{{key}}}"), value);
    }
    if let Some(start) = text.find("${") {
        let rest: String = text[start..].chars().take(40).collect();
        return Err(format!("{}: no substitution for {rest}", path.display()).into());
    }
    Ok(text)
}

/// Starts an execution. Always named: moto names an unnamed execution "None",
/// so a second one fails (docs/local-peers.md).
pub async fn start(
    sfn: &Client,
    state_machine_arn: &str,
    name: &str,
    input: &serde_json::Value,
) -> Result<String> {
    let started = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(name)
        .input(input.to_string())
        .send()
        .await
        .map_err(|err| aws_error(&format!("start execution {name}"), err))?;
    Ok(started.execution_arn().to_owned())
}

/// Starts an execution of a state machine whose task sends
/// `{"TaskToken", "input"}` to `work_queue`, and takes that message off the
/// queue as its worker would. Returns the execution ARN and the task token; an
/// error if the worker did not get the execution's input.
pub async fn start_with_task(
    sfn: &Client,
    sqs: &aws_sdk_sqs::Client,
    state_machine_arn: &str,
    work_queue: &str,
    name: &str,
    input: &Value,
) -> Result<(String, String)> {
    let execution = start(sfn, state_machine_arn, name, input).await?;
    let work = event_source::receive_exactly(sqs, work_queue, 1, TASK_LIMIT).await?;
    let body: Value = serde_json::from_str(work[0].body().unwrap_or_default())?;
    if body["input"] != *input {
        return Err(format!(
            "the worker got input {} instead of the execution's {input}",
            body["input"]
        )
        .into());
    }
    let token = body["TaskToken"]
        .as_str()
        .ok_or("work message has no TaskToken")?
        .to_owned();
    Ok((execution, token))
}

/// Starts one execution per `(name, input)`, at most `concurrency` at once, and
/// each only once `window` lends it a permit, which it keeps: whoever takes the
/// work gives the room back. Returns the ARNs in the order given; an error if
/// `until` passes while waiting for room.
pub async fn start_windowed(
    sfn: &Client,
    state_machine_arn: &str,
    executions: Vec<(String, Value)>,
    concurrency: usize,
    window: &Semaphore,
    until: Instant,
) -> Result<Vec<String>> {
    let count = executions.len();
    let permits = Arc::new(Semaphore::new(concurrency));
    let mut starting = JoinSet::new();
    for (n, (name, input)) in executions.into_iter().enumerate() {
        let room = tokio::time::timeout_at(until.into(), window.acquire())
            .await
            .map_err(|_| {
                format!("the worker did not keep up: {n} of {count} executions started")
            })??;
        room.forget();
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let sfn = sfn.clone();
        let state_machine_arn = state_machine_arn.to_owned();
        starting.spawn(async move {
            let _permit = permit;
            (n, start(&sfn, &state_machine_arn, &name, &input).await)
        });
    }
    let mut arns = vec![String::new(); count];
    while let Some(started) = starting.join_next().await {
        let (n, arn) = started?;
        arns[n] = arn?;
    }
    Ok(arns)
}

/// Polls until the execution leaves RUNNING, at most `limit`.
pub async fn wait_finished(
    sfn: &Client,
    execution_arn: &str,
    limit: Duration,
) -> Result<DescribeExecutionOutput> {
    let started = Instant::now();
    loop {
        let described = sfn
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await?;
        if described.status() != &ExecutionStatus::Running {
            return Ok(described);
        }
        if started.elapsed() > limit {
            return Err(format!("execution {execution_arn} still RUNNING after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The execution's status and output once it has left RUNNING (at most `limit`).
pub async fn finished(
    sfn: &Client,
    execution_arn: &str,
    limit: Duration,
) -> Result<(ExecutionStatus, Option<Value>)> {
    status_and_output(&wait_finished(sfn, execution_arn, limit).await?)
}

/// The execution's status and output right now.
pub async fn current(
    sfn: &Client,
    execution_arn: &str,
) -> Result<(ExecutionStatus, Option<Value>)> {
    status_and_output(
        &sfn.describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await?,
    )
}

/// The status and the output as JSON. moto re-serializes output (spaces, `\u`
/// escapes), so values are compared, not text; the replay tests check the
/// exact bytes the functions send.
pub fn status_and_output(
    described: &DescribeExecutionOutput,
) -> Result<(ExecutionStatus, Option<Value>)> {
    let output = described.output().map(serde_json::from_str).transpose()?;
    Ok((described.status().clone(), output))
}

/// Each execution's status and output, described at most 8 at a time; RUNNING
/// ones are asked again for a few seconds, in case their completion is fresh.
pub async fn settled_states(
    sfn: &Client,
    arns: &[String],
) -> Result<Vec<(ExecutionStatus, Option<Value>)>> {
    let permits = Arc::new(Semaphore::new(8));
    let mut describing = JoinSet::new();
    for (n, arn) in arns.iter().enumerate() {
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let sfn = sfn.clone();
        let arn = arn.clone();
        describing.spawn(async move {
            let _permit = permit;
            let settle = Instant::now() + Duration::from_secs(3);
            loop {
                let described = sfn.describe_execution().execution_arn(&arn).send().await;
                let done = match &described {
                    Ok(d) => d.status() != &ExecutionStatus::Running,
                    Err(_) => true,
                };
                if done || Instant::now() > settle {
                    return (n, described);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    let mut states = vec![(ExecutionStatus::Running, None); arns.len()];
    while let Some(described) = describing.join_next().await {
        let (n, described) = described?;
        let described = described?;
        let output = described
            .output()
            .and_then(|text| serde_json::from_str(text).ok());
        states[n] = (described.status().clone(), output);
    }
    Ok(states)
}

/// The execution's status right now.
pub async fn status(sfn: &Client, execution_arn: &str) -> Result<ExecutionStatus> {
    Ok(sfn
        .describe_execution()
        .execution_arn(execution_arn)
        .send()
        .await?
        .status()
        .clone())
}

/// Checks that the execution's status right now is `expected`.
///
/// # Panics
/// When it is not: the test fails.
pub async fn assert_status(
    sfn: &Client,
    execution_arn: &str,
    expected: ExecutionStatus,
) -> Result<()> {
    assert_eq!(
        status(sfn, execution_arn).await?,
        expected,
        "{execution_arn}"
    );
    Ok(())
}

/// Checks that a finished execution failed with the error `error`.
///
/// # Panics
/// When it did not: the test fails.
#[track_caller]
pub fn assert_failed_with(described: &DescribeExecutionOutput, error: &str) {
    assert_eq!(
        (described.status(), described.error()),
        (&ExecutionStatus::Failed, Some(error))
    );
}

/// The whole event history of an execution.
pub async fn history(sfn: &Client, execution_arn: &str) -> Result<Vec<HistoryEvent>> {
    Ok(sfn
        .get_execution_history()
        .execution_arn(execution_arn)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await?)
}

/// Names of the states the execution entered, in order.
pub fn entered_states(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter_map(|event| event.state_entered_event_details())
        .map(|details| details.name().to_owned())
        .collect()
}

/// The error a `Catch` with `"ResultPath": "$.failure"` handed on: read from the
/// input of the state it routed to.
pub fn caught_error(history: &[HistoryEvent]) -> Option<String> {
    history
        .iter()
        .filter_map(|event| event.state_entered_event_details()?.input())
        .filter_map(|input| serde_json::from_str::<serde_json::Value>(input).ok())
        .find_map(|input| input.pointer("/failure/Error")?.as_str().map(str::to_owned))
}
