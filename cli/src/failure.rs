//! A failed Step Functions call of the operator commands, with its class
//! taken from the core's one classification ([`Classify`]).

use std::fmt;

use aws_sdk_sfn::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
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
        Self::Call {
            call: call.into(),
            class: err.class(),
            code: err.service_code().map(str::to_owned),
            detail: DisplayErrorContext(err).to_string(),
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
