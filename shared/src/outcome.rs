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

/// What can come of an error: only a completion is ever done, so an error is
/// either permanent or transient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The same call will fail the same way: dead-letter, do not retry.
    Permanent,
    /// A later attempt may pass: hand it back for redelivery.
    Transient,
}

impl From<ErrorClass> for Class {
    fn from(class: ErrorClass) -> Self {
        match class {
            ErrorClass::Permanent => Self::Permanent,
            ErrorClass::Transient => Self::Transient,
        }
    }
}

/// An error class equals the outcome class of the same name.
impl PartialEq<Class> for ErrorClass {
    fn eq(&self, other: &Class) -> bool {
        Class::from(*self) == *other
    }
}

/// The one classification, implemented by every error our code meets: ours,
/// and the SDK errors of every service we call (Step Functions, SES, Secrets
/// Manager, `DynamoDB`) through the impl for [`SdkError`]. The batch driver and
/// the response layer take any error that implements it.
pub trait Classify {
    /// Permanent or transient.
    fn class(&self) -> ErrorClass;

    /// The error code a service answered with, for the log line. Never the
    /// service's message: nothing guarantees it does not quote the request.
    fn service_code(&self) -> Option<&str> {
        None
    }
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
    /// The message is not a valid callback (permanent).
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] MessageError),
    /// The record carries no message (permanent).
    #[error("invalid envelope: {0}")]
    InvalidEnvelope(#[from] EnvelopeError),
    /// Step Functions refused the call, and will refuse it again (permanent).
    #[error("Step Functions refused the call with {code}")]
    Refused {
        /// The service's error code, e.g. `InvalidToken`.
        code: String,
    },
    /// Step Functions is throttling or failing (transient).
    #[error("Step Functions is busy or failing ({code})")]
    Unavailable {
        /// The service's error code, e.g. `ThrottlingException`.
        code: String,
    },
    /// The call got no answer: timeout, connection failure (transient).
    #[error("no answer from Step Functions: {reason}")]
    NoAnswer {
        /// What went wrong, without the request.
        reason: String,
    },
    /// The Lambda deadline left no time for the call (transient).
    #[error("too little time left before the Lambda deadline to call Step Functions")]
    OutOfTime,
    /// The SDK could not build the request (permanent).
    #[error("the request could not be built: {reason}")]
    BadRequest {
        /// What went wrong.
        reason: String,
    },
    /// The record's handler panicked (permanent).
    #[error("the handler panicked")]
    Panicked,
    /// An earlier record of the same FIFO group failed, so this one was not
    /// tried (transient).
    #[error("not attempted: an earlier message of the same FIFO group failed")]
    BlockedByGroup,
}

impl Classify for CallbackError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::InvalidMessage(_)
            | Self::InvalidEnvelope(_)
            | Self::Refused { .. }
            | Self::BadRequest { .. }
            | Self::Panicked => ErrorClass::Permanent,
            Self::Unavailable { .. }
            | Self::NoAnswer { .. }
            | Self::OutOfTime
            | Self::BlockedByGroup => ErrorClass::Transient,
        }
    }

    /// The Step Functions error code, where the service answered with one.
    fn service_code(&self) -> Option<&str> {
        match self {
            Self::Refused { code } | Self::Unavailable { code } => Some(code),
            _ => None,
        }
    }
}

impl CallbackError {
    /// Step Functions does not know the task (`InvalidToken`, `TaskDoesNotExist`):
    /// no call with this token can succeed, so work on it should stop. Not the
    /// same as closed (`TaskTimedOut`, done): a token from another region or
    /// account is unknown too, and that message must reach the dead-letter queue.
    /// The only place that decides it.
    pub fn task_is_gone(&self) -> bool {
        matches!(self, Self::Refused { code } if TASK_UNKNOWN.contains(&code.as_str()))
    }

    /// The error of a failed Step Functions call, classified by [`Classify`].
    /// Only the error code is kept (see [`Classify::service_code`]).
    pub(crate) fn from_sdk<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> Self {
        let no_answer = |reason: &str| Self::NoAnswer {
            reason: reason.to_owned(),
        };
        match err {
            SdkError::ServiceError(_) => {
                let code = err.service_code().unwrap_or(UNKNOWN_CODE).to_owned();
                match err.class() {
                    ErrorClass::Transient => Self::Unavailable { code },
                    ErrorClass::Permanent => Self::Refused { code },
                }
            }
            SdkError::TimeoutError(_) => no_answer("the call timed out"),
            SdkError::DispatchFailure(failure) if failure.is_timeout() => {
                no_answer("the connection timed out")
            }
            SdkError::DispatchFailure(failure) if failure.is_io() => {
                no_answer("the connection failed")
            }
            SdkError::DispatchFailure(_) => no_answer("the request could not be sent"),
            SdkError::ResponseError(_) => no_answer("the response could not be read"),
            SdkError::ConstructionFailure(_) => Self::BadRequest {
                reason: "the SDK refused to build the request".to_owned(),
            },
            _ => no_answer("unknown SDK error"),
        }
    }
}

/// Any service's SDK error: a service answer by its code and HTTP status, no
/// answer at all as transient, a request the SDK could not build as permanent.
impl<E: ProvideErrorMetadata> Classify for SdkError<E, Response> {
    fn class(&self) -> ErrorClass {
        match self {
            SdkError::ServiceError(service) => class_of_code(
                service.err().code().unwrap_or(UNKNOWN_CODE),
                service.raw().status().as_u16(),
            ),
            SdkError::ConstructionFailure(_) => ErrorClass::Permanent,
            _ => ErrorClass::Transient,
        }
    }

    fn service_code(&self) -> Option<&str> {
        match self {
            SdkError::ServiceError(service) => Some(service.err().code().unwrap_or(UNKNOWN_CODE)),
            _ => None,
        }
    }
}

/// The end of one callback (or of any record: the batch driver takes any
/// error that implements [`Classify`]).
pub type Outcome<E = CallbackError> = Result<Done, E>;

/// The class of any outcome.
pub fn class_of<E: Classify>(outcome: &Outcome<E>) -> Class {
    match outcome {
        Ok(_) => Class::Done,
        Err(err) => err.class().into(),
    }
}

/// The code of a service answer without one.
const UNKNOWN_CODE: &str = "Unknown";

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
    // SES: a sending quota or rate was exceeded.
    "LimitExceededException",
    "RequestTimeout",
    "RequestTimeoutException",
    // DynamoDB: capacity or the account's request rate exceeded, or another
    // transaction on the same items.
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "TransactionInProgressException",
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

/// How a failed `SendTask*` call ends: a closed task (`TaskTimedOut`) is done,
/// as a duplicate or late delivery; anything else is an error.
pub(crate) fn completion_refused<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> Outcome {
    match err {
        SdkError::ServiceError(service) => classify_code(
            service.err().code().unwrap_or(UNKNOWN_CODE).to_owned(),
            service.raw().status().as_u16(),
        ),
        _ => Err(CallbackError::from_sdk(err)),
    }
}

/// The outcome of a completion that Step Functions answered with `code`.
fn classify_code(code: String, status: u16) -> Outcome {
    if CLOSED.contains(&code.as_str()) {
        return Ok(Done::AlreadyClosed);
    }
    match class_of_code(&code, status) {
        ErrorClass::Transient => Err(CallbackError::Unavailable { code }),
        ErrorClass::Permanent => Err(CallbackError::Refused { code }),
    }
}

/// The class of a service's error answer, whichever service gave it.
fn class_of_code(code: &str, status: u16) -> ErrorClass {
    if status >= 500 || status == 429 || TRANSIENT.contains(&code) {
        ErrorClass::Transient
    } else {
        // InvalidToken, TaskDoesNotExist, KMS access or state, AccessDenied and
        // any other 4xx: the same call will fail the same way. (InvalidOutput on a
        // success is permanent too; the client then fails the task instead.)
        ErrorClass::Permanent
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

    fn service_error(code: &str, status: u16) -> SdkError<SendTaskSuccessError, Response> {
        let metadata = aws_sdk_sfn::error::ErrorMetadata::builder()
            .code(code)
            .build();
        let status = aws_smithy_runtime_api::http::StatusCode::try_from(status).unwrap();
        SdkError::service_error(
            SendTaskSuccessError::generic(metadata),
            Response::new(status, aws_smithy_types::body::SdkBody::empty()),
        )
    }

    #[test]
    fn any_services_sdk_error_is_classified_by_its_code_and_status() {
        for (code, status, class) in [
            ("TooManyRequestsException", 429, ErrorClass::Transient),
            ("Throttling", 400, ErrorClass::Transient),
            // SES: a sending quota or rate was exceeded.
            ("LimitExceededException", 400, ErrorClass::Transient),
            ("InternalFailure", 500, ErrorClass::Transient),
            ("MessageRejected", 400, ErrorClass::Permanent),
            ("AccessDeniedException", 403, ErrorClass::Permanent),
        ] {
            let err = service_error(code, status);
            assert_eq!(Classify::class(&err), class, "{code}");
            assert_eq!(err.service_code(), Some(code));
        }
    }

    #[test]
    fn a_closed_task_is_done_only_for_a_completion() {
        let err = service_error("TaskTimedOut", 400);
        assert_eq!(completion_refused(&err), Ok(Done::AlreadyClosed));
        assert_eq!(
            CallbackError::from_sdk(&err),
            CallbackError::Refused {
                code: "TaskTimedOut".into()
            }
        );
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
