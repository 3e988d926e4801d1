//! The SQS worker adapter: each record is a task message; the batch gets a
//! partial batch response with the records that are not done.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use serde::de::DeserializeOwned;

use crate::client::CallbackClient;
use crate::config::WorkerSettings;
use crate::handlers::handle_sqs_records;
use crate::worker::{TaskHandler, Typed, TypedHandler, Work, typed, work_from_env};

/// The worker for an SQS trigger. Build it with [`SqsWorker::from_env`] from a
/// typed handler (see [`crate::worker`]), or with [`SqsWorker::new`] from any
/// [`TaskHandler`].
#[derive(Debug)]
pub struct SqsWorker<H> {
    work: Arc<Work<H>>,
}

impl<F, I> SqsWorker<Typed<F, I>> {
    /// The worker for a typed handler, `async fn(I) -> Result<O, E>`. Reads
    /// `MAX_CONCURRENCY`, `HEARTBEAT_INTERVAL_SECONDS` and the client's settings
    /// from the environment; an unusable value fails Init, naming the variable.
    pub async fn from_env(handler: F) -> Result<Self, lambda_runtime::Error>
    where
        F: TypedHandler<I>,
        I: DeserializeOwned + 'static,
    {
        Ok(Self {
            work: Arc::new(work_from_env(typed(handler)).await?),
        })
    }
}

impl<H: TaskHandler> SqsWorker<H> {
    /// The worker for any [`TaskHandler`], with this client and these settings.
    pub fn new(client: CallbackClient, handler: H, settings: WorkerSettings) -> Self {
        Self {
            work: Arc::new(Work {
                client,
                handler,
                settings,
            }),
        }
    }

    /// Works on every record of one SQS batch. Never fails as a whole: every
    /// record that is not done is in the partial batch response.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let max_concurrency = self.work.settings.max_concurrency;
        Ok(handle_sqs_records(event, max_concurrency, &self.work).await)
    }
}
