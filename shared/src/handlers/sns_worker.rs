//! The SNS worker adapter: each notification's `Message` is a task message. A
//! record that is not done makes the invocation fail, so Lambda retries the
//! event and finally sends it to the OnFailure destination.

use std::future::Future;

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::LambdaEvent;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::{CallbackClient, Deadline};
use crate::config::WorkerSettings;
use crate::respond::{InvocationError, RecordId, invocation_result, log_outcome};
use crate::worker::{TaskFailure, TaskHandler, Typed, Work, typed, work_from_env};

/// The worker for an SNS trigger. Build it with [`SnsWorker::from_env`] from a
/// typed handler (see [`crate::worker`]), or with [`SnsWorker::new`] from any
/// [`TaskHandler`].
#[derive(Debug)]
pub struct SnsWorker<H> {
    work: Work<H>,
}

impl<F, I> SnsWorker<Typed<F, I>> {
    /// The worker for a typed handler, `async fn(I) -> Result<O, E>`. Reads
    /// `MAX_CONCURRENCY`, `HEARTBEAT_INTERVAL_SECONDS` and the client's settings
    /// from the environment; an unusable value fails Init, naming the variable.
    pub async fn from_env<O, E, Fut>(handler: F) -> Result<Self, lambda_runtime::Error>
    where
        F: Fn(I) -> Fut + Send + Sync + 'static,
        I: DeserializeOwned + 'static,
        Fut: Future<Output = Result<O, E>> + Send,
        O: Serialize,
        E: Into<TaskFailure>,
    {
        Ok(Self {
            work: work_from_env(typed(handler)).await?,
        })
    }
}

impl<H: TaskHandler> SnsWorker<H> {
    /// The worker for any [`TaskHandler`], with this client and these settings.
    pub fn new(client: CallbackClient, handler: H, settings: WorkerSettings) -> Self {
        Self {
            work: Work {
                client,
                handler,
                settings,
            },
        }
    }

    /// Works on every record's task message. An error when any is not done;
    /// its `errorType` says whether a retry can help.
    pub async fn handle(&self, event: LambdaEvent<SnsEvent>) -> Result<(), InvocationError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut outcomes = Vec::with_capacity(event.payload.records.len());
        for record in &event.payload.records {
            let handled = self.work.on_text(&record.sns.message, deadline).await;
            log_outcome(
                RecordId::Message(&record.sns.message_id),
                handled.token,
                &handled.outcome,
            );
            outcomes.push(handled.outcome);
        }
        invocation_result(outcomes)
    }
}
