//! Sending a decided request's completion, by the one voter who holds the
//! claim on it: the token opened from its seal, the votes read back, the
//! completion built from them, sent once, and the request marked sent unless
//! Step Functions was busy (then the claim stays, for a later vote to take
//! over once its lease is over).

use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::outcome::{CallbackError, Classify, Done, ErrorClass};

use super::page::{self, Page};
use super::recorded_page as pages;
use crate::link::KeyStore;
use crate::record::delivery::{self, Delivered, NotDelivered};
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
            tracing::error!(request_id = %request.terms.id, error = %err, "completion not sent: the link keys are unavailable");
            return pages::vote_recorded_not_sent();
        }
    };
    let Delivered { token, outcome } = match delivery::deliver(
        table, &keys, client, request, deadline,
    )
    .await
    {
        Ok(delivered) => delivered,
        Err(NotDelivered::Votes(err)) => {
            tracing::warn!(request_id = %request.terms.id, error = %err, "completion not sent: the votes could not be read");
            return match err.class() {
                ErrorClass::Transient => pages::vote_recorded_not_sent(),
                ErrorClass::Permanent => page::server_error(),
            };
        }
        Err(err) => {
            tracing::error!(request_id = %request.terms.id, error = %err, "completion not sent");
            return page::server_error();
        }
    };
    match &outcome {
        Ok(done) => tracing::info!(
            request_id = %request.terms.id,
            token = %token,
            decision = request.status.as_str(),
            outcome = ?done,
            "approval completed"
        ),
        Err(err) => tracing::warn!(
            request_id = %request.terms.id,
            token = %token,
            decision = request.status.as_str(),
            outcome = ?err.class(),
            sfn_error = err.service_code(),
            error = %err,
            "approval decided but not completed"
        ),
    }
    match outcome {
        Ok(done) => done_page(request.status, done),
        Err(err) => error_page(&err),
    }
}

/// The page for a completion Step Functions took (or had closed already).
fn done_page(status: RequestStatus, done: Done) -> Page {
    match done {
        Done::Completed | Done::FailedWithoutDetails => match status {
            RequestStatus::Rejected => page::rejected(),
            _ => page::approved(),
        },
        // The task closed before the decision reached it (it timed out): the
        // request is decided on record, and nothing more can be done.
        Done::AlreadyClosed => page::already_decided(),
        Done::OutputRejected => page::server_error(),
    }
}

/// The page for a completion that failed, read from the one classification.
fn error_page(err: &CallbackError) -> Page {
    if err.class() == ErrorClass::Transient {
        pages::vote_recorded_not_sent()
    } else if err.task_is_gone() {
        page::already_decided()
    } else {
        page::server_error()
    }
}
