//! Delivering a decided request's completion to Step Functions, by whoever
//! holds the claim on it (the deciding voter, a later voter once the lease is
//! over, or the operator's `approvals resend`): the token opened from its
//! seal, the votes read back, the completion built from them and sent once,
//! and the request marked sent when Step Functions has it or never will.

use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::completion::CompletionError;
use sfn_callback::outcome::Outcome;
use sfn_callback::token::TaskToken;

use super::decision;
use super::error::TableError;
use super::request::StoredRequest;
use super::table::ApprovalTable;
use crate::link::{self, LinkKeys, OpenError};

/// Why a claimed completion was not sent; nothing reached Step Functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NotDelivered {
    /// The stored token does not open with the link keys.
    #[error("the stored token does not open with the link keys: {0}")]
    Token(OpenError),
    /// The votes could not be read back.
    #[error("the votes could not be read: {0}")]
    Votes(TableError),
    /// The completion could not be built from the votes.
    #[error("the completion could not be built: {0}")]
    Build(CompletionError),
    /// The request is not decided, or its votes do not explain the decision.
    #[error("the votes do not explain the request's status ({status})")]
    Unexplained {
        /// The request's status.
        status: &'static str,
    },
}

/// What Step Functions answered, for the token it was about.
#[derive(Debug)]
pub struct Delivered {
    /// The task token, opened (prints as its fingerprint).
    pub token: TaskToken,
    /// The classified answer.
    pub outcome: Outcome,
}

/// Sends the completion of the decided `request`, whose claim the caller
/// holds, and marks it sent when the task has it or is gone. A busy Step
/// Functions leaves the claim for a later caller once the lease is over.
pub async fn deliver(
    table: &ApprovalTable,
    keys: &LinkKeys,
    client: &CallbackClient,
    request: &StoredRequest,
    deadline: Deadline,
) -> Result<Delivered, NotDelivered> {
    let token = link::open_token(keys, &request.terms.sealed_token).map_err(NotDelivered::Token)?;
    let votes = table
        .votes(&request.terms.id)
        .await
        .map_err(NotDelivered::Votes)?;
    let completion = match decision::completion(request.status, request.terms.quorum, &votes) {
        Some(built) => built.map_err(NotDelivered::Build)?,
        None => {
            return Err(NotDelivered::Unexplained {
                status: request.status.as_str(),
            });
        }
    };
    let outcome = client.complete(&token, completion, deadline).await;
    let settled = match &outcome {
        Ok(_) => true,
        Err(err) => err.task_is_gone(),
    };
    if settled && let Err(err) = table.mark_completion_sent(&request.terms.id).await {
        // Harmless: a later claim finds the task closed.
        tracing::warn!(request_id = %request.terms.id, error = %err, "completion sent but not marked sent");
    }
    Ok(Delivered { token, outcome })
}
