//! The SNS worker adapter: each notification's `Message` is a task message. A
//! record that is not done makes the invocation fail, so Lambda retries the
//! event and finally sends it to the OnFailure destination.

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::LambdaEvent;
use serde::de::DeserializeOwned;

use crate::client::{CallbackClient, Deadline};
use crate::config::WorkerSettings;
use crate::handlers::handle_sns_records;
use crate::respond::InvocationError;
use crate::worker::{TaskHandler, Typed, TypedHandler, Work, typed, work_from_env};

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
    pub async fn from_env(handler: F) -> Result<Self, lambda_runtime::Error>
    where
        F: TypedHandler<I>,
        I: DeserializeOwned + 'static,
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
        handle_sns_records(&event.payload.records, async |message| {
            self.work.on_text(message, deadline).await
        })
        .await
    }
}
