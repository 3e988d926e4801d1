//! One row of `pending`: a waiting task with its times worked out.

use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};
use serde_json::{Value, json};

use super::scan::Running;
use super::waits::OpenWait;

/// A task waiting on a callback, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub execution_arn: String,
    pub execution: String,
    pub state_machine: String,
    pub state_machine_arn: String,
    pub state: String,
    pub integration: String,
    pub since: DateTime,
    pub waiting_seconds: i64,
    pub timeout_seconds: Option<i64>,
    pub heartbeat_seconds: Option<i64>,
    /// The definition could not be read: a limit the history did not record
    /// is unknown, not unset.
    pub limits_unknown: bool,
}

impl Row {
    pub fn new(execution: &Running, wait: OpenWait, now: i64) -> Self {
        Self {
            execution_arn: execution.arn.clone(),
            execution: execution.name.clone(),
            state_machine: execution.machine.name.clone(),
            state_machine_arn: execution.machine.arn.clone(),
            state: wait.state,
            integration: wait.integration,
            waiting_seconds: (now - wait.since.secs()).max(0),
            since: wait.since,
            timeout_seconds: wait.timeout_seconds,
            heartbeat_seconds: wait.heartbeat_seconds,
            limits_unknown: false,
        }
    }

    /// Seconds before `TimeoutSeconds` runs out (0 once passed).
    pub fn timeout_left_seconds(&self) -> Option<i64> {
        self.timeout_seconds
            .map(|limit| (limit - self.waiting_seconds).max(0))
    }

    /// Seconds before `HeartbeatSeconds` runs out, counted from the start of
    /// the wait: heartbeats are not in the history, and each one sent pushes
    /// the real limit back, so this is the least time left.
    pub fn heartbeat_left_seconds(&self) -> Option<i64> {
        self.heartbeat_seconds
            .map(|limit| (limit - self.waiting_seconds).max(0))
    }

    /// Whether the task is known to have no `TimeoutSeconds`.
    pub fn has_no_timeout(&self) -> bool {
        self.timeout_seconds.is_none() && !self.limits_unknown
    }

    /// What the operator should know: a limit that is not set, or unknown.
    pub fn warnings(&self) -> Vec<&'static str> {
        let mut warnings = Vec::new();
        match (self.timeout_seconds, self.limits_unknown) {
            (Some(_), _) => {}
            (None, false) => warnings.push("no TimeoutSeconds: waits up to a year"),
            (None, true) => warnings.push("TimeoutSeconds unknown: the definition was not read"),
        }
        match (self.heartbeat_seconds, self.limits_unknown) {
            (Some(_), _) => {}
            (None, false) => warnings.push("no HeartbeatSeconds"),
            (None, true) => warnings.push("HeartbeatSeconds unknown: the definition was not read"),
        }
        warnings
    }

    /// When the wait began, RFC 3339 in UTC, to the second.
    pub fn since_text(&self) -> String {
        DateTime::from_secs(self.since.secs())
            .fmt(DateTimeFormat::DateTime)
            .unwrap_or_else(|_| self.since.secs().to_string())
    }

    /// The JSON object of `--json` (field names documented in the README).
    pub fn to_json(&self) -> Value {
        json!({
            "executionArn": self.execution_arn,
            "execution": self.execution,
            "stateMachine": self.state_machine,
            "stateMachineArn": self.state_machine_arn,
            "state": self.state,
            "integration": self.integration,
            "waitingSince": self.since_text(),
            "waitingSeconds": self.waiting_seconds,
            "timeoutSeconds": self.timeout_seconds,
            "timeoutLeftSeconds": self.timeout_left_seconds(),
            "heartbeatSeconds": self.heartbeat_seconds,
            "heartbeatLeftSeconds": self.heartbeat_left_seconds(),
            "warnings": self.warnings(),
        })
    }
}
