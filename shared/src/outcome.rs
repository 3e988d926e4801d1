//! How every callback ends, and the one place that decides what that means:
//! acknowledge it (done), dead-letter it (permanent) or retry it (transient).

use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sfn::operation::get_activity_task::GetActivityTaskError;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_heartbeat::SendTaskHeartbeatError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_smithy_runtime_api::client::interceptors::context::{
    Error as ErasedError, InterceptorContext,
};
use aws_smithy_runtime_api::client::orchestrator::OrchestratorError;
use aws_smithy_runtime_api::client::retries::classifiers::{
    ClassifyRetry, RetryAction, RetryClassifierPriority,
};
use aws_smithy_runtime_api::http::Response;

use crate::envelope::EnvelopeError;
use crate::message::MessageError;

/// What to do with the message that carried a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Finished: acknowledge and delete the message.
    Done,
    /// Will never succeed: let it reach the dead-letter queue.
    Permanent,
    /// May succeed later: hand it back for redelivery.
    Transient,
}

/// A callback that needs nothing more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// Step Functions took the completion.
    Completed,
    /// The task was already closed (`TaskTimedOut`): a duplicate or late delivery.
    AlreadyClosed,
    /// The success output broke the limits, or Step Functions refused it
    /// (`InvalidOutput`), so the task was failed with `sfn_callback.InvalidOutput`
    /// instead of being left to hang.
    OutputRejected,
    /// KMS refused the failure's error and cause, so the task was failed without them.
    FailedWithoutDetails,
}

/// A callback that was not completed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] MessageError),
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(#[from] EnvelopeError),
    #[error("Step Functions refused the call with {code}")]
    Refused { code: String },
    #[error("Step Functions is busy or failing ({code})")]
    Unavailable { code: String },
    #[error("no answer from Step Functions: {reason}")]
    NoAnswer { reason: String },
    #[error("too little time left before the Lambda deadline to call Step Functions")]
    OutOfTime,
    #[error("the request could not be built: {reason}")]
    BadRequest { reason: String },
    #[error("{service} refused the request: {reason}")]
    ServiceRefused {
        service: &'static str,
        reason: String,
    },
    #[error("{service} is busy or failing: {reason}")]
    ServiceUnavailable {
        service: &'static str,
        reason: String,
    },
    #[error("the handler panicked")]
    Panicked,
    #[error("not attempted: an earlier message of the same FIFO group failed")]
    BlockedByGroup,
}

impl CallbackError {
    /// The single classification of every failure.
    pub fn class(&self) -> Class {
        match self {
            Self::InvalidMessage(_)
            | Self::InvalidEnvelope(_)
            | Self::Refused { .. }
            | Self::BadRequest { .. }
            | Self::ServiceRefused { .. }
            | Self::Panicked => Class::Permanent,
            Self::Unavailable { .. }
            | Self::NoAnswer { .. }
            | Self::ServiceUnavailable { .. }
            | Self::OutOfTime
            | Self::BlockedByGroup => Class::Transient,
        }
    }

    /// The Step Functions error code, where the service answered with one.
    pub fn sfn_error_code(&self) -> Option<&str> {
        match self {
            Self::Refused { code } | Self::Unavailable { code } => Some(code),
            _ => None,
        }
    }

    /// Step Functions does not know the task (`InvalidToken`, `TaskDoesNotExist`):
    /// no call with this token can succeed, so work on it should stop. Not the
    /// same as closed (`TaskTimedOut`, done): a token from another region or
    /// account is unknown too, and that message must reach the dead-letter queue.
    pub fn task_is_gone(&self) -> bool {
        matches!(self, Self::Refused { code } if TASK_UNKNOWN.contains(&code.as_str()))
    }
}

/// The end of one callback.
pub type Outcome = Result<Done, CallbackError>;

/// The class of any outcome.
pub fn class_of(outcome: &Outcome) -> Class {
    match outcome {
        Ok(_) => Class::Done,
        Err(err) => err.class(),
    }
}

/// Error codes that mean the task is closed already: acknowledge, don't retry.
const CLOSED: &[&str] = &["TaskTimedOut"];

/// Error codes that mean Step Functions does not know the task.
const TASK_UNKNOWN: &[&str] = &["InvalidToken", "TaskDoesNotExist"];

/// Error codes that mean retrying later may work.
const TRANSIENT: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "KmsThrottlingException",
    // GetActivityTask: too many workers poll the activity at once.
    "ActivityWorkerLimitExceeded",
    "ServiceUnavailable",
    "InternalServerError",
    "InternalFailure",
    "ExpiredTokenException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Error codes after which KMS will not encrypt the failure's details.
pub(crate) const KMS_REFUSED: &[&str] = &["KmsAccessDeniedException", "KmsInvalidStateException"];

/// Throttling the SDK's standard retry does not know as throttling: Step
/// Functions answers `KmsThrottlingException` when KMS throttles the key the
/// state machine encrypts with.
const THROTTLING_UNKNOWN_TO_THE_SDK: &[&str] = &["KmsThrottlingException"];

/// A retry classifier for the Step Functions client: the SDK's standard retry
/// then backs off and retries these codes as it does its own throttling errors.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThrottlingClassifier;

impl ClassifyRetry for ThrottlingClassifier {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(err))
                if sdk_error_code(err)
                    .is_some_and(|code| THROTTLING_UNKNOWN_TO_THE_SDK.contains(&code)) =>
            {
                RetryAction::throttling_error()
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "sfn-callback throttling codes"
    }

    fn priority(&self) -> RetryClassifierPriority {
        RetryClassifierPriority::run_after(RetryClassifierPriority::transient_error_classifier())
    }
}

/// The error code of a failed Step Functions operation that can answer throttling.
fn sdk_error_code(err: &OrchestratorError<ErasedError>) -> Option<&str> {
    let err = err.as_operation_error()?;
    if let Some(err) = err.downcast_ref::<SendTaskSuccessError>() {
        err.code()
    } else if let Some(err) = err.downcast_ref::<SendTaskFailureError>() {
        err.code()
    } else if let Some(err) = err.downcast_ref::<SendTaskHeartbeatError>() {
        err.code()
    } else if let Some(err) = err.downcast_ref::<GetActivityTaskError>() {
        err.code()
    } else {
        None
    }
}

/// Classifies the answer of a `SendTask*` call that failed.
///
/// Only the error code and status are kept: service messages are not logged,
/// because nothing guarantees they never quote the request.
pub fn classify_sdk_error<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> Outcome {
    match err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let code = service.err().code().unwrap_or("Unknown").to_owned();
            classify_code(code, status)
        }
        SdkError::TimeoutError(_) => Err(CallbackError::NoAnswer {
            reason: "the call timed out".to_owned(),
        }),
        SdkError::DispatchFailure(failure) => {
            let reason = if failure.is_timeout() {
                "the connection timed out"
            } else if failure.is_io() {
                "the connection failed"
            } else {
                "the request could not be sent"
            };
            Err(CallbackError::NoAnswer {
                reason: reason.to_owned(),
            })
        }
        SdkError::ResponseError(_) => Err(CallbackError::NoAnswer {
            reason: "the response could not be read".to_owned(),
        }),
        SdkError::ConstructionFailure(_) => Err(CallbackError::BadRequest {
            reason: "the SDK refused to build the request".to_owned(),
        }),
        _ => Err(CallbackError::NoAnswer {
            reason: "unknown SDK error".to_owned(),
        }),
    }
}

fn classify_code(code: String, status: u16) -> Outcome {
    if CLOSED.contains(&code.as_str()) {
        Ok(Done::AlreadyClosed)
    } else if status >= 500 || status == 429 || TRANSIENT.contains(&code.as_str()) {
        Err(CallbackError::Unavailable { code })
    } else {
        // InvalidToken, TaskDoesNotExist, KMS access or state, AccessDenied and
        // any other 4xx: the same call will fail the same way. (InvalidOutput on a
        // success is permanent too; the client then fails the task instead.)
        Err(CallbackError::Refused { code })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_timed_out_means_already_closed() {
        assert_eq!(
            classify_code("TaskTimedOut".into(), 400),
            Ok(Done::AlreadyClosed)
        );
    }

    #[test]
    fn token_output_and_kms_access_errors_are_permanent() {
        for code in [
            "InvalidToken",
            "TaskDoesNotExist",
            "InvalidOutput",
            "KmsAccessDeniedException",
            "KmsInvalidStateException",
            "AccessDeniedException",
        ] {
            let outcome = classify_code(code.into(), 400);
            assert_eq!(class_of(&outcome), Class::Permanent, "{code}");
        }
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for (code, status) in [
            ("ThrottlingException", 400),
            ("KmsThrottlingException", 400),
            ("InternalFailure", 500),
            ("Unknown", 503),
            ("Whatever", 429),
        ] {
            let outcome = classify_code(code.into(), status);
            assert_eq!(class_of(&outcome), Class::Transient, "{code}");
        }
    }

    #[test]
    fn only_an_unknown_task_is_gone() {
        for (code, gone) in [
            ("InvalidToken", true),
            ("TaskDoesNotExist", true),
            ("TaskTimedOut", false),
            ("AccessDeniedException", false),
            ("KmsAccessDeniedException", false),
        ] {
            let err = CallbackError::Refused { code: code.into() };
            assert_eq!(err.task_is_gone(), gone, "{code}");
        }
        let busy = CallbackError::Unavailable {
            code: "InvalidToken".into(),
        };
        assert!(!busy.task_is_gone());
    }

    #[test]
    fn activity_worker_limit_is_transient() {
        let outcome = classify_code("ActivityWorkerLimitExceeded".into(), 400);
        assert_eq!(class_of(&outcome), Class::Transient);
    }

    #[test]
    fn local_failures_are_classified() {
        assert_eq!(CallbackError::OutOfTime.class(), Class::Transient);
        assert_eq!(CallbackError::BlockedByGroup.class(), Class::Transient);
        assert_eq!(CallbackError::Panicked.class(), Class::Permanent);
        assert_eq!(
            CallbackError::InvalidMessage(MessageError::MissingToken).class(),
            Class::Permanent
        );
    }
}
