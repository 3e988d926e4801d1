//! The `sqs-callback` function: every SQS record is a callback message (raw, or
//! inside an SNS notification); complete each token and report the failures.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;

use crate::batch::{Handled, process_sqs_batch};
use crate::client::{CallbackClient, Deadline};
use crate::config::Config;
use crate::envelope::sqs_callback_text;
use crate::handlers::complete_callback;

/// What the function builds once at cold start and borrows on every invocation.
#[derive(Debug, Clone)]
pub struct SqsCallback {
    client: Arc<CallbackClient>,
    max_concurrency: usize,
}

impl SqsCallback {
    /// The function with this client, running `config.max_concurrency` records at once.
    pub fn new(client: CallbackClient, config: &Config) -> Self {
        Self {
            client: Arc::new(client),
            max_concurrency: config.max_concurrency,
        }
    }

    /// Reads the config and builds the Step Functions client from the environment.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        let client = CallbackClient::from_env(config.retry).await;
        Ok(Self::new(client, &config))
    }

    /// Handles one SQS batch. Never fails as a whole: every record's fate is in
    /// the partial batch response.
    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let client = Arc::clone(&self.client);
        let handler = move |record: SqsMessage| {
            let client = Arc::clone(&client);
            async move { complete_record(&client, &record, deadline).await }
        };
        Ok(process_sqs_batch(event.payload.records, self.max_concurrency, handler).await)
    }
}

/// Unwraps, parses and completes one record.
async fn complete_record(
    client: &CallbackClient,
    record: &SqsMessage,
    deadline: Deadline,
) -> Handled {
    match sqs_callback_text(record) {
        Ok(text) => complete_callback(client, &text, deadline).await,
        Err(err) => Handled::new(None, Err(err.into())),
    }
}
