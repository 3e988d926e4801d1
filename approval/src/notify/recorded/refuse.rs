//! A refused request is answered where its state machine waits: its task is
//! failed with `ApprovalRequestInvalid` and the refusal as the cause, whatever
//! shape the request came in. Failing the task completes the request, so its
//! message is acknowledged, not retried.

use sfn_callback::client::{CallbackClient, Deadline};
use sfn_callback::completion::Completion;
use sfn_callback::token::TaskToken;
use sfn_callback::{CallbackError, Done};

use super::ballot::Refusal;
use crate::notify::error::NotifyError;

/// The error a refused request's task fails with, for the state machine's `Catch`.
pub const REQUEST_INVALID_ERROR: &str = "ApprovalRequestInvalid";

/// Fails `token`'s task with [`REQUEST_INVALID_ERROR`] and the refusal's cause.
pub(crate) async fn fail_task(
    callback: &CallbackClient,
    token: &TaskToken,
    refusal: &Refusal,
    deadline: Deadline,
) -> Result<Done, NotifyError> {
    let completion = Completion::failure(
        Some(REQUEST_INVALID_ERROR.to_owned()),
        Some(refusal.cause().to_owned()),
    )
    .map_err(|err| {
        NotifyError::RefusalNotSent(CallbackError::BadRequest {
            reason: err.to_string(),
        })
    })?;
    callback
        .complete(token, completion, deadline)
        .await
        .map_err(NotifyError::RefusalNotSent)
}
