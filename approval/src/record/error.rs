//! Why an operation on the approval table failed, classified once: a failed
//! DynamoDB call takes the class the core gives any SDK error, and an item
//! this code cannot read is permanent (reading it again changes nothing).
//!
//! Only DynamoDB's error code is kept, never its message: the message can
//! quote a key, and a key holds a link id's digest or an address at most, but
//! nothing here should depend on that.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::http::Response;
use sfn_callback::{Classify, ErrorClass};

/// Why an operation on the approval table failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A DynamoDB call failed: refused by the service, or no answer.
    #[error("DynamoDB {operation} failed: {what}")]
    Call {
        /// The operation, e.g. `PutItem`.
        operation: &'static str,
        /// DynamoDB's error code, or what became of the call.
        what: String,
        /// The service's error code, when it answered with one.
        code: Option<String>,
        /// The class the core's one classification gave the SDK error.
        class: ErrorClass,
    },
    /// The SDK refused to build the request: a bug here, not the table.
    #[error("the DynamoDB {operation} request could not be built")]
    NotBuilt {
        /// The operation, e.g. `TransactWriteItems`.
        operation: &'static str,
    },
    /// A write was cancelled by another write to the same items, and reading
    /// them again did not explain it: a retry may pass.
    #[error("DynamoDB {operation} met a concurrent write")]
    Conflict {
        /// The operation, e.g. `TransactWriteItems`.
        operation: &'static str,
    },
    /// An item in the table is not of the shape this code writes.
    #[error("the {item} item is malformed: {reason}")]
    Malformed {
        /// Which kind of item: `request`, `approver`, `link`, ...
        item: &'static str,
        /// The attribute and what is wrong with it; never a value.
        reason: String,
    },
}

impl TableError {
    /// A failed call of `operation`, classified by the core's impl of
    /// [`Classify`] for any SDK error.
    pub fn from_sdk<E: ProvideErrorMetadata>(
        operation: &'static str,
        err: &SdkError<E, Response>,
    ) -> Self {
        let code = err.service_code().map(str::to_owned);
        let what = code.clone().unwrap_or_else(|| {
            match err {
                SdkError::TimeoutError(_) => "the call timed out",
                SdkError::DispatchFailure(_) => "the request could not be sent",
                SdkError::ResponseError(_) => "the response could not be read",
                SdkError::ConstructionFailure(_) => "the SDK refused to build the request",
                _ => "no answer",
            }
            .to_owned()
        });
        Self::Call {
            operation,
            what,
            code,
            class: err.class(),
        }
    }

    /// An item of kind `item` that does not read: `reason` names the attribute.
    pub(crate) fn malformed(item: &'static str, reason: impl Into<String>) -> Self {
        Self::Malformed {
            item,
            reason: reason.into(),
        }
    }
}

impl Classify for TableError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Call { class, .. } => *class,
            Self::Conflict { .. } => ErrorClass::Transient,
            Self::NotBuilt { .. } | Self::Malformed { .. } => ErrorClass::Permanent,
        }
    }

    fn service_code(&self) -> Option<&str> {
        match self {
            Self::Call { code, .. } => code.as_deref(),
            Self::NotBuilt { .. } | Self::Conflict { .. } | Self::Malformed { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_smithy_runtime_api::client::result::ServiceError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::error::ErrorMetadata;

    use super::*;

    fn service_error(status: u16, code: &str) -> SdkError<GetItemError, Response> {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("the key request#SECRET is bad")
            .build();
        let raw = Response::new(
            StatusCode::try_from(status).unwrap_or_else(|_| unreachable!()),
            SdkBody::empty(),
        );
        SdkError::ServiceError(
            ServiceError::builder()
                .source(GetItemError::generic(meta))
                .raw(raw)
                .build(),
        )
    }

    #[test]
    fn throttling_and_server_errors_are_transient() {
        for (status, code) in [
            (400, "ThrottlingException"),
            (500, "InternalServerError"),
            (503, "ServiceUnavailable"),
        ] {
            let err = TableError::from_sdk("GetItem", &service_error(status, code));
            assert_eq!(err.class(), ErrorClass::Transient, "{code}");
            assert_eq!(err.service_code(), Some(code));
        }
    }

    #[test]
    fn dynamodb_capacity_and_conflict_errors_are_transient() {
        for code in [
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
            "TransactionConflictException",
            "TransactionInProgressException",
        ] {
            let err = TableError::from_sdk("PutItem", &service_error(400, code));
            assert_eq!(err.class(), ErrorClass::Transient, "{code}");
        }
    }

    #[test]
    fn a_missing_table_or_access_denied_is_permanent() {
        for code in ["ResourceNotFoundException", "AccessDeniedException"] {
            let err = TableError::from_sdk("GetItem", &service_error(400, code));
            assert_eq!(err.class(), ErrorClass::Permanent, "{code}");
        }
    }

    #[test]
    fn the_message_never_reaches_the_error_text() {
        let err = TableError::from_sdk("GetItem", &service_error(400, "ValidationException"));
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(shown.contains("ValidationException"), "{shown}");
    }

    #[test]
    fn a_malformed_item_is_permanent() {
        let err = TableError::malformed("request", "quorum is not a number");
        assert_eq!(err.class(), ErrorClass::Permanent);
    }
}
