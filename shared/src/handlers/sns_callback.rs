//! The `sns-callback` function: SNS invokes it asynchronously with callback
//! messages. Done records return Ok; anything else returns an error whose Lambda
//! `errorType` says whether a retry can help (see [`crate::respond`]), so Lambda
//! retries the event and finally routes it to the OnFailure destination.

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::LambdaEvent;

use crate::client::{CallbackClient, Deadline};
use crate::config::Config;
use crate::handlers::{complete_callback, handle_sns_records};
use crate::respond::InvocationError;

/// What the function builds once at cold start.
#[derive(Debug, Clone)]
pub struct SnsCallback {
    client: CallbackClient,
}

impl SnsCallback {
    /// The function with this client.
    pub fn new(client: CallbackClient) -> Self {
        Self { client }
    }

    /// Reads the config and builds the Step Functions client from the environment.
    pub async fn from_env() -> Result<Self, lambda_runtime::Error> {
        let config = Config::from_env()?;
        Ok(Self::new(CallbackClient::from_env(config.retry).await))
    }

    /// Completes every record's callback. SNS sends one record per invocation;
    /// more are handled in order all the same.
    pub async fn handle(&self, event: LambdaEvent<SnsEvent>) -> Result<(), InvocationError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        handle_sns_records(&event.payload.records, async |message| {
            complete_callback(&self.client, message, deadline).await
        })
        .await
    }
}
