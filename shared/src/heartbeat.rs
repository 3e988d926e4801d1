//! The heartbeat guard: keeps a task alive while its work runs, and cancels the
//! work when Step Functions says the task is closed or unknown, or when the
//! Lambda deadline would leave no time to complete it.

use std::future::Future;
use std::time::Duration;

use crate::client::{CallbackClient, Deadline};
use crate::completion::Completion;
use crate::outcome::{CallbackError, Done};
use crate::token::TaskToken;

/// How guarded work ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Guarded<T> {
    /// The work finished with this result.
    Finished(T),
    /// A heartbeat said the task is closed: the work was cancelled.
    Closed(Done),
    /// A heartbeat said Step Functions does not know the task (`InvalidToken`,
    /// `TaskDoesNotExist`): the work was cancelled, and the error is permanent,
    /// as a completion refused the same way would be.
    Gone(CallbackError),
    /// The Lambda deadline came first: the work was cancelled.
    OutOfTime,
}

impl<T> Guarded<T> {
    /// The work's result, or how the task ended without one.
    pub(crate) fn finished(self) -> Result<T, Result<Done, CallbackError>> {
        match self {
            Self::Finished(result) => Ok(result),
            Self::Closed(done) => Err(Ok(done)),
            Self::Gone(err) => Err(Err(err)),
            Self::OutOfTime => Err(Err(CallbackError::OutOfTime)),
        }
    }
}

/// Sends a heartbeat every `interval` while `work` runs. Stops as soon as the
/// work ends. A heartbeat answered with a closed or unknown task cancels the
/// work; any other failed heartbeat is logged and the next one tried.
pub async fn with_heartbeats<W, T>(
    client: &CallbackClient,
    token: &TaskToken,
    work: W,
    interval: Duration,
    deadline: Deadline,
) -> Guarded<T>
where
    W: Future<Output = T>,
{
    let heartbeats = async {
        loop {
            tokio::time::sleep(interval).await;
            match client
                .complete(token, Completion::Heartbeat, deadline)
                .await
            {
                Ok(Done::AlreadyClosed) => return Guarded::Closed(Done::AlreadyClosed),
                Err(err) if err.task_is_gone() => {
                    tracing::warn!(token = %token, error = %err, "heartbeat refused: the task is unknown; cancelling the work");
                    return Guarded::Gone(err);
                }
                Err(err) => {
                    tracing::warn!(token = %token, error = %err, "heartbeat failed; the work goes on");
                }
                Ok(_) => tracing::debug!(token = %token, "heartbeat sent"),
            }
        }
    };
    tokio::select! {
        biased;
        result = until_deadline(work, client, deadline) => result.map_or(Guarded::OutOfTime, Guarded::Finished),
        stopped = heartbeats => stopped,
    }
}

/// Runs `work` until the deadline less the client's margin and one attempt's
/// timeout, so that finished work always has time for its completion call;
/// `None` if cut off.
pub(crate) async fn until_deadline<W: Future>(
    work: W,
    client: &CallbackClient,
    deadline: Deadline,
) -> Option<W::Output> {
    let settings = client.settings();
    match deadline.remaining(settings.deadline_margin + settings.attempt_timeout) {
        Some(remaining) => tokio::time::timeout(remaining, work).await.ok(),
        None => Some(work.await),
    }
}
