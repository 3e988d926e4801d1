//! Sending a decided request's completion, by the one voter who holds the
//! claim on it: the token opened from its seal, the votes read back, the
//! completion built from them, sent once, and the request marked sent unless
//! Step Functions was busy (then the claim stays, for a later vote to take
//! over once its lease is over).

use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::outcome::{Classify, Done, ErrorClass, Outcome};

use super::page::{self, Page};
use super::recorded_page as pages;
use crate::link::{self, KeyStore};
use crate::record::decision;
use crate::record::{ApprovalTable, RequestStatus, StoredRequest};

/// Sends the completion of the decided `request` (this caller holds the
/// claim) and notes it sent, unless Step Functions was busy.
pub(crate) async fn send_completion(
    table: &ApprovalTable,
    keys: &KeyStore,
    client: &CallbackClient,
    request: &StoredRequest,
    deadline: Deadline,
) -> Page {
    let keys = match keys.keys().await {
        Ok(keys) => keys,
        Err(err) => {
            tracing::error!(request_id = %request.id, error = %err, "completion not sent: the link keys are unavailable");
            return pages::vote_recorded_not_sent();
        }
    };
    let token = match link::open_token(&keys, &request.sealed_token) {
        Ok(token) => token,
        Err(err) => {
            tracing::error!(request_id = %request.id, error = %err, "completion not sent: the stored token does not open");
            return page::server_error();
        }
    };
    let votes = match table.votes(&request.id).await {
        Ok(votes) => votes,
        Err(err) => {
            tracing::warn!(request_id = %request.id, error = %err, "completion not sent: the votes could not be read");
            return match err.class() {
                ErrorClass::Transient => pages::vote_recorded_not_sent(),
                ErrorClass::Permanent => page::server_error(),
            };
        }
    };
    let completion = match decision::completion(request.status, request.quorum, &votes) {
        Some(Ok(completion)) => completion,
        Some(Err(err)) => {
            tracing::error!(request_id = %request.id, error = %err, "completion could not be built");
            return page::server_error();
        }
        None => {
            tracing::error!(request_id = %request.id, status = request.status.as_str(), "completion not sent: the votes do not explain the decision");
            return page::server_error();
        }
    };
    let outcome = client.complete(&token, completion, deadline).await;
    let settled = match &outcome {
        Ok(_) => true,
        Err(err) => err.task_is_gone(),
    };
    if settled && let Err(err) = table.mark_completion_sent(&request.id).await {
        // Harmless: a later claim finds the task closed.
        tracing::warn!(request_id = %request.id, error = %err, "completion sent but not marked sent");
    }
    match &outcome {
        Ok(done) => tracing::info!(
            request_id = %request.id,
            token = %token,
            decision = request.status.as_str(),
            outcome = ?done,
            "approval completed"
        ),
        Err(err) => tracing::warn!(
            request_id = %request.id,
            token = %token,
            decision = request.status.as_str(),
            outcome = ?err.class(),
            sfn_error = err.service_code(),
            error = %err,
            "approval decided but not completed"
        ),
    }
    completion_page(request.status, &outcome)
}

/// The page for a completion's outcome, read from the one classification.
fn completion_page(status: RequestStatus, outcome: &Outcome) -> Page {
    match outcome {
        Ok(Done::Completed | Done::FailedWithoutDetails) => match status {
            RequestStatus::Rejected => page::rejected(),
            _ => page::approved(),
        },
        // The task closed before the decision reached it (it timed out): the
        // request is decided on record, and nothing more can be done.
        Ok(Done::AlreadyClosed) => page::already_decided(),
        Err(err) if err.class() == ErrorClass::Transient => pages::vote_recorded_not_sent(),
        Err(err) if err.task_is_gone() => page::already_decided(),
        Ok(Done::OutputRejected) | Err(_) => page::server_error(),
    }
}
