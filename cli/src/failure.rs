//! A failed call of the operator commands (Step Functions, the approval
//! table), with its class taken from the one classification ([`Classify`]).

use std::fmt;

use aws_sdk_sfn::error::{ProvideErrorMetadata, SdkError};
use sfn_callback::{Classify, ErrorClass};

/// A call that failed, or an argument that names nothing.
#[derive(Debug, Clone)]
pub enum Failure {
    /// Nothing was asked of the service: a bad argument.
    Invalid(String),
    /// The service refused or did not answer.
    Call {
        call: String,
        class: ErrorClass,
        code: Option<String>,
        detail: String,
    },
}

impl Failure {
    /// A failed SDK call, classified by [`Classify`].
    pub fn of<E>(
        call: impl Into<String>,
        err: &SdkError<E, aws_sdk_sfn::config::http::HttpResponse>,
    ) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let class = err.class();
        // What happened, by kind; never the service's message, which may
        // quote the request.
        let detail = match (err, class) {
            (SdkError::ServiceError(_), ErrorClass::Transient) => {
                "Step Functions is busy or failing; try again later"
            }
            (SdkError::ServiceError(_), ErrorClass::Permanent) => "refused by Step Functions",
            (SdkError::TimeoutError(_), _) => "no answer in time; try again later",
            (SdkError::DispatchFailure(_), _) => "Step Functions could not be reached",
            (SdkError::ResponseError(_), _) => "the answer could not be read",
            (SdkError::ConstructionFailure(_), _) => "the request could not be built",
            _ => "failed",
        };
        Self::Call {
            call: call.into(),
            class,
            code: err.service_code().map(str::to_owned),
            detail: detail.to_owned(),
        }
    }
}

impl Failure {
    /// Whether the service refused the call for good (its class, from
    /// [`Classify`]): asking again gets the same answer.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Self::Call {
                class: ErrorClass::Permanent,
                ..
            }
        )
    }

    /// The service's error code, if it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Call { code, .. } => code.as_deref(),
            Self::Invalid(_) => None,
        }
    }
}

impl From<sfn_callback_approval::record::TableError> for Failure {
    /// A failed operation on the approval table, with the class the approval
    /// crate gave it.
    fn from(err: sfn_callback_approval::record::TableError) -> Self {
        let code = match &err {
            sfn_callback_approval::record::TableError::Call { code, .. } => code.clone(),
            _ => None,
        };
        Self::Call {
            call: "approval table".to_owned(),
            class: err.class(),
            code,
            detail: err.to_string(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(message) => f.write_str(message),
            Self::Call {
                call, code, detail, ..
            } => write!(f, "{call}: {detail} [{}]", code.as_deref().unwrap_or("-")),
        }
    }
}
