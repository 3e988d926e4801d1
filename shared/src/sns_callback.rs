//! The `sns-callback` function: SNS invokes it asynchronously with callback
//! messages. Done records return Ok; anything else returns an error whose Lambda
//! `errorType` says whether a retry can help, so Lambda retries the event and
//! finally routes it to the OnFailure destination.

use aws_lambda_events::event::sns::SnsEvent;
use lambda_runtime::{Diagnostic, LambdaEvent};

use crate::batch::log_outcome;
use crate::client::{CallbackClient, Deadline};
use crate::config::Config;
use crate::outcome::{CallbackError, Class, Outcome};
use crate::sqs_callback::complete_text;

/// Lambda `errorType` of a failure that may pass on retry.
pub const TRANSIENT_ERROR_TYPE: &str = "sfn_callback.Transient";
/// Lambda `errorType` of a failure that will never pass.
pub const PERMANENT_ERROR_TYPE: &str = "sfn_callback.Permanent";

/// An SNS event with at least one callback not done.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failed} of {total} callbacks not done; first: {first}")]
pub struct SnsCallbackError {
    /// Transient if any failure is; a retry can then help.
    pub class: Class,
    pub failed: usize,
    pub total: usize,
    pub first: CallbackError,
}

impl From<SnsCallbackError> for Diagnostic {
    fn from(err: SnsCallbackError) -> Self {
        let error_type = match err.class {
            Class::Transient => TRANSIENT_ERROR_TYPE,
            Class::Permanent | Class::Done => PERMANENT_ERROR_TYPE,
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// What the function builds once at cold start.
#[derive(Debug, Clone)]
pub struct SnsCallback {
    client: CallbackClient,
}

impl SnsCallback {
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
    pub async fn handle(&self, event: LambdaEvent<SnsEvent>) -> Result<(), SnsCallbackError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut outcomes = Vec::with_capacity(event.payload.records.len());
        for record in &event.payload.records {
            let handled = complete_text(&self.client, &record.sns.message, deadline).await;
            log_outcome(&record.sns.message_id, handled.token, &handled.outcome);
            outcomes.push(handled.outcome);
        }
        fold_outcomes(outcomes)
    }
}

/// Ok when every outcome is done; otherwise one error for the invocation.
pub fn fold_outcomes(outcomes: Vec<Outcome>) -> Result<(), SnsCallbackError> {
    let total = outcomes.len();
    let failures: Vec<CallbackError> = outcomes.into_iter().filter_map(Result::err).collect();
    let failed = failures.len();
    let class = if failures.iter().any(|err| err.class() == Class::Transient) {
        Class::Transient
    } else {
        Class::Permanent
    };
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(SnsCallbackError {
            class,
            failed,
            total,
            first,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageError;
    use crate::outcome::Done;

    #[test]
    fn all_done_is_ok() {
        assert_eq!(
            fold_outcomes(vec![Ok(Done::Completed), Ok(Done::AlreadyClosed)]),
            Ok(())
        );
    }

    #[test]
    fn any_transient_failure_makes_the_event_transient() {
        let err = fold_outcomes(vec![
            Err(CallbackError::InvalidMessage(MessageError::MissingToken)),
            Err(CallbackError::Unavailable {
                code: "ThrottlingException".into(),
            }),
        ])
        .unwrap_err();
        assert_eq!((err.class, err.failed, err.total), (Class::Transient, 2, 2));
        assert_eq!(Diagnostic::from(err).error_type, TRANSIENT_ERROR_TYPE);
    }

    #[test]
    fn permanent_failure_has_the_permanent_error_type() {
        let err = fold_outcomes(vec![Err(CallbackError::Refused {
            code: "InvalidToken".into(),
        })])
        .unwrap_err();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, PERMANENT_ERROR_TYPE);
        assert!(diagnostic.error_message.contains("InvalidToken"));
    }
}
