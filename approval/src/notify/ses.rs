//! Sending the email through SES v2, and what a failed send means for the
//! request. The class of SES's answer comes from the core's one
//! classification (`Classify` for any SDK error).

use aws_sdk_sesv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};
use aws_smithy_runtime_api::http::Response;
use sfn_callback::{Classify, ErrorClass};

use super::email::Email;
use super::error::NotifyError;

/// Sends `email` from `from` to every address in `to`; SES's message id.
pub(crate) async fn send_email(
    ses: &aws_sdk_sesv2::Client,
    from: &str,
    to: &[String],
    email: &Email,
) -> Result<Option<String>, NotifyError> {
    let content = |data: &str| {
        Content::builder()
            .data(data)
            .charset("UTF-8")
            .build()
            .map_err(|err| NotifyError::EmailNotBuilt {
                reason: err.to_string(),
            })
    };
    let message = Message::builder()
        .subject(content(&email.subject)?)
        .body(
            Body::builder()
                .html(content(&email.html)?)
                .text(content(&email.text)?)
                .build(),
        )
        .build();
    let answer = ses
        .send_email()
        .from_email_address(from)
        .destination(
            Destination::builder()
                .set_to_addresses(Some(to.to_vec()))
                .build(),
        )
        .content(EmailContent::builder().simple(message).build())
        .send()
        .await
        .map_err(|err| not_sent(&err))?;
    Ok(answer.message_id().map(str::to_owned))
}

/// A failed SES call as the notifier's error: throttling, quotas, 5xx and no
/// answer are transient; every other refusal is permanent. Only SES's error
/// code is kept: its message could quote the email.
pub(crate) fn not_sent<E: ProvideErrorMetadata>(err: &SdkError<E, Response>) -> NotifyError {
    match err {
        SdkError::ServiceError(_) => {
            let code = err.service_code().unwrap_or("Unknown").to_owned();
            match err.class() {
                ErrorClass::Transient => NotifyError::EmailUnavailable { reason: code },
                ErrorClass::Permanent => NotifyError::EmailRefused { code },
            }
        }
        SdkError::ConstructionFailure(_) => NotifyError::EmailNotBuilt {
            reason: "the SDK refused to build the request".to_owned(),
        },
        SdkError::TimeoutError(_) => NotifyError::EmailUnavailable {
            reason: "the call timed out".to_owned(),
        },
        _ => NotifyError::EmailUnavailable {
            reason: "no answer".to_owned(),
        },
    }
}
