//! The two messages this crate reads, and why one is invalid.
//!
//! The callback message is what a worker sends to say how a task ended:
//!
//! ```json
//! {"taskToken": "<token>", "status": "SUCCEEDED", "output": {"any": "json"}}
//! {"taskToken": "<token>", "status": "FAILED", "error": "Code", "cause": "text"}
//! {"taskToken": "<token>", "status": "HEARTBEAT"}
//! ```
//!
//! `TaskToken` is accepted for `taskToken`. `status` is case-insensitive, also
//! takes `SUCCESS` and `FAILURE`, and defaults to `SUCCEEDED`; a missing `output`
//! means `{}`, while `"output": null` is sent as `null`. Unknown fields are ignored; a field of the wrong type is an error
//! that names it.
//!
//! The task message is what a state machine sends a worker:
//! `{"TaskToken": "<token>", "input": {...}}` (see [`parse_task_message`]).

use serde::Deserialize;
use serde_json::Value;
use serde_json::error::Category;
use serde_json::value::RawValue;

use crate::completion::{Completion, CompletionError};
use crate::token::{TaskToken, TokenError};

/// A parsed callback: which task, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callback {
    /// The task to complete.
    pub token: TaskToken,
    /// What to tell Step Functions.
    pub completion: Completion,
}

/// Why a message is not a valid callback.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The text is not a JSON object.
    #[error("message is not a callback object: {reason}")]
    NotJson {
        /// What is wrong with it.
        reason: String,
    },
    /// The message has no `taskToken` (or `TaskToken`).
    #[error("message has no taskToken")]
    MissingToken,
    /// A field has the wrong type.
    #[error("field `{field}` is invalid: {reason}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The token is not a valid task token.
    #[error("field `taskToken` is invalid: {0}")]
    Token(#[from] TokenError),
    /// The `status` is none of the known ones.
    #[error("status `{0}` is unknown; use SUCCEEDED, FAILED or HEARTBEAT")]
    UnknownStatus(String),
    /// The completion breaks a Step Functions limit.
    #[error(transparent)]
    Completion(#[from] CompletionError),
}

/// The fields we read, each kept as raw JSON so that a type error can name its field.
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(rename = "taskToken", alias = "TaskToken", borrow, default)]
    task_token: Option<&'a RawValue>,
    #[serde(borrow, default)]
    status: Option<&'a RawValue>,
    /// `null` is an output like any other: only a missing field means `{}`.
    #[serde(borrow, default, deserialize_with = "present")]
    output: Option<&'a RawValue>,
    #[serde(borrow, default)]
    error: Option<&'a RawValue>,
    #[serde(borrow, default)]
    cause: Option<&'a RawValue>,
}

/// A field that is there, whatever its value (`null` included); serde's
/// `Option` would read `null` as absent.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Succeeded,
    Failed,
    Heartbeat,
}

impl Status {
    fn parse(raw: &str) -> Result<Self, MessageError> {
        match raw.to_ascii_uppercase().as_str() {
            "SUCCEEDED" | "SUCCESS" => Ok(Self::Succeeded),
            "FAILED" | "FAILURE" => Ok(Self::Failed),
            "HEARTBEAT" => Ok(Self::Heartbeat),
            _ => Err(MessageError::UnknownStatus(raw.chars().take(40).collect())),
        }
    }
}

/// Parses a callback message from JSON text.
pub fn parse(text: &str) -> Result<Callback, MessageError> {
    // serde would read a JSON array into the struct by position: only objects are messages.
    if !text.trim_start().starts_with('{') {
        return Err(MessageError::NotJson {
            reason: "expected a JSON object".to_owned(),
        });
    }
    let raw: RawMessage<'_> = serde_json::from_str(text).map_err(|err| MessageError::NotJson {
        reason: describe_body_error(&err),
    })?;
    let token = raw.task_token.ok_or(MessageError::MissingToken)?;
    let token = TaskToken::new(string_field("taskToken", token)?)?;
    let status = match raw.status {
        Some(status) => Status::parse(&string_field("status", status)?)?,
        None => Status::Succeeded,
    };
    let completion = match status {
        Status::Succeeded => match raw.output {
            Some(output) => Completion::success_raw(output),
            None => Completion::Success {
                output: "{}".to_owned(),
            },
        },
        Status::Failed => Completion::failure(
            optional_string_field("error", raw.error)?,
            optional_string_field("cause", raw.cause)?,
        )?,
        Status::Heartbeat => Completion::Heartbeat,
    };
    Ok(Callback { token, completion })
}

fn string_field(field: &'static str, raw: &RawValue) -> Result<String, MessageError> {
    serde_json::from_str(raw.get()).map_err(|err| MessageError::Field {
        field,
        reason: describe_type_error(&err),
    })
}

fn optional_string_field(
    field: &'static str,
    raw: Option<&RawValue>,
) -> Result<Option<String>, MessageError> {
    raw.map(|raw| string_field(field, raw)).transpose()
}

/// serde's message minus its "at line 1 column 9", which points into a fragment.
fn describe_type_error(err: &serde_json::Error) -> String {
    let message = err.to_string();
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    }
}

/// serde's "duplicate field `name`", which names one of our fields and quotes
/// no value; `None` for any other error.
fn duplicate_field(err: &serde_json::Error) -> Option<String> {
    let message = describe_type_error(err);
    message.starts_with("duplicate field").then_some(message)
}

/// Why the body is not a message object. serde's data errors quote the value they
/// met ("invalid type: string \"…\""), and a bare token is a string: say it plainly instead.
fn describe_body_error(err: &serde_json::Error) -> String {
    match err.classify() {
        Category::Data => {
            duplicate_field(err).unwrap_or_else(|| "expected a JSON object".to_owned())
        }
        Category::Eof => "the JSON ends early".to_owned(),
        Category::Syntax | Category::Io => err.to_string(),
    }
}

/// A task message: the token plus the input the state machine sent.
#[derive(Debug)]
pub struct TaskMessage {
    /// The task to complete.
    pub token: TaskToken,
    /// The input to work on.
    pub input: Value,
}

#[derive(Deserialize)]
struct RawTaskMessage {
    #[serde(rename = "TaskToken", alias = "taskToken")]
    token: Option<Box<RawValue>>,
    /// `null` is an input like any other: only a missing field means "the
    /// message's other fields".
    #[serde(default, deserialize_with = "present")]
    input: Option<Value>,
    #[serde(flatten)]
    rest: serde_json::Map<String, Value>,
}

/// Parses `{"TaskToken": ..., "input": ...}`. Without `input`, the input is the
/// message's other fields, so `{"TaskToken.$": "$$.Task.Token", "orderId.$": "$.id"}` works too.
pub fn parse_task_message(text: &str) -> Result<TaskMessage, MessageError> {
    if !text.trim_start().starts_with('{') {
        return Err(MessageError::NotJson {
            reason: "expected a JSON object".to_owned(),
        });
    }
    let raw: RawTaskMessage = serde_json::from_str(text).map_err(|err| MessageError::NotJson {
        reason: duplicate_field(&err)
            .unwrap_or_else(|| format!("not a task message ({})", category_name(&err))),
    })?;
    let token = raw.token.ok_or(MessageError::MissingToken)?;
    let token: String = serde_json::from_str(token.get()).map_err(|_| MessageError::Field {
        field: "TaskToken",
        reason: "expected a string".to_owned(),
    })?;
    let token = TaskToken::new(token)?;
    let input = raw.input.unwrap_or(Value::Object(raw.rest));
    Ok(TaskMessage { token, input })
}

/// What kind of JSON error `err` is, without quoting the text.
fn category_name(err: &serde_json::Error) -> &'static str {
    match err.classify() {
        Category::Io => "unreadable",
        Category::Syntax => "invalid JSON",
        Category::Data => "unexpected shape",
        Category::Eof => "the JSON ends early",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> TaskToken {
        TaskToken::new("tok+en/=").unwrap()
    }

    #[test]
    fn explicit_null_input_is_the_input_not_the_other_fields() {
        let task = parse_task_message(r#"{"TaskToken":"tok","input":null,"other":1}"#).unwrap();
        assert_eq!(task.input, serde_json::Value::Null);
    }

    #[test]
    fn success_with_output_keeps_the_output_text() {
        let callback =
            parse(r#"{"taskToken":"tok+en/=","status":"SUCCEEDED","output":{"any":"json"}}"#);
        assert_eq!(
            callback,
            Ok(Callback {
                token: token(),
                completion: Completion::Success {
                    output: r#"{"any":"json"}"#.into()
                }
            })
        );
    }

    #[test]
    fn status_defaults_to_succeeded_and_output_to_empty_object() {
        let callback = parse(r#"{"taskToken":"tok+en/="}"#).unwrap();
        assert_eq!(
            callback.completion,
            Completion::Success {
                output: "{}".into()
            }
        );
    }

    #[test]
    fn explicit_null_output_is_sent_as_null_not_replaced() {
        let callback = parse(r#"{"taskToken":"tok+en/=","output":null}"#).unwrap();
        assert_eq!(
            callback.completion,
            Completion::Success {
                output: "null".into()
            }
        );
    }

    #[test]
    fn capitalised_task_token_alias_from_aws_samples_is_accepted() {
        let callback = parse(r#"{"TaskToken":"tok+en/=","status":"HEARTBEAT"}"#).unwrap();
        assert_eq!(
            callback,
            Callback {
                token: token(),
                completion: Completion::Heartbeat
            }
        );
    }

    #[test]
    fn status_is_case_insensitive_and_accepts_success_and_failure() {
        for (status, expect_success) in [
            ("succeeded", true),
            ("Success", true),
            ("failed", false),
            ("FAILURE", false),
        ] {
            let body = format!(r#"{{"taskToken":"t","status":"{status}"}}"#);
            let completion = parse(&body).unwrap().completion;
            assert_eq!(
                matches!(completion, Completion::Success { .. }),
                expect_success,
                "{status}"
            );
        }
    }

    #[test]
    fn failure_carries_error_and_cause() {
        let callback =
            parse(r#"{"taskToken":"t","status":"FAILED","error":"Code","cause":"text"}"#);
        assert_eq!(
            callback.unwrap().completion,
            Completion::Failure {
                error: Some("Code".into()),
                cause: Some("text".into())
            }
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        assert!(parse(r#"{"taskToken":"t","input":{"x":1},"extra":[1,2]}"#).is_ok());
    }

    #[test]
    fn unknown_status_is_invalid() {
        assert_eq!(
            parse(r#"{"taskToken":"t","status":"DONE"}"#),
            Err(MessageError::UnknownStatus("DONE".into()))
        );
    }

    #[test]
    fn wrong_type_names_the_field() {
        for (body, field) in [
            (r#"{"taskToken":"t","status":1}"#, "status"),
            (r#"{"taskToken":42}"#, "taskToken"),
            (r#"{"taskToken":"t","status":"FAILED","error":{}}"#, "error"),
            (
                r#"{"taskToken":"t","status":"FAILED","cause":[1]}"#,
                "cause",
            ),
        ] {
            let err = parse(body).unwrap_err();
            assert!(
                matches!(&err, MessageError::Field { field: named, .. } if *named == field),
                "{body}: {err}"
            );
            assert!(err.to_string().contains(field));
        }
    }

    #[test]
    fn missing_token_is_invalid() {
        assert_eq!(
            parse(r#"{"status":"SUCCEEDED"}"#),
            Err(MessageError::MissingToken)
        );
        assert_eq!(
            parse(r#"{"taskToken":null}"#),
            Err(MessageError::MissingToken)
        );
    }

    #[test]
    fn token_with_space_is_invalid_with_plus_hint() {
        let err = parse(r#"{"taskToken":"ab cd"}"#).unwrap_err();
        assert_eq!(err, MessageError::Token(TokenError::Space { position: 2 }));
    }

    #[test]
    fn duplicate_token_key_is_invalid() {
        let err = parse(r#"{"taskToken":"a","TaskToken":"b"}"#).unwrap_err();
        assert!(matches!(err, MessageError::NotJson { .. }), "{err}");
        assert!(err.to_string().contains("duplicate field"));
    }

    #[test]
    fn garbage_and_non_objects_are_not_json() {
        for body in ["", "garbage", "[1,2]", "\"text\"", "{\"taskToken\":\"t\""] {
            assert!(
                matches!(parse(body), Err(MessageError::NotJson { .. })),
                "{body}"
            );
        }
    }

    #[test]
    fn failure_with_overlong_error_is_invalid() {
        let body = format!(
            r#"{{"taskToken":"t","status":"FAILED","error":"{}"}}"#,
            "e".repeat(257)
        );
        assert_eq!(
            parse(&body),
            Err(MessageError::Completion(CompletionError::ErrorTooLong {
                chars: 257
            }))
        );
    }

    #[test]
    fn oversize_output_becomes_an_output_rejection_not_an_error() {
        let body = format!(r#"{{"taskToken":"t","output":"{}"}}"#, "x".repeat(300_000));
        let completion = parse(&body).unwrap().completion;
        assert_eq!(
            completion,
            Completion::OutputRejected {
                cause: "output is 300002 bytes; the limit is 262144".into()
            }
        );
    }

    #[test]
    fn bare_token_as_body_is_not_echoed_in_the_error() {
        let err = parse(r#""SECRET-TOKEN-VALUE""#).unwrap_err();
        assert_eq!(
            err,
            MessageError::NotJson {
                reason: "expected a JSON object".into()
            }
        );
    }

    #[test]
    fn error_messages_never_echo_the_token() {
        let secret = "SECRET-TOKEN-VALUE";
        let body = format!(r#"{{"taskToken":"{secret}","status":"NOPE"}}"#);
        let err = parse(&body).unwrap_err();
        assert!(!err.to_string().contains(secret));
    }
}
