//! State machines from `statemachines/*.asl.json`, the same files the SAM
//! template deploys, with local ARNs and URLs substituted.

use std::time::{Duration, Instant};

use aws_sdk_sfn::Client;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};

use crate::{Result, workspace_root};

/// A role ARN the local peer accepts.
pub const LOCAL_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/sfn-callback-local";

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

/// Creates a state machine from `definition`; returns its ARN.
pub async fn create(sfn: &Client, name: &str, definition: &str) -> Result<String> {
    let created = sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(LOCAL_ROLE_ARN)
        .send()
        .await
        .map_err(|err| {
            format!(
                "create state machine {name}: {}",
                aws_sdk_sfn::error::DisplayErrorContext(err)
            )
        })?;
    Ok(created.state_machine_arn().to_owned())
}

/// Starts an execution. The name is required by the local peer (see FACTS).
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
        .map_err(|err| {
            format!(
                "start execution {name}: {}",
                aws_sdk_sfn::error::DisplayErrorContext(err)
            )
        })?;
    Ok(started.execution_arn().to_owned())
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

/// The whole event history of an execution.
pub async fn history(sfn: &Client, execution_arn: &str) -> Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    let mut next = None;
    loop {
        let page = sfn
            .get_execution_history()
            .execution_arn(execution_arn)
            .set_next_token(next)
            .send()
            .await?;
        events.extend(page.events().iter().cloned());
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            return Ok(events);
        }
    }
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
