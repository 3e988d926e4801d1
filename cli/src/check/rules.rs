//! The rules: each looks at one task and may report one finding. Their names
//! and reasons are listed in the README's "Operating" section.

use std::collections::HashSet;

use serde_json::Value;

use super::diagnostic::{Diagnostic, Severity};
use super::states::QueryLanguage;
use super::task::{Callback, Task};

/// A finding before it is placed in a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub severity: Severity,
    pub rule: &'static str,
    pub message: String,
    pub help: String,
}

impl Finding {
    fn new(severity: Severity, rule: &'static str, message: String, help: &str) -> Self {
        Self {
            severity,
            rule,
            message,
            help: help.to_owned(),
        }
    }

    /// The finding, placed at the task in `origin`.
    pub fn at(self, origin: &str, task: &Task<'_>) -> Diagnostic {
        Diagnostic {
            origin: origin.to_owned(),
            path: task.at.path.to_owned(),
            severity: self.severity,
            rule: self.rule,
            message: self.message,
            help: self.help,
        }
    }
}

/// Every rule, in the order findings are reported for one task.
pub fn check(task: &Task<'_>) -> Vec<Finding> {
    [
        callback_without_timeout,
        token_not_passed,
        heartbeat_missing,
        heartbeat_not_below_timeout,
        approval_rejection_not_caught,
        approval_decision_not_checked,
        timeout_not_handled,
    ]
    .iter()
    .filter_map(|rule| rule(task))
    .collect()
}

fn kind(task: &Task<'_>) -> Option<&'static str> {
    match task.callback()? {
        Callback::Token => Some("a .waitForTaskToken task"),
        Callback::Activity => Some("an activity task"),
    }
}

/// Without a timeout a lost callback keeps the execution waiting for a year.
fn callback_without_timeout(task: &Task<'_>) -> Option<Finding> {
    let kind = kind(task)?;
    if task.has("TimeoutSeconds") || task.has("TimeoutSecondsPath") {
        return None;
    }
    Some(Finding::new(
        Severity::Error,
        "callback-without-timeout",
        format!(
            "{kind} without TimeoutSeconds waits up to a year for a callback that may never come"
        ),
        "set \"TimeoutSeconds\" (or \"TimeoutSecondsPath\") to the longest the work may take",
    ))
}

/// A token nobody receives can never be completed.
fn token_not_passed(task: &Task<'_>) -> Option<Finding> {
    if task.callback()? != Callback::Token || task.passes_token() {
        return None;
    }
    Some(Finding::new(
        Severity::Error,
        "token-not-passed",
        format!(
            "the task waits for a callback but its {} do not pass {}: no one can ever complete it",
            task.arguments_field(),
            task.token_reference()
        ),
        match task.at.language {
            QueryLanguage::JsonPath => {
                "add e.g. \"TaskToken.$\": \"$$.Task.Token\" to the message in \"Parameters\""
            }
            QueryLanguage::Jsonata => {
                "add e.g. \"TaskToken\": \"{% $states.context.Task.Token %}\" to the message in \"Arguments\""
            }
        },
    ))
}

/// A worker that dies silently is noticed only at the (long) task timeout.
fn heartbeat_missing(task: &Task<'_>) -> Option<Finding> {
    if !task.has_heartbeating_worker()
        || task.has("HeartbeatSeconds")
        || task.has("HeartbeatSecondsPath")
    {
        return None;
    }
    Some(Finding::new(
        Severity::Warning,
        "heartbeat-missing",
        "the task's worker sends heartbeats but the task sets no HeartbeatSeconds: a dead worker is noticed only at TimeoutSeconds".to_owned(),
        "set \"HeartbeatSeconds\" below \"TimeoutSeconds\", about three of the worker's heartbeat intervals",
    ))
}

/// A heartbeat limit at or over the timeout never fires first.
fn heartbeat_not_below_timeout(task: &Task<'_>) -> Option<Finding> {
    let heartbeat = task.seconds("HeartbeatSeconds")?;
    let timeout = task.seconds("TimeoutSeconds")?;
    if heartbeat < timeout {
        return None;
    }
    Some(Finding::new(
        Severity::Warning,
        "heartbeat-not-below-timeout",
        format!(
            "HeartbeatSeconds ({heartbeat}) is not less than TimeoutSeconds ({timeout}): the heartbeat limit never fires first"
        ),
        "make \"HeartbeatSeconds\" smaller than \"TimeoutSeconds\", or drop it",
    ))
}

/// A rejection then fails the whole execution as an unexpected error.
fn approval_rejection_not_caught(task: &Task<'_>) -> Option<Finding> {
    if !task.is_approval() || task.handles("ApprovalRejected", &["Catch"]) {
        return None;
    }
    Some(Finding::new(
        Severity::Warning,
        "approval-rejection-not-caught",
        "the approval task has no Catch for ApprovalRejected: a rejection ends the execution as an unhandled failure".to_owned(),
        "add a Catch with \"ErrorEquals\": [\"ApprovalRejected\"] leading to the rejected path",
    ))
}

/// Whatever the approver chose, an unchecked success path goes on as approved.
fn approval_decision_not_checked(task: &Task<'_>) -> Option<Finding> {
    if !task.is_approval() {
        return None;
    }
    let decision = match task.result_path() {
        Some(path) => format!("{path}.decision"),
        None => "$.decision".to_owned(),
    };
    if every_success_path_checks(task, &decision) {
        return None;
    }
    let shown = match task.at.language {
        QueryLanguage::JsonPath => decision,
        QueryLanguage::Jsonata => "the decision (a Condition reading its decision)".to_owned(),
    };
    Some(Finding::new(
        Severity::Warning,
        "approval-decision-not-checked",
        format!(
            "a success path after the approval task reaches its end without a Choice on {shown}"
        ),
        "add a Choice on the decision (e.g. \"Variable\": \"$.approval.decision\", or a JSONata \"Condition\" on its decision) before acting",
    ))
}

/// A callback that times out should lead somewhere deliberate.
fn timeout_not_handled(task: &Task<'_>) -> Option<Finding> {
    kind(task)?;
    if task.handles("States.Timeout", &["Catch", "Retry"])
        || task.handles("States.ALL", &["Catch", "Retry"])
    {
        return None;
    }
    Some(Finding::new(
        Severity::Info,
        "timeout-not-handled",
        "no Catch or Retry handles States.Timeout on this callback task: a timeout fails the execution".to_owned(),
        "add a Catch for [\"States.Timeout\"] leading to a state that reports or retries the lost callback",
    ))
}

/// Follows the task's `Next` through its siblings: every path that reaches a
/// `Succeed`, or a state with `"End": true` that is not a `Fail`, must pass a
/// Choice on the decision.
fn every_success_path_checks(task: &Task<'_>, decision: &str) -> bool {
    let states = task.at.siblings;
    let mut seen = HashSet::new();
    let mut next: Vec<&str> = match task.at.state.get("Next").and_then(Value::as_str) {
        Some(name) => vec![name],
        // The task itself ends the (branch of the) execution.
        None => return false,
    };
    while let Some(name) = next.pop() {
        if !seen.insert(name) {
            continue;
        }
        let Some(state) = states.get(name) else {
            continue;
        };
        let kind = state.get("Type").and_then(Value::as_str).unwrap_or("");
        if kind == "Choice" {
            if choice_checks(state, decision) {
                continue;
            }
            next.extend(choice_targets(state));
            continue;
        }
        if kind == "Succeed" || (kind != "Fail" && state.get("End") == Some(&Value::Bool(true))) {
            return false;
        }
        if let Some(name) = state.get("Next").and_then(Value::as_str) {
            next.push(name);
        }
    }
    true
}

/// Whether a Choice state tests the decision: a JSONPath rule's `Variable`
/// (in `And`, `Or`, `Not` too), or a JSONata `Condition` that reads `decision`.
fn choice_checks(choice: &Value, decision: &str) -> bool {
    choice
        .get("Choices")
        .and_then(Value::as_array)
        .is_some_and(|rules| rules.iter().any(|rule| rule_checks(rule, decision)))
}

fn rule_checks(rule: &Value, decision: &str) -> bool {
    let variable = rule
        .get("Variable")
        .and_then(Value::as_str)
        .is_some_and(|variable| {
            variable == decision || variable.starts_with(&format!("{decision}."))
        });
    let condition = rule
        .get("Condition")
        .and_then(Value::as_str)
        .is_some_and(|condition| condition.contains("decision"));
    let nested = ["And", "Or"]
        .iter()
        .filter_map(|field| rule.get(*field).and_then(Value::as_array))
        .flatten()
        .chain(rule.get("Not"))
        .any(|inner| rule_checks(inner, decision));
    variable || condition || nested
}

fn choice_targets(choice: &Value) -> Vec<&str> {
    choice
        .get("Choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|rule| rule.get("Next").and_then(Value::as_str))
        .chain(choice.get("Default").and_then(Value::as_str))
        .collect()
}
