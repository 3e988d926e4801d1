//! The three shapes a notifier invocation can take, told apart by the JSON
//! itself, and what the function answers to each.

use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use serde::Serialize;
use serde_json::Value;

use super::error::NotifyError;

/// What the function answers, by trigger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum NotifierResponse {
    /// SQS: the records to retry or dead-letter.
    Batch(SqsBatchResponse),
    /// Direct invoke: `{"messageId": "...", "expiresAt": "<RFC 3339>"}`.
    #[serde(rename_all = "camelCase")]
    Sent {
        /// SES's id for the message.
        message_id: Option<String>,
        /// When the links stop working, as RFC 3339 in UTC.
        expires_at: String,
    },
    /// SNS: `{"emailsSent": 1}`.
    #[serde(rename_all = "camelCase")]
    Published {
        /// Emails sent: one per record in stateless mode, one per approver
        /// not emailed before in recorded mode.
        emails_sent: usize,
    },
    /// Recorded mode, direct invoke: `{"requestId": "...", "emailsSent": 3,
    /// "expiresAt": "<RFC 3339>"}`.
    #[serde(rename_all = "camelCase")]
    Recorded {
        /// The request's id, for the operator's commands.
        request_id: String,
        /// Approvers emailed now: 0 for a redelivery that found all emailed.
        emails_sent: usize,
        /// When the links stop working, as RFC 3339 in UTC.
        expires_at: String,
    },
    /// Recorded mode, direct invoke of a refused request: its task was
    /// failed with `error` (`ApprovalRequestInvalid`) and `cause`.
    #[serde(rename_all = "camelCase")]
    Refused {
        /// The request's id (nothing was recorded under it).
        request_id: String,
        /// The error the task was failed with.
        error: String,
        /// Why: the address or the quorum at fault.
        cause: String,
    },
}

/// The shapes a notifier invocation can take.
#[derive(Debug)]
pub enum Trigger {
    /// An SQS event: each record's body is a request, or an SNS notification
    /// carrying one.
    Sqs(SqsEvent),
    /// An SNS event: each record's message is a request.
    Sns(SnsEvent),
    /// Anything else: the request itself.
    Direct(Value),
}

/// Tells the trigger from the event's own JSON.
pub fn detect(event: Value) -> Result<Trigger, NotifyError> {
    let first = event.get("Records").and_then(|records| records.get(0));
    let source = |field: &str| {
        first
            .and_then(|record| record.get(field))
            .and_then(Value::as_str)
    };
    if source("eventSource") == Some("aws:sqs") {
        return serde_json::from_value(event)
            .map(Trigger::Sqs)
            .map_err(|err| invalid_event("SQS", &err));
    }
    if source("EventSource") == Some("aws:sns") {
        return serde_json::from_value(event)
            .map(Trigger::Sns)
            .map_err(|err| invalid_event("SNS", &err));
    }
    Ok(Trigger::Direct(event))
}

fn invalid_event(trigger: &'static str, err: &serde_json::Error) -> NotifyError {
    // Position only: the event holds the request, token included.
    NotifyError::InvalidEvent {
        trigger,
        reason: format!(
            "unexpected shape at line {} column {}",
            err.line(),
            err.column()
        ),
    }
}
