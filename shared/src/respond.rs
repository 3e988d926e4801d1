//! Turns outcomes into what each trigger expects: the SQS partial batch
//! response, the Lambda error whose `errorType` names the class (SNS), and the
//! one log line per record. Every handler answers through here.

use std::fmt::Display;

use aws_lambda_events::event::sqs::SqsBatchResponse;
use lambda_runtime::Diagnostic;

use crate::batch::{Handled, RecordReport};
use crate::outcome::{CallbackError, Class, Classify, Done, ErrorClass};

/// Lambda `errorType` of a failure that may pass on retry.
pub const TRANSIENT_ERROR_TYPE: &str = "sfn_callback.Transient";
/// Lambda `errorType` of a failure that will never pass.
pub const PERMANENT_ERROR_TYPE: &str = "sfn_callback.Permanent";

/// An invocation with at least one record not done (SNS triggers): Lambda
/// retries the event and finally routes it to the OnFailure destination.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{failed} of {total} callbacks not done; first: {first}")]
pub struct InvocationError<E = CallbackError> {
    /// Transient if any failure is; a retry can then help.
    pub class: ErrorClass,
    pub(crate) failed: usize,
    pub(crate) total: usize,
    pub(crate) first: E,
}

impl<E: Display> From<InvocationError<E>> for Diagnostic {
    fn from(err: InvocationError<E>) -> Self {
        let error_type = match err.class {
            ErrorClass::Transient => TRANSIENT_ERROR_TYPE,
            ErrorClass::Permanent => PERMANENT_ERROR_TYPE,
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// What an invocation returns: Ok when every record is done; otherwise one
/// error for the invocation.
pub(crate) fn invocation_result<E: Classify>(
    records: Vec<Handled<E>>,
) -> Result<(), InvocationError<E>> {
    let total = records.len();
    let failures: Vec<E> = records
        .into_iter()
        .filter_map(|record| record.outcome.err())
        .collect();
    let failed = failures.len();
    let class = if failures
        .iter()
        .any(|err| err.class() == ErrorClass::Transient)
    {
        ErrorClass::Transient
    } else {
        ErrorClass::Permanent
    };
    match failures.into_iter().next() {
        None => Ok(()),
        Some(first) => Err(InvocationError {
            class,
            failed,
            total,
            first,
        }),
    }
}

/// Logs every record's line and lists the records that are not done.
pub(crate) fn sqs_batch_response<E: Classify + Display>(
    reports: &[RecordReport<E>],
) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for report in reports {
        report.handled.log(RecordId::Message(&report.message_id));
        if report.handled.class() != Class::Done {
            // An empty id makes Lambda retry the whole batch: nothing is lost.
            response.add_failure(report.message_id.clone());
        }
    }
    response
}

/// Which record a log line is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordId<'a> {
    /// An SQS or SNS message, by its `message_id`.
    Message(&'a str),
    /// An activity task, by the poller that received it.
    Poller(usize),
}

impl<E: Classify + Display> Handled<E> {
    /// The one log line per record: its id, token fingerprint, outcome and the
    /// service's error code. Never a body, never a token.
    pub(crate) fn log(&self, id: RecordId<'_>) {
        let (message_id, poller) = match id {
            RecordId::Message(message_id) => (Some(message_id), None),
            RecordId::Poller(poller) => (None, Some(poller)),
        };
        let token = self.token.map(tracing::field::display);
        match &self.outcome {
            Ok(Done::Completed) => {
                tracing::info!(
                    message_id,
                    poller,
                    token,
                    outcome = "completed",
                    "callback done"
                );
            }
            Ok(done) => tracing::warn!(message_id, poller, token, outcome = ?done, "callback done"),
            Err(err) => tracing::warn!(
                message_id,
                poller,
                token,
                outcome = ?err.class(),
                sfn_error = err.service_code(),
                error = %err,
                "callback not done"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::MessageError;
    use crate::outcome::Outcome;

    fn records(outcomes: Vec<Outcome>) -> Vec<Handled> {
        outcomes
            .into_iter()
            .map(|outcome| Handled::new(None, outcome))
            .collect()
    }

    #[test]
    fn all_done_is_ok() {
        assert_eq!(
            invocation_result::<CallbackError>(records(vec![
                Ok(Done::Completed),
                Ok(Done::AlreadyClosed)
            ])),
            Ok(())
        );
    }

    #[test]
    fn any_transient_failure_makes_the_event_transient() {
        let err = invocation_result(records(vec![
            Err(CallbackError::InvalidMessage(MessageError::MissingToken)),
            Err(CallbackError::Unavailable {
                code: "ThrottlingException".into(),
            }),
        ]))
        .unwrap_err();
        assert_eq!(
            (err.class, err.failed, err.total),
            (ErrorClass::Transient, 2, 2)
        );
        assert_eq!(Diagnostic::from(err).error_type, TRANSIENT_ERROR_TYPE);
    }

    #[test]
    fn permanent_failure_has_the_permanent_error_type() {
        let err = invocation_result(records(vec![Err(CallbackError::Refused {
            code: "InvalidToken".into(),
        })]))
        .unwrap_err();
        let diagnostic = Diagnostic::from(err);
        assert_eq!(diagnostic.error_type, PERMANENT_ERROR_TYPE);
        assert!(diagnostic.error_message.contains("InvalidToken"));
    }
}
