//! Hostile inputs, one row each, with the outcome the README documents for it.
//!
//! Each table runs every row, catches panics, and reports all the rows that did
//! not come out as documented. The outcomes:
//!
//! - *success* / *failure* / *heartbeat*: the call that will be made;
//! - *output rejected*: the task is failed with `sfn_callback.InvalidOutput`
//!   instead of being left to hang (a done outcome);
//! - every error is a `MessageError` or `EnvelopeError`, a permanent outcome:
//!   the message is redelivered until `maxReceiveCount`, then dead-lettered.

use std::panic::{AssertUnwindSafe, catch_unwind};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use serde_json::{Value, json};
use sfn_callback::completion::{Completion, CompletionError};
use sfn_callback::envelope::{EnvelopeError, sqs_callback_text};
use sfn_callback::message::{self, Callback, MessageError};
use sfn_callback::message::{TaskMessage, parse_task_message};
use sfn_callback::outcome::CallbackError;
use sfn_callback::token::TokenError;

const MIB: usize = 1024 * 1024;

/// A documented outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expect {
    /// SendTaskSuccess with an output of exactly this many bytes.
    Success { output_bytes: usize },
    /// SendTaskFailure with an `error` and a `cause` of these lengths; `cut`: the
    /// cause was cut to fit and ends with the truncation marker.
    Failure {
        error_chars: Option<usize>,
        cause_chars: Option<usize>,
        cut: bool,
    },
    /// SendTaskHeartbeat.
    Heartbeat,
    /// The output breaks the limit: the task is failed with `sfn_callback.InvalidOutput`,
    /// and the cause names the size.
    OutputRejected { bytes: usize },
    /// A task message the worker runs.
    TaskAccepted,
    /// `MessageError::NotJson`.
    NotJson,
    /// `MessageError::NotJson` naming a duplicate field.
    DuplicateField,
    /// `MessageError::MissingToken`.
    MissingToken,
    /// `MessageError::Field` naming this field.
    Field(&'static str),
    /// `MessageError::Token`.
    Token(TokenError),
    /// `MessageError::Completion(ErrorTooLong)`.
    ErrorTooLong { chars: usize },
    /// `EnvelopeError`.
    Envelope(EnvelopeError),
    /// The Lambda event itself does not deserialize (`serde_json::Error`):
    /// no record runs, and the whole batch is retried.
    EventRefused,
}

impl Expect {
    fn of_callback(result: &Result<Callback, CallbackError>) -> Self {
        match result {
            Ok(callback) => match &callback.completion {
                Completion::Success { output } => Self::Success {
                    output_bytes: output.len(),
                },
                Completion::Failure { error, cause } => Self::Failure {
                    error_chars: error.as_ref().map(|e| e.chars().count()),
                    cause_chars: cause.as_ref().map(|c| c.chars().count()),
                    cut: cause
                        .as_ref()
                        .is_some_and(|c| c.contains("[truncated by sfn-callback;")),
                },
                Completion::OutputRejected { cause } => Self::OutputRejected {
                    bytes: cause
                        .strip_prefix("output is ")
                        .and_then(|rest| rest.split(' ').next())
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0),
                },
                Completion::Heartbeat => Self::Heartbeat,
            },
            Err(CallbackError::InvalidMessage(err)) => Self::of_message_error(err),
            Err(CallbackError::InvalidEnvelope(err)) => Self::Envelope(err.clone()),
            Err(other) => panic!("a parser cannot produce {other:?}"),
        }
    }

    fn of_message_error(err: &MessageError) -> Self {
        match err {
            MessageError::NotJson { reason } if reason.starts_with("duplicate field") => {
                Self::DuplicateField
            }
            MessageError::NotJson { .. } => Self::NotJson,
            MessageError::MissingToken => Self::MissingToken,
            MessageError::Field { field, .. } => Self::Field(field),
            MessageError::Token(err) => Self::Token(err.clone()),
            MessageError::Completion(CompletionError::ErrorTooLong { chars }) => {
                Self::ErrorTooLong { chars: *chars }
            }
            other => panic!("no row expects {other:?}"),
        }
    }

    fn of_task(result: &Result<TaskMessage, MessageError>) -> Self {
        match result {
            Ok(_) => Self::TaskAccepted,
            Err(err) => Self::of_message_error(err),
        }
    }
}

/// Runs each row, catching panics; fails listing every row that did not come out
/// as documented.
fn run_table<I>(table: &str, rows: &[(&str, I, Expect)], outcome: impl Fn(&I) -> Expect) {
    let mut wrong = Vec::new();
    for (case, input, expected) in rows {
        match catch_unwind(AssertUnwindSafe(|| outcome(input))) {
            Ok(actual) if actual == *expected => {}
            Ok(actual) => wrong.push(format!("{case}: {actual:?}, documented {expected:?}")),
            Err(_) => wrong.push(format!("{case}: PANICKED, documented {expected:?}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{table}: {} of {} rows differ from their documented outcome:\n  {}",
        wrong.len(),
        rows.len(),
        wrong.join("\n  ")
    );
}

/// A callback body with `output` written as given (raw JSON text).
fn with_output(output: &str) -> String {
    format!(r#"{{"taskToken":"tok","output":{output}}}"#)
}

/// A JSON string literal of exactly `bytes` bytes, quotes included.
fn json_string_of(bytes: usize) -> String {
    format!("\"{}\"", "x".repeat(bytes - 2))
}

fn failure(error: &str, cause: &str) -> String {
    json!({"taskToken": "tok", "status": "FAILED", "error": error, "cause": cause}).to_string()
}

fn token(token: &str) -> String {
    json!({"taskToken": token, "output": {}}).to_string()
}

/// The rows every parser of a token meets alike: `message` wraps the token in
/// that parser's message.
fn invalid_token_rows(message: impl Fn(&str) -> String) -> Vec<(&'static str, String, Expect)> {
    vec![
        (
            "token with a space",
            message("ab cd"),
            Expect::Token(TokenError::Space { position: 2 }),
        ),
        (
            "token with a newline",
            message("ab\ncd"),
            Expect::Token(TokenError::ControlOrWhitespace {
                position: 2,
                code: 0x0a,
            }),
        ),
        (
            "token with a NUL",
            message("ab\0cd"),
            Expect::Token(TokenError::ControlOrWhitespace {
                position: 2,
                code: 0,
            }),
        ),
        (
            "token of 2,049 characters",
            message(&"t".repeat(2049)),
            Expect::Token(TokenError::TooLong { chars: 2049 }),
        ),
    ]
}

/// The rows every parser meets alike about its token field, `key`: not a
/// string, or given twice (also in the other spelling), which is invalid and
/// names the key.
fn token_field_rows(key: &'static str) -> Vec<(&'static str, String, Expect)> {
    vec![
        (
            "lone surrogate in the token",
            format!(r#"{{"{key}":"ab\ud800cd"}}"#),
            Expect::Field(key),
        ),
        (
            "token is a number",
            format!(r#"{{"{key}":42}}"#),
            Expect::Field(key),
        ),
        (
            "duplicate token key",
            format!(r#"{{"{key}":"a","{key}":"b"}}"#),
            Expect::DuplicateField,
        ),
        (
            "TaskToken and taskToken both",
            r#"{"TaskToken":"a","taskToken":"a"}"#.to_owned(),
            Expect::DuplicateField,
        ),
    ]
}

#[test]
#[expect(clippy::too_many_lines, reason = "a table: one row per hostile input")]
fn callback_parser_meets_each_hostile_input_with_its_documented_outcome() {
    let deep = 10_000;
    let nested = |open: &str, close: &str| format!("{}{}", open.repeat(deep), close.repeat(deep));
    let mut rows: Vec<(&str, String, Expect)> = vec![
        ("empty body", String::new(), Expect::NotJson),
        ("whitespace only", " \n\t ".to_owned(), Expect::NotJson),
        ("1 MiB of text", "x".repeat(MIB), Expect::NotJson),
        (
            "1 MiB body: a callback whose output is 1 MiB",
            with_output(&json_string_of(MIB)),
            Expect::OutputRejected { bytes: MIB },
        ),
        (
            "1 MiB body: a small callback padded with 1 MiB of JSON whitespace",
            format!("{}{}", " ".repeat(MIB), token("tok")),
            Expect::Success { output_bytes: 2 },
        ),
        ("10,000 nested arrays", nested("[", "]"), Expect::NotJson),
        ("10,000 unclosed arrays", "[".repeat(deep), Expect::NotJson),
        (
            "10,000 nested objects",
            format!("{}1{}", r#"{"a":"#.repeat(deep), "}".repeat(deep)),
            Expect::MissingToken,
        ),
        (
            "10,000 nested arrays as the output: passed on as written",
            with_output(&nested("[", "]")),
            Expect::Success {
                output_bytes: 2 * deep,
            },
        ),
        (
            "10,000 nested arrays as the taskToken",
            format!(r#"{{"taskToken":{}}}"#, nested("[", "]")),
            Expect::Field("taskToken"),
        ),
        (
            "10,000 unclosed arrays in an unknown field",
            format!(r#"{{"taskToken":"tok","x":{}}}"#, "[".repeat(deep)),
            Expect::NotJson,
        ),
        (
            "lone low surrogate in the status",
            r#"{"taskToken":"tok","status":"\udc00"}"#.to_owned(),
            Expect::Field("status"),
        ),
        (
            "lone surrogate in the error",
            r#"{"taskToken":"tok","status":"FAILED","error":"\ud800"}"#.to_owned(),
            Expect::Field("error"),
        ),
        (
            "lone surrogate in the cause",
            r#"{"taskToken":"tok","status":"FAILED","cause":"x\udbff"}"#.to_owned(),
            Expect::Field("cause"),
        ),
        (
            "lone surrogate inside the output: passed on as written",
            with_output(r#""\ud800""#),
            Expect::Success { output_bytes: 8 },
        ),
        (
            "U+FFFD (invalid UTF-8 read lossily) in the token: a valid character",
            token("ab\u{fffd}cd"),
            Expect::Success { output_bytes: 2 },
        ),
        (
            "token with a no-break space",
            token("ab\u{a0}cd"),
            Expect::Token(TokenError::ControlOrWhitespace {
                position: 2,
                code: 0xa0,
            }),
        ),
        ("empty token", token(""), Expect::Token(TokenError::Empty)),
        (
            "token of 2,048 characters",
            token(&"t".repeat(2048)),
            Expect::Success { output_bytes: 2 },
        ),
        (
            "output of exactly 262,144 bytes",
            with_output(&json_string_of(262_144)),
            Expect::Success {
                output_bytes: 262_144,
            },
        ),
        (
            "output of 262,145 bytes",
            with_output(&json_string_of(262_145)),
            Expect::OutputRejected { bytes: 262_145 },
        ),
        (
            "error of 256 characters",
            failure(&"e".repeat(256), "c"),
            Expect::Failure {
                error_chars: Some(256),
                cause_chars: Some(1),
                cut: false,
            },
        ),
        (
            "error of 257 characters",
            failure(&"e".repeat(257), "c"),
            Expect::ErrorTooLong { chars: 257 },
        ),
        (
            "cause of 32,768 characters: kept whole",
            failure("E", &"c".repeat(32_768)),
            Expect::Failure {
                error_chars: Some(1),
                cause_chars: Some(32_768),
                cut: false,
            },
        ),
        (
            "cause of 32,769 characters: cut to 32,768 with the marker",
            failure("E", &"c".repeat(32_769)),
            Expect::Failure {
                error_chars: Some(1),
                cause_chars: Some(32_768),
                cut: true,
            },
        ),
        (
            "duplicate status key",
            r#"{"taskToken":"a","status":"FAILED","status":"SUCCEEDED"}"#.to_owned(),
            Expect::DuplicateField,
        ),
        (
            "trailing garbage after the object",
            format!("{} trailing", token("tok")),
            Expect::NotJson,
        ),
        (
            "output null is sent as null, not as no output",
            with_output("null"),
            Expect::Success { output_bytes: 4 },
        ),
    ];
    for (case, status) in [
        ("status is a number", "1"),
        ("status is a list", r#"["FAILED"]"#),
        ("status is true", "true"),
    ] {
        let body = format!(r#"{{"taskToken":"tok","status":{status}}}"#);
        rows.push((case, body, Expect::Field("status")));
    }
    rows.extend(invalid_token_rows(token));
    rows.extend(token_field_rows("taskToken"));

    run_table("message::parse", &rows, |text| {
        Expect::of_callback(&message::parse(text).map_err(CallbackError::from))
    });
}

/// An SNS notification as SQS delivers it with raw message delivery off.
fn notification(message: Option<&Value>) -> String {
    let mut body = json!({
        "Type": "Notification",
        "MessageId": "5f8e3c2a-1111-2222-3333-444455556666",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:callbacks",
        "Subject": null,
        "Timestamp": "2025-01-01T00:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "c2lnbmF0dXJl",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/cert.pem",
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe"
    });
    if let (Some(message), Some(object)) = (message, body.as_object_mut()) {
        object.insert("Message".to_owned(), message.clone());
    }
    body.to_string()
}

#[test]
fn sqs_envelope_meets_each_hostile_input_with_its_documented_outcome() {
    let callback = token("tok");
    let rows: Vec<(&str, Option<String>, Expect)> = vec![
        (
            "record without a body",
            None,
            Expect::Envelope(EnvelopeError::MissingBody),
        ),
        ("empty body", Some(String::new()), Expect::NotJson),
        (
            "SNS envelope whose Message is not JSON",
            Some(notification(Some(&json!("this is not json")))),
            Expect::NotJson,
        ),
        (
            "SNS envelope whose Message is empty",
            Some(notification(Some(&json!("")))),
            Expect::NotJson,
        ),
        (
            "SNS envelope without a Message: not a real notification, read as a raw body",
            Some(notification(None)),
            Expect::MissingToken,
        ),
        (
            "SNS envelope whose Message is null: not a real notification, read as a raw body",
            Some(notification(Some(&Value::Null))),
            Expect::MissingToken,
        ),
        (
            "SNS envelope whose Message is an object, not a string: read as a raw body",
            Some(notification(Some(&json!({"taskToken": "tok"})))),
            Expect::MissingToken,
        ),
        (
            "SNS envelope carrying a callback",
            Some(notification(Some(&json!(callback)))),
            Expect::Success { output_bytes: 2 },
        ),
        (
            "SNS envelope carrying an SNS envelope: unwrapped once only",
            Some(notification(Some(&json!(notification(Some(&json!(
                callback
            ))))))),
            Expect::MissingToken,
        ),
        (
            "SNS envelope with a duplicate Message key: read as a raw body",
            Some(notification(Some(&json!(callback))).replacen('{', r#"{"Message":"x","#, 1)),
            Expect::MissingToken,
        ),
        (
            "raw callback with a notification's Type and TopicArn at the top: not unwrapped",
            Some(
                r#"{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:123456789012:t","taskToken":"tok"}"#
                    .to_owned(),
            ),
            Expect::Success { output_bytes: 2 },
        ),
        (
            "raw callback whose output looks like a notification: not unwrapped",
            Some(with_output(
                r#"{"Type":"Notification","TopicArn":"arn","Message":"x"}"#,
            )),
            Expect::Success { output_bytes: 54 },
        ),
        (
            "SNS envelope whose Message is 1 MiB of text",
            Some(notification(Some(&json!("x".repeat(MIB))))),
            Expect::NotJson,
        ),
    ];

    run_table("sqs_callback_text + message::parse", &rows, |body| {
        let mut record = SqsMessage::default();
        record.body.clone_from(body);
        let result = sqs_callback_text(&record)
            .map_err(CallbackError::from)
            .and_then(|text| message::parse(&text).map_err(CallbackError::from));
        Expect::of_callback(&result)
    });
}

#[test]
fn task_message_parser_meets_each_hostile_input_with_its_documented_outcome() {
    let task = |token: &str| json!({"TaskToken": token, "input": {"n": 1}}).to_string();
    let mut rows: Vec<(&str, String, Expect)> = vec![
        ("empty body", String::new(), Expect::NotJson),
        ("1 MiB of text", "x".repeat(MIB), Expect::NotJson),
        (
            "1 MiB input",
            json!({"TaskToken": "tok", "input": "x".repeat(MIB)}).to_string(),
            Expect::TaskAccepted,
        ),
        (
            "10,000 nested arrays as the input: over serde_json's depth limit",
            format!(
                r#"{{"TaskToken":"tok","input":{}{}}}"#,
                "[".repeat(10_000),
                "]".repeat(10_000)
            ),
            Expect::NotJson,
        ),
        (
            "lone surrogate in the input",
            r#"{"TaskToken":"tok","input":"\ud800"}"#.to_owned(),
            Expect::NotJson,
        ),
        (
            "token of 2,048 characters",
            task(&"t".repeat(2048)),
            Expect::TaskAccepted,
        ),
        ("a list", r#"["TaskToken"]"#.to_owned(), Expect::NotJson),
    ];
    rows.extend(invalid_token_rows(task));
    rows.extend(token_field_rows("TaskToken"));

    run_table("parse_task_message", &rows, |text| {
        Expect::of_task(&parse_task_message(text))
    });
}

#[test]
fn lambda_event_bytes_that_are_not_unicode_are_refused_before_any_record_runs() {
    let event = |body: &[u8]| {
        let mut bytes = br#"{"Records":[{"messageId":"m1","body":""#.to_vec();
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(br#""}]}"#);
        bytes
    };
    let rows: Vec<(&str, Vec<u8>, Expect)> = vec![
        (
            "invalid UTF-8 in a body (SQS refuses such a message, so it cannot arrive)",
            event(b"{\\\"taskToken\\\":\\\"ab\xff\xfecd\\\"}"),
            Expect::EventRefused,
        ),
        (
            "a lone surrogate escape in a body (not a Unicode string, so it cannot arrive)",
            event(br"\ud800"),
            Expect::EventRefused,
        ),
        (
            "an escaped lone surrogate inside the callback JSON: reaches the parser",
            event(br#"{\"taskToken\":\"ab\\ud800\"}"#),
            Expect::Field("taskToken"),
        ),
        (
            "a NUL escape in the token inside the callback JSON",
            event(br#"{\"taskToken\":\"ab\\u0000\"}"#),
            Expect::Token(TokenError::ControlOrWhitespace {
                position: 2,
                code: 0,
            }),
        ),
    ];

    run_table(
        "SqsEvent from bytes",
        &rows,
        |bytes| match serde_json::from_slice::<SqsEvent>(bytes) {
            Err(_) => Expect::EventRefused,
            Ok(event) => {
                let record = &event.records[0];
                let result = sqs_callback_text(record)
                    .map_err(CallbackError::from)
                    .and_then(|text| message::parse(&text).map_err(CallbackError::from));
                Expect::of_callback(&result)
            }
        },
    );
}

/// Found by the property tests: `serde_json`'s default float parser can land one
/// unit in the last place off, so a worker's handler saw a different number than
/// the state machine sent. The shared crate enables `float_roundtrip`.
#[test]
fn task_input_numbers_reach_the_handler_exactly_as_sent() {
    let input =
        json!({"x": 0.000_011_112_228_786_540_141_f64, "max": f64::MAX, "tiny": 5e-324_f64});

    let task = parse_task_message(&json!({"TaskToken": "tok", "input": input}).to_string());

    assert_eq!(task.map(|task| task.input).ok(), Some(input));
}
