//! The `sqs-callback` function: every SQS record is a callback message (raw, or
//! inside an SNS notification); complete each token and report the failures.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::LambdaEvent;

use crate::client::CallbackClient;
use crate::config::Config;
use crate::handlers::handle_sqs_records;

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
        Ok(handle_sqs_records(event, self.max_concurrency, &self.client).await)
    }
}
