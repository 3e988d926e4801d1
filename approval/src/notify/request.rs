//! The approval request a state machine sends, and its validation:
//!
//! ```json
//! {"taskToken": "<token>", "to": ["approver@example.com"], "subject": "Approve deploy 42",
//!  "summary": "short text", "details": {"any": "json shown as a table"}, "expiresInSeconds": 86400}
//! ```
//!
//! Recorded mode reads two more fields: `quorum` (approvals needed, default 1)
//! and `requestedBy` (the requester's address, which never counts toward the
//! quorum). They are kept as given and checked by recorded mode alone, so the
//! stateless mode reads requests exactly as before.

use serde::Deserialize;
use serde_json::Value;
use sfn_callback::token::{TaskToken, TokenError};

use crate::text::without_format_characters;

/// Recipients per request.
pub(crate) const MAX_RECIPIENTS: usize = 50;
/// Characters in the subject.
pub(crate) const MAX_SUBJECT_CHARS: usize = 200;
/// Characters in the summary: a paragraph, not a document (`details` is for data).
pub(crate) const MAX_SUMMARY_CHARS: usize = 4_000;
/// Characters in one email address (RFC 5321's path limit).
pub(crate) const MAX_ADDRESS_CHARS: usize = 254;
/// How long links work when the request does not say: 24 hours.
pub(crate) const DEFAULT_EXPIRES_IN_SECONDS: u64 = 86_400;
/// The longest a link may work: 30 days.
pub(crate) const MAX_EXPIRES_IN_SECONDS: u64 = 30 * 86_400;

/// A valid approval request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApprovalRequest {
    pub(crate) token: TaskToken,
    pub(crate) to: Vec<String>,
    pub(crate) subject: String,
    pub(crate) summary: Option<String>,
    /// Any JSON, shown to the approver as a table.
    pub(crate) details: Option<Value>,
    pub(crate) expires_in_seconds: u64,
    /// `quorum` as given, unchecked: recorded mode checks it.
    pub(crate) quorum: Option<Value>,
    /// `requestedBy` as given, unchecked: recorded mode checks it.
    pub(crate) requested_by: Option<Value>,
}

/// Why a request cannot be sent. Messages name the field and never quote the
/// token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Not a JSON object whose fields have the expected types.
    #[error("the approval request is not a JSON object of the expected shape: {reason}")]
    Shape {
        /// The kind and position of the problem; never a value.
        reason: String,
    },
    /// No `taskToken`.
    #[error("taskToken is missing")]
    MissingToken,
    /// `taskToken` is not a usable task token.
    #[error("taskToken is invalid: {0}")]
    InvalidToken(#[from] TokenError),
    /// `to` is missing or empty.
    #[error("to is missing or empty: name 1 to {MAX_RECIPIENTS} approvers")]
    NoRecipients,
    /// `to` has more than 50 addresses.
    #[error("to has {count} addresses; the limit is {MAX_RECIPIENTS}")]
    TooManyRecipients {
        /// The addresses given.
        count: usize,
    },
    /// An entry of `to` is not an email address.
    #[error("to[{index}] is not an email address: {reason}")]
    InvalidAddress {
        /// Its position in `to`, from 0.
        index: usize,
        /// What is wrong with it.
        reason: AddressError,
    },
    /// `subject` is missing or blank.
    #[error("subject is missing or blank")]
    MissingSubject,
    /// `subject` is longer than 200 characters.
    #[error("subject is {chars} characters; the limit is {MAX_SUBJECT_CHARS}")]
    SubjectTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// `subject` has a line break or another control character.
    #[error("subject has a line break or control character")]
    SubjectHasControlCharacter,
    /// `summary` is longer than 4,000 characters.
    #[error("summary is {chars} characters; the limit is {MAX_SUMMARY_CHARS}")]
    SummaryTooLong {
        /// Its length in characters.
        chars: usize,
    },
    /// `expiresInSeconds` is not from 1 to 2,592,000 (30 days).
    #[error(
        "expiresInSeconds is {seconds}; it must be from 1 to {MAX_EXPIRES_IN_SECONDS} (30 days)"
    )]
    ExpiryOutOfRange {
        /// The value given.
        seconds: u64,
    },
}

/// Why a string is not an email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Longer than 254 characters.
    #[error("it is longer than {MAX_ADDRESS_CHARS} characters")]
    TooLong,
    /// Has whitespace or a control character.
    #[error("it has whitespace or a control character")]
    Whitespace,
    /// Has no @, or more than one.
    #[error("it must have exactly one @")]
    NotOneAt,
    /// Nothing comes before the @.
    #[error("nothing comes before the @")]
    EmptyLocalPart,
    /// The domain has no dot, or an empty label.
    #[error("the domain after the @ has no dot, or an empty label")]
    BadDomain,
}

/// Checks the syntax of one address: deliberately simple, because SES is the
/// final judge; this catches typos and injection, not every RFC 5322 corner.
pub(crate) fn check_address(address: &str) -> Result<(), AddressError> {
    if address.chars().count() > MAX_ADDRESS_CHARS {
        return Err(AddressError::TooLong);
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(AddressError::Whitespace);
    }
    let mut parts = address.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AddressError::NotOneAt);
    };
    if local.is_empty() {
        return Err(AddressError::EmptyLocalPart);
    }
    if !domain.contains('.') || domain.split('.').any(str::is_empty) {
        return Err(AddressError::BadDomain);
    }
    Ok(())
}

/// The request as sent, before validation.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Raw {
    task_token: Option<String>,
    #[serde(default)]
    to: Vec<String>,
    subject: Option<String>,
    summary: Option<String>,
    details: Option<Value>,
    expires_in_seconds: Option<u64>,
    quorum: Option<Value>,
    requested_by: Option<Value>,
}

/// Parses and validates request text.
pub(crate) fn parse(text: &str) -> Result<ApprovalRequest, RequestError> {
    let raw: Raw = serde_json::from_str(text).map_err(|err| shape_error(&err))?;
    validate(raw)
}

/// Validates a request already parsed as JSON (a direct invoke payload).
pub(crate) fn from_value(value: Value) -> Result<ApprovalRequest, RequestError> {
    let raw: Raw = serde_json::from_value(value).map_err(|err| shape_error(&err))?;
    validate(raw)
}

fn shape_error(err: &serde_json::Error) -> RequestError {
    // Only the category and position: serde's own text can quote a value.
    let reason = match err.classify() {
        serde_json::error::Category::Io | serde_json::error::Category::Eof => {
            "it ends too early".to_owned()
        }
        serde_json::error::Category::Syntax => {
            format!(
                "invalid JSON at line {} column {}",
                err.line(),
                err.column()
            )
        }
        serde_json::error::Category::Data => {
            "a field has the wrong type (taskToken, subject and summary are strings, to is a \
             list of strings, expiresInSeconds is a whole number)"
                .to_owned()
        }
    };
    RequestError::Shape { reason }
}

fn validate(raw: Raw) -> Result<ApprovalRequest, RequestError> {
    let token = TaskToken::new(raw.task_token.ok_or(RequestError::MissingToken)?)?;

    if raw.to.is_empty() {
        return Err(RequestError::NoRecipients);
    }
    if raw.to.len() > MAX_RECIPIENTS {
        return Err(RequestError::TooManyRecipients {
            count: raw.to.len(),
        });
    }
    for (index, address) in raw.to.iter().enumerate() {
        check_address(address).map_err(|reason| RequestError::InvalidAddress { index, reason })?;
    }

    Ok(ApprovalRequest {
        token,
        to: raw.to,
        subject: check_subject(raw.subject.as_deref().unwrap_or_default())?,
        summary: check_summary(raw.summary.as_deref())?,
        details: raw.details.filter(|details| !details.is_null()),
        expires_in_seconds: check_expires_in(
            raw.expires_in_seconds.unwrap_or(DEFAULT_EXPIRES_IN_SECONDS),
        )?,
        quorum: raw.quorum.filter(|quorum| !quorum.is_null()),
        requested_by: raw.requested_by.filter(|address| !address.is_null()),
    })
}

/// Checks a subject and returns it as it is shown and sealed: without format
/// characters (bidi controls, zero-width characters), which could disguise it.
pub fn check_subject(subject: &str) -> Result<String, RequestError> {
    let subject = without_format_characters(subject);
    if subject.trim().is_empty() {
        return Err(RequestError::MissingSubject);
    }
    let chars = subject.chars().count();
    if chars > MAX_SUBJECT_CHARS {
        return Err(RequestError::SubjectTooLong { chars });
    }
    // A line break in a subject is a header-injection attempt or a mistake.
    if subject.chars().any(char::is_control) {
        return Err(RequestError::SubjectHasControlCharacter);
    }
    Ok(subject)
}

/// Checks a summary and returns it as it is shown and sealed: none when
/// blank, and without format characters.
pub(crate) fn check_summary(summary: Option<&str>) -> Result<Option<String>, RequestError> {
    let Some(summary) = summary
        .map(without_format_characters)
        .filter(|summary| !summary.trim().is_empty())
    else {
        return Ok(None);
    };
    let chars = summary.chars().count();
    if chars > MAX_SUMMARY_CHARS {
        return Err(RequestError::SummaryTooLong { chars });
    }
    Ok(Some(summary))
}

/// Checks how long links may work: from 1 second to 30 days.
pub fn check_expires_in(seconds: u64) -> Result<u64, RequestError> {
    if (1..=MAX_EXPIRES_IN_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(RequestError::ExpiryOutOfRange { seconds })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const TOKEN: &str = "AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==";

    fn valid() -> Value {
        json!({
            "taskToken": TOKEN,
            "to": ["approver@example.com"],
            "subject": "Approve deploy 42",
            "summary": "short text",
            "details": {"build": 42},
            "expiresInSeconds": 3600
        })
    }

    fn with(field: &str, value: Value) -> Result<ApprovalRequest, RequestError> {
        let mut request = valid();
        request[field] = value;
        from_value(request)
    }

    fn without(field: &str) -> Result<ApprovalRequest, RequestError> {
        let mut request = valid();
        request.as_object_mut().unwrap().remove(field);
        from_value(request)
    }

    #[test]
    fn valid_request_is_read_whole() {
        let request = from_value(valid()).unwrap();
        assert_eq!(request.token.expose(), TOKEN);
        assert_eq!(request.to, ["approver@example.com"]);
        assert_eq!(request.subject, "Approve deploy 42");
        assert_eq!(request.summary.as_deref(), Some("short text"));
        assert_eq!(request.details, Some(json!({"build": 42})));
        assert_eq!(request.expires_in_seconds, 3600);
        assert_eq!((request.quorum, request.requested_by), (None, None));
    }

    #[test]
    fn quorum_and_requested_by_are_kept_as_given_for_recorded_mode_to_check() {
        let mut request = valid();
        request["quorum"] = json!("two");
        request["requestedBy"] = json!(42);
        let request = from_value(request).unwrap();
        assert_eq!(request.quorum, Some(json!("two")));
        assert_eq!(request.requested_by, Some(json!(42)));
    }

    #[test]
    fn request_text_is_parsed() {
        assert_eq!(parse(&valid().to_string()), from_value(valid()));
    }

    #[test]
    fn expiry_defaults_to_24_hours() {
        assert_eq!(
            without("expiresInSeconds").unwrap().expires_in_seconds,
            86_400
        );
    }

    #[test]
    fn expiry_of_30_days_is_accepted_and_longer_or_zero_is_refused() {
        assert!(with("expiresInSeconds", json!(2_592_000)).is_ok());
        assert_eq!(
            with("expiresInSeconds", json!(2_592_001)),
            Err(RequestError::ExpiryOutOfRange { seconds: 2_592_001 })
        );
        assert_eq!(
            with("expiresInSeconds", json!(0)),
            Err(RequestError::ExpiryOutOfRange { seconds: 0 })
        );
    }

    #[test]
    fn missing_token_is_refused() {
        assert_eq!(without("taskToken"), Err(RequestError::MissingToken));
    }

    #[test]
    fn token_with_a_space_is_refused_with_the_token_error() {
        assert!(matches!(
            with("taskToken", json!("abc def")),
            Err(RequestError::InvalidToken(TokenError::Space { .. }))
        ));
    }

    #[test]
    fn missing_or_empty_recipients_are_refused() {
        assert_eq!(without("to"), Err(RequestError::NoRecipients));
        assert_eq!(with("to", json!([])), Err(RequestError::NoRecipients));
    }

    #[test]
    fn fifty_recipients_are_accepted_and_fifty_one_refused() {
        let addresses = |n: usize| {
            json!(
                (0..n)
                    .map(|i| format!("a{i}@example.com"))
                    .collect::<Vec<_>>()
            )
        };
        assert!(with("to", addresses(50)).is_ok());
        assert_eq!(
            with("to", addresses(51)),
            Err(RequestError::TooManyRecipients { count: 51 })
        );
    }

    #[test]
    fn bad_address_is_refused_with_its_position_and_reason() {
        assert_eq!(
            with("to", json!(["ok@example.com", "nobody.example.com"])),
            Err(RequestError::InvalidAddress {
                index: 1,
                reason: AddressError::NotOneAt
            })
        );
    }

    #[test]
    fn address_checks_cover_the_common_mistakes() {
        assert_eq!(
            check_address("a@b@example.com"),
            Err(AddressError::NotOneAt)
        );
        assert_eq!(
            check_address("@example.com"),
            Err(AddressError::EmptyLocalPart)
        );
        assert_eq!(check_address("a@localhost"), Err(AddressError::BadDomain));
        assert_eq!(
            check_address("a@example..com"),
            Err(AddressError::BadDomain)
        );
        assert_eq!(check_address("a@"), Err(AddressError::BadDomain));
        assert_eq!(
            check_address("a b@example.com"),
            Err(AddressError::Whitespace)
        );
        assert_eq!(
            check_address("a@example.com\r\nBcc: x@evil.example"),
            Err(AddressError::Whitespace)
        );
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(check_address(&long), Err(AddressError::TooLong));
        assert_eq!(check_address(&long[1..]), Ok(()));
        assert_eq!(check_address("first.last+tag@mail.example.co.uk"), Ok(()));
    }

    #[test]
    fn missing_or_blank_subject_is_refused() {
        assert_eq!(without("subject"), Err(RequestError::MissingSubject));
        assert_eq!(
            with("subject", json!("  ")),
            Err(RequestError::MissingSubject)
        );
    }

    #[test]
    fn subject_of_200_characters_is_accepted_and_201_refused() {
        assert!(with("subject", json!("é".repeat(200))).is_ok());
        assert_eq!(
            with("subject", json!("é".repeat(201))),
            Err(RequestError::SubjectTooLong { chars: 201 })
        );
    }

    #[test]
    fn subject_with_a_line_break_is_refused() {
        assert_eq!(
            with("subject", json!("Approve\r\nBcc: x@evil.example")),
            Err(RequestError::SubjectHasControlCharacter)
        );
    }

    #[test]
    fn format_characters_are_stripped_from_subject_and_summary() {
        let mut request = valid();
        request["subject"] = json!("Approve\u{202E} deploy\u{200B} 42\u{2066}");
        request["summary"] = json!("\u{FEFF}short\u{200D}\u{2069} text\u{061C}\u{00AD}");

        let request = from_value(request).unwrap();

        assert_eq!(request.subject, "Approve deploy 42");
        assert_eq!(request.summary.as_deref(), Some("short text"));
    }

    #[test]
    fn subject_of_format_characters_only_is_missing() {
        assert_eq!(
            with("subject", json!("\u{200B}\u{202E}\u{2060}")),
            Err(RequestError::MissingSubject)
        );
    }

    #[test]
    fn summary_and_details_are_optional() {
        let mut request = valid();
        let object = request.as_object_mut().unwrap();
        object.remove("summary");
        object.insert("details".into(), Value::Null);
        let request = from_value(request).unwrap();
        assert_eq!((request.summary, request.details), (None, None));
    }

    #[test]
    fn overlong_summary_is_refused() {
        assert_eq!(
            with("summary", json!("s".repeat(MAX_SUMMARY_CHARS + 1))),
            Err(RequestError::SummaryTooLong {
                chars: MAX_SUMMARY_CHARS + 1
            })
        );
    }

    #[test]
    fn wrong_field_type_is_a_shape_error_that_does_not_quote_values() {
        let err = with("to", json!("approver@example.com")).unwrap_err();
        assert!(matches!(err, RequestError::Shape { .. }), "{err:?}");
        assert!(!err.to_string().contains("approver@"), "{err}");
    }

    #[test]
    fn text_that_is_not_json_is_a_shape_error() {
        assert!(matches!(parse("{nope"), Err(RequestError::Shape { .. })));
    }

    #[test]
    fn errors_never_quote_the_token() {
        let err = with("taskToken", json!(format!("{TOKEN}\n"))).unwrap_err();
        assert!(!err.to_string().contains("AQCE"), "{err}");
    }
}
