//! Why an approval email was not sent, classified once: the Lambda
//! `errorType` a state machine catches, and the class the batch driver and
//! Lambda's retries act on.

use lambda_runtime::Diagnostic;
use sfn_callback::batch::NotRun;
use sfn_callback::envelope::EnvelopeError;
use sfn_callback::{CallbackError, Classify, ErrorClass};

use super::request::RequestError;
use crate::link::{KeysUnavailable, SealError};
use crate::record::TableError;

/// Why an approval email was not sent. Each variant is permanent (the same
/// request will fail again) or transient (a retry may send it), and a direct
/// invoke fails with the Lambda `errorType` named here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// The request is invalid. Permanent: `InvalidApprovalRequest`.
    #[error("invalid approval request: {0}")]
    InvalidRequest(#[from] RequestError),
    /// An SQS or SNS event without its trigger's shape. Permanent:
    /// `InvalidApprovalRequest`.
    #[error("the {trigger} event could not be read: {reason}")]
    InvalidEvent {
        /// `SQS` or `SNS`.
        trigger: &'static str,
        /// Where the shape is wrong; never the event's text.
        reason: String,
    },
    /// The links could not be sealed. Transient: `ApprovalEmailUnavailable`.
    #[error("the approval links could not be sealed: {0}")]
    Seal(#[from] SealError),
    /// The link keys are too old to trust and cannot be read again.
    /// Transient: `ApprovalEmailUnavailable`.
    #[error("the approval links could not be sealed: {0}")]
    KeysUnavailable(#[from] KeysUnavailable),
    /// The email could not be put together for SES. Permanent:
    /// `ApprovalEmailRefused`.
    #[error("the email could not be built: {reason}")]
    EmailNotBuilt {
        /// What went wrong.
        reason: String,
    },
    /// SES refused the email (an unverified sender, a rejected address, ...).
    /// Permanent: `ApprovalEmailRefused`.
    #[error("SES refused the email ({code})")]
    EmailRefused {
        /// SES's error code.
        code: String,
    },
    /// SES throttled, failed or did not answer. Transient:
    /// `ApprovalEmailUnavailable`.
    #[error("SES is busy or could not be reached ({reason})")]
    EmailUnavailable {
        /// SES's error code, or what became of the call.
        reason: String,
    },
    /// Recorded mode: the approval table failed. Classified as the table error
    /// is: transient `ApprovalEmailUnavailable`, permanent `ApprovalTableRefused`.
    #[error("the approval table failed: {0}")]
    Table(#[from] TableError),
    /// Recorded mode refused the request, and failing its task with
    /// `ApprovalRequestInvalid` did not work either. Classified as the Step
    /// Functions error is: transient `ApprovalEmailUnavailable`, permanent
    /// `ApprovalRequestInvalid`.
    #[error("the refused request's task could not be failed: {0}")]
    RefusalNotSent(CallbackError),
}

/// Retry (transient) or give up (permanent).
impl Classify for NotifyError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidRequest(_)
            | Self::InvalidEvent { .. }
            | Self::EmailNotBuilt { .. }
            | Self::EmailRefused { .. } => ErrorClass::Permanent,
            // The OS RNG or Secrets Manager failing is not the request's fault.
            Self::Seal(_) | Self::KeysUnavailable(_) | Self::EmailUnavailable { .. } => {
                ErrorClass::Transient
            }
            Self::Table(err) => err.class(),
            Self::RefusalNotSent(err) => err.class(),
        }
    }

    fn service_code(&self) -> Option<&str> {
        match self {
            Self::Table(err) => err.service_code(),
            Self::RefusalNotSent(err) => err.service_code(),
            _ => None,
        }
    }
}

impl NotifyError {
    /// The Lambda `errorType`, which a state machine's `Catch` or `Retry` names.
    pub(crate) fn error_type(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::InvalidEvent { .. } => "InvalidApprovalRequest",
            Self::EmailNotBuilt { .. } | Self::EmailRefused { .. } => "ApprovalEmailRefused",
            Self::Seal(_) | Self::KeysUnavailable(_) | Self::EmailUnavailable { .. } => {
                "ApprovalEmailUnavailable"
            }
            Self::Table(_) | Self::RefusalNotSent(_) if self.class() == ErrorClass::Transient => {
                "ApprovalEmailUnavailable"
            }
            Self::Table(_) => "ApprovalTableRefused",
            Self::RefusalNotSent(_) => "ApprovalRequestInvalid",
        }
    }
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        Self {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// Why one SQS record's email was not sent: the notifier's reason, or the
/// record itself (no body, or not run by the batch driver), as the core
/// classifies it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotSent {
    #[error(transparent)]
    Notify(#[from] NotifyError),
    #[error(transparent)]
    Record(#[from] CallbackError),
}

impl Classify for NotSent {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Notify(err) => err.class(),
            Self::Record(err) => err.class(),
        }
    }

    fn service_code(&self) -> Option<&str> {
        match self {
            Self::Notify(err) => err.service_code(),
            Self::Record(err) => err.service_code(),
        }
    }
}

impl From<NotRun> for NotSent {
    fn from(not_run: NotRun) -> Self {
        Self::Record(not_run.into())
    }
}

impl From<EnvelopeError> for NotSent {
    fn from(err: EnvelopeError) -> Self {
        Self::Record(err.into())
    }
}

#[cfg(test)]
mod tests {
    use sfn_callback::Class;

    use super::*;

    #[test]
    fn transient_notify_error_is_retried_by_the_batch_driver() {
        let err = NotSent::from(NotifyError::EmailUnavailable {
            reason: "TooManyRequestsException".into(),
        });
        assert_eq!(err.class(), Class::Transient);
        let err = NotSent::from(NotifyError::InvalidRequest(RequestError::MissingToken));
        assert_eq!(err.class(), Class::Permanent);
    }

    #[test]
    fn a_record_the_driver_did_not_run_is_classified_as_the_core_does() {
        assert_eq!(NotSent::from(NotRun::Panicked).class(), Class::Permanent);
        assert_eq!(
            NotSent::from(NotRun::BlockedByGroup).class(),
            Class::Transient
        );
        assert_eq!(
            NotSent::from(EnvelopeError::MissingBody).class(),
            Class::Permanent
        );
    }
}
