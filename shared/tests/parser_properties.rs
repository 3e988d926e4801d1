//! Property tests (proptest, on stable Rust) of the code that reads untrusted
//! input: the callback-message parser, the SNS and SNS-in-SQS unwrapping, and the
//! worker's task-message parser.
//!
//! For every input: no panic, and every rejection is a typed error of the
//! documented type (`MessageError`, `EnvelopeError`) that classifies as
//! permanent and never quotes the token. Well-formed inputs are also checked
//! against a model of the format written here from the README, not from the code.
//!
//! Inputs: arbitrary strings and bytes, JSON objects with random fields and types
//! near the real shape (duplicate keys included), valid messages with random
//! edits, and sizes at the service limits.
//!
//! `cargo test` runs proptest's default of 256 cases per property; `make fuzz`
//! runs 200,000 (`PROPTEST_CASES`).

use aws_lambda_events::event::sqs::SqsMessage;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::RngAlgorithm;
use serde_json::{Map, Value};
use sfn_callback::completion::{Completion, MAX_CAUSE_CHARS, MAX_ERROR_CHARS, MAX_OUTPUT_BYTES};
use sfn_callback::envelope::{EnvelopeError, sqs_callback_text, unwrap_sns_notification};

/// The fields SNS always sends in a notification, in the order the model builds them.
const SNS_FIELDS: [&str; 5] = ["Type", "MessageId", "TopicArn", "Message", "Timestamp"];
use sfn_callback::message::parse_task_message;
use sfn_callback::message::{self, Callback, MessageError};
use sfn_callback::outcome::{CallbackError, Class, Classify};
use sfn_callback::token::{MAX_TOKEN_CHARS, TaskToken, TokenError};

// ---------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------

/// Strings that stress parsers: any Unicode, printable ASCII, JSON-ish punctuation,
/// whitespace and control characters, and token-like text.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        4 => "[ -~]{0,40}",
        2 => "[{}\\[\\]\":,\\\\ \t\r\n\u{0}\u{7f}\u{85}\u{a0}\u{2028}\u{feff}a-z0-9]{0,24}",
        4 => token_like(),
    ]
}

/// Text shaped like a real token (base64-ish), and lengths at the 2,048 limit.
fn token_like() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z0-9+/=]{1,64}",
        1 => (MAX_TOKEN_CHARS - 1..=MAX_TOKEN_CHARS + 1).prop_map(|n| "T".repeat(n)),
        1 => (0..MAX_TOKEN_CHARS + 2, "[ \t\n\u{0}\u{1f}\u{a0}]").prop_map(|(n, c)| {
            let mut token = "t".repeat(n);
            token.push_str(&c);
            token
        }),
    ]
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        tricky_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((tricky_string(), inner), 0..6)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

/// A value of any type but string or null: a wrong type for a string field.
fn wrong_type() -> impl Strategy<Value = Value> {
    json_value().prop_filter("a string or null is not a wrong type", |v| {
        !v.is_string() && !v.is_null()
    })
}

/// The status words, in random case, and others.
fn status_word() -> impl Strategy<Value = String> {
    let known = prop::sample::select(vec![
        "SUCCEEDED",
        "SUCCESS",
        "FAILED",
        "FAILURE",
        "HEARTBEAT",
        "DONE",
        "",
    ]);
    prop_oneof![
        4 => (known, prop::collection::vec(any::<bool>(), 9)).prop_map(|(word, upper)| {
            word.chars()
                .zip(upper.iter().cycle())
                .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() })
                .collect()
        }),
        1 => tricky_string(),
    ]
}

/// A string field's value as sent: a string, null, or a wrong type.
#[derive(Debug, Clone)]
enum Field {
    Text(String),
    Null,
    Wrong(Value),
}

impl Field {
    fn to_json(&self) -> Value {
        match self {
            Self::Text(text) => Value::String(text.clone()),
            Self::Null => Value::Null,
            Self::Wrong(value) => value.clone(),
        }
    }
}

fn field(text: impl Strategy<Value = String>) -> impl Strategy<Value = Field> {
    prop_oneof![
        8 => text.prop_map(Field::Text),
        1 => Just(Field::Null),
        1 => wrong_type().prop_map(Field::Wrong),
    ]
}

/// `error` values, some at the 256-character limit.
fn error_text() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => tricky_string(),
        1 => (MAX_ERROR_CHARS - 1..=MAX_ERROR_CHARS + 1, "[eé]").prop_map(|(n, c)| c.repeat(n)),
    ]
}

/// `cause` values, some at the 32,768-character limit.
fn cause_text() -> impl Strategy<Value = String> {
    prop_oneof![
        99 => tricky_string(),
        1 => (MAX_CAUSE_CHARS - 1..=MAX_CAUSE_CHARS + 2, "[cü]").prop_map(|(n, c)| c.repeat(n)),
    ]
}

/// `output` values, some at the 262,144-byte limit (a JSON string of that size).
fn output_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        199 => json_value(),
        1 => (MAX_OUTPUT_BYTES - 3..=MAX_OUTPUT_BYTES + 1)
            .prop_map(|n| Value::String("o".repeat(n - 2))),
    ]
}

/// A callback message as a model: which fields are present and what they hold.
#[derive(Debug, Clone)]
struct MessageModel {
    token_key: &'static str,
    token: Option<Field>,
    status: Option<Field>,
    output: Option<Value>,
    error: Option<Field>,
    cause: Option<Field>,
    extras: Vec<(String, Value)>,
}

const MESSAGE_KEYS: [&str; 6] = [
    "taskToken",
    "TaskToken",
    "status",
    "output",
    "error",
    "cause",
];

fn extra_fields(known: &'static [&'static str]) -> impl Strategy<Value = Vec<(String, Value)>> {
    prop::collection::vec(
        (prop_oneof!["[a-zA-Z]{1,10}", tricky_string()], json_value()),
        0..4,
    )
    .prop_map(move |fields| {
        let mut seen = std::collections::HashSet::new();
        fields
            .into_iter()
            .filter(|(key, _)| !known.contains(&key.as_str()) && seen.insert(key.clone()))
            .collect()
    })
}

fn message_model() -> impl Strategy<Value = MessageModel> {
    (
        prop::sample::select(vec!["taskToken", "TaskToken"]),
        prop::option::weighted(0.95, field(token_like())),
        prop::option::of(field(status_word())),
        prop::option::of(prop_oneof![9 => output_value(), 1 => Just(Value::Null)]),
        prop::option::of(field(error_text())),
        prop::option::of(field(cause_text())),
        extra_fields(&MESSAGE_KEYS),
    )
        .prop_map(
            |(token_key, token, status, output, error, cause, extras)| MessageModel {
                token_key,
                token,
                status,
                output,
                error,
                cause,
                extras,
            },
        )
}

impl MessageModel {
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        if let Some(token) = &self.token {
            object.insert(self.token_key.to_owned(), token.to_json());
        }
        for (key, field) in [
            ("status", &self.status),
            ("error", &self.error),
            ("cause", &self.cause),
        ] {
            if let Some(field) = field {
                object.insert(key.to_owned(), field.to_json());
            }
        }
        if let Some(output) = &self.output {
            object.insert("output".to_owned(), output.clone());
        }
        for (key, value) in &self.extras {
            object.insert(key.clone(), value.clone());
        }
        Value::Object(object)
    }

    fn text(&self) -> String {
        self.to_json().to_string()
    }
}

/// An object written out pair by pair, so keys can repeat: a real message's
/// fields, with values of any type, plus random fields.
fn object_text_near_the_shape() -> impl Strategy<Value = String> {
    let key = prop_oneof![
        6 => prop::sample::select(MESSAGE_KEYS.to_vec()).prop_map(str::to_owned),
        1 => prop::sample::select(vec!["input", "Type", "TopicArn", "Message", "taskTOKEN"]).prop_map(str::to_owned),
        1 => tricky_string(),
    ];
    let value = prop_oneof![
        3 => json_value(),
        2 => token_like().prop_map(Value::String),
        2 => status_word().prop_map(Value::String),
    ];
    prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
        let fields: Vec<String> = pairs
            .iter()
            .map(|(key, value)| format!("{}:{value}", Value::String(key.clone())))
            .collect();
        format!("{{{}}}", fields.join(","))
    })
}

/// One edit of a text: cut it, insert, delete, replace or repeat a piece.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(Index),
    Insert(Index, char),
    Delete(Index, usize),
    Replace(Index, char),
    Repeat(Index, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop_oneof![
        3 => prop::sample::select(vec!['{', '}', '[', ']', '"', ':', ',', '\\', ' ', '\0', 'u', '0', 'd', '8']),
        1 => any::<char>(),
    ];
    prop_oneof![
        any::<Index>().prop_map(Edit::Truncate),
        (any::<Index>(), c.clone()).prop_map(|(at, c)| Edit::Insert(at, c)),
        (any::<Index>(), 1..8_usize).prop_map(|(at, n)| Edit::Delete(at, n)),
        (any::<Index>(), c).prop_map(|(at, c)| Edit::Replace(at, c)),
        (any::<Index>(), 1..16_usize).prop_map(|(at, n)| Edit::Repeat(at, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let len = chars.len();
        let at = |index: &Index| if len == 0 { 0 } else { index.index(len + 1) };
        match edit {
            Edit::Truncate(index) => chars.truncate(at(index)),
            Edit::Insert(index, c) => chars.insert(at(index), *c),
            Edit::Delete(index, n) => {
                let start = at(index).min(len);
                chars.drain(start..(start + n).min(len));
            }
            Edit::Replace(index, c) => {
                if len > 0 {
                    chars[index.index(len)] = *c;
                }
            }
            Edit::Repeat(index, n) => {
                let start = at(index).min(len);
                let piece: Vec<char> = chars[start..(start + n).min(len)].to_vec();
                chars.splice(start..start, piece);
            }
        }
    }
    chars.into_iter().collect()
}

/// Valid messages, then a few random edits.
fn edited_message() -> impl Strategy<Value = String> {
    (message_model(), prop::collection::vec(edit(), 1..4))
        .prop_map(|(model, edits)| apply(&model.text(), &edits))
}

/// Arbitrary bytes, read the way text arrives (lossy UTF-8).
fn lossy_bytes() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<u8>(), 0..256)
        .prop_map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
}

/// Any input the parsers might meet.
fn any_input() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        lossy_bytes(),
        object_text_near_the_shape(),
        edited_message(),
        json_value().prop_map(|v| v.to_string()),
    ]
}

// ---------------------------------------------------------------------------
// Oracles: the format as the README states it
// ---------------------------------------------------------------------------

/// README: 1–2,048 characters, no whitespace or control character; a space is
/// named as such (a `+` URL-decoded into a space). The first bad character is
/// reported, before the length.
fn expected_token(raw: &str) -> Result<(), TokenError> {
    let first_bad = raw
        .chars()
        .enumerate()
        .find(|(_, c)| c.is_whitespace() || c.is_control());
    let chars = raw.chars().count();
    match first_bad {
        _ if raw.is_empty() => Err(TokenError::Empty),
        Some((position, ' ')) => Err(TokenError::Space { position }),
        Some((position, c)) => Err(TokenError::ControlOrWhitespace {
            position,
            code: u32::from(c),
        }),
        None if chars > MAX_TOKEN_CHARS => Err(TokenError::TooLong { chars }),
        None => Ok(()),
    }
}

/// What `message::parse` must make of a model message.
fn expected_callback(model: &MessageModel) -> Result<(String, Completion), MessageError> {
    let token = match &model.token {
        None | Some(Field::Null) => return Err(MessageError::MissingToken),
        Some(Field::Wrong(_)) => return Err(field_error("taskToken")),
        Some(Field::Text(token)) => token.clone(),
    };
    expected_token(&token)?;
    let status = match &model.status {
        None | Some(Field::Null) => "SUCCEEDED".to_owned(),
        Some(Field::Wrong(_)) => return Err(field_error("status")),
        Some(Field::Text(status)) => status.to_ascii_uppercase(),
    };
    let completion = match status.as_str() {
        // Only a missing output means `{}`: `null` is sent as `null`.
        "SUCCEEDED" | "SUCCESS" => match model.output.as_ref() {
            None => Completion::Success {
                output: "{}".to_owned(),
            },
            Some(output) => {
                let output = output.to_string();
                if output.len() > MAX_OUTPUT_BYTES {
                    Completion::OutputRejected {
                        cause: format!(
                            "output is {} bytes; the limit is {MAX_OUTPUT_BYTES}",
                            output.len()
                        ),
                    }
                } else {
                    Completion::Success { output }
                }
            }
        },
        "FAILED" | "FAILURE" => {
            let error = optional_text(model.error.as_ref(), "error")?;
            let cause = optional_text(model.cause.as_ref(), "cause")?;
            if let Some(chars) = error.as_ref().map(|e| e.chars().count())
                && chars > MAX_ERROR_CHARS
            {
                return Err(MessageError::Completion(
                    sfn_callback::completion::CompletionError::ErrorTooLong { chars },
                ));
            }
            Completion::Failure {
                error,
                cause: cause.map(|cause| expected_cause(&cause)),
            }
        }
        "HEARTBEAT" => Completion::Heartbeat,
        _ => {
            let Some(Field::Text(raw)) = &model.status else {
                unreachable!("only a text status can be unknown");
            };
            return Err(MessageError::UnknownStatus(raw.chars().take(40).collect()));
        }
    };
    Ok((token, completion))
}

fn field_error(field: &'static str) -> MessageError {
    MessageError::Field {
        field,
        reason: String::new(),
    }
}

fn optional_text(
    field: Option<&Field>,
    name: &'static str,
) -> Result<Option<String>, MessageError> {
    match field {
        None | Some(Field::Null) => Ok(None),
        Some(Field::Wrong(_)) => Err(field_error(name)),
        Some(Field::Text(text)) => Ok(Some(text.clone())),
    }
}

/// README: a cause over 32,768 characters is cut to fit and ends with
/// `… [truncated by sfn-callback; N characters in all]`.
fn expected_cause(cause: &str) -> String {
    let chars = cause.chars().count();
    if chars <= MAX_CAUSE_CHARS {
        return cause.to_owned();
    }
    let marker = format!("… [truncated by sfn-callback; {chars} characters in all]");
    let keep = MAX_CAUSE_CHARS - marker.chars().count();
    cause.chars().take(keep).collect::<String>() + &marker
}

/// Compares errors, ignoring the wording of a field error's reason.
fn same_error(actual: &MessageError, expected: &MessageError) -> bool {
    match (actual, expected) {
        (MessageError::Field { field: a, .. }, MessageError::Field { field: b, .. }) => a == b,
        _ => actual == expected,
    }
}

// ---------------------------------------------------------------------------
// Invariants that hold for every input
// ---------------------------------------------------------------------------

/// Every accepted callback is sendable as it stands; every rejection is a
/// permanent `MessageError` that does not quote the token.
fn check_callback(
    text: &str,
    parsed: &Result<Callback, MessageError>,
) -> Result<(), TestCaseError> {
    match parsed {
        Ok(callback) => {
            prop_assert_eq!(expected_token(callback.token.expose()), Ok(()));
            check_completion(&callback.completion)?;
        }
        Err(err) => {
            prop_assert_eq!(
                CallbackError::from(err.clone()).class(),
                Class::Permanent,
                "{}",
                err
            );
            if let Some(token) = lone_token(text) {
                prop_assert!(
                    !err.to_string().contains(&token),
                    "the error quotes the token: {}",
                    err
                );
            }
            if !is_json(text) || !text.trim_start().starts_with('{') {
                prop_assert!(
                    matches!(err, MessageError::NotJson { .. }),
                    "not a JSON object, yet {:?}",
                    err
                );
            }
        }
    }
    Ok(())
}

fn check_completion(completion: &Completion) -> Result<(), TestCaseError> {
    match completion {
        Completion::Success { output } => {
            prop_assert!(output.len() <= MAX_OUTPUT_BYTES);
            prop_assert!(is_json(output), "output is not JSON: {:.80}", output);
        }
        Completion::Failure { error, cause } => {
            prop_assert!(
                error
                    .as_ref()
                    .is_none_or(|e| e.chars().count() <= MAX_ERROR_CHARS)
            );
            prop_assert!(
                cause
                    .as_ref()
                    .is_none_or(|c| c.chars().count() <= MAX_CAUSE_CHARS)
            );
        }
        Completion::OutputRejected { cause } => prop_assert!(!cause.is_empty()),
        Completion::Heartbeat => {}
    }
    Ok(())
}

/// JSON text by `serde_json`'s own reading (no depth limit, as when skipping).
fn is_json(text: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

/// The token of a message object, when it is at least 8 characters and appears
/// nowhere else in the text (so an error quoting it can only have taken it from there).
fn lone_token(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    let token = ["taskToken", "TaskToken"]
        .iter()
        .find_map(|key| value.get(key)?.as_str())?;
    (token.chars().count() >= 8 && text.matches(token).count() == 1).then(|| token.to_owned())
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// Proptest's defaults (`PROPTEST_CASES` is honoured), with the `XorShift`
/// generator: `ChaCha` dominates the run time in an unoptimised test build.
fn config() -> ProptestConfig {
    ProptestConfig {
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn callback_parser_never_panics_and_rejects_only_with_typed_errors(text in any_input()) {
        let parsed = message::parse(&text);
        check_callback(&text, &parsed)?;
    }

    #[test]
    fn callback_parser_agrees_with_the_documented_format(model in message_model()) {
        let text = model.text();
        let parsed = message::parse(&text);
        check_callback(&text, &parsed)?;
        match (parsed, expected_callback(&model)) {
            (Ok(callback), Ok((token, completion))) => {
                prop_assert_eq!(callback.token.expose(), token.as_str());
                prop_assert_eq!(callback.completion, completion);
            }
            (Err(actual), Err(expected)) => {
                prop_assert!(same_error(&actual, &expected), "{:?} instead of {:?}", actual, expected);
            }
            (actual, expected) => {
                prop_assert!(false, "{:?} instead of {:?}", actual.map(|c| c.completion), expected.map(|e| e.1));
            }
        }
    }

    #[test]
    fn a_second_token_key_makes_the_message_invalid(
        model in message_model(),
        first in prop::sample::select(vec!["taskToken", "TaskToken"]),
        second in prop::sample::select(vec!["taskToken", "TaskToken"]),
        token in token_like(),
    ) {
        let body = model.text();
        let rest = body.strip_prefix('{').unwrap_or("}");
        let separator = if rest == "}" { "" } else { "," };
        let first_pair = format!("{}:{}", Value::String(first.to_owned()), Value::String(token.clone()));
        let second_pair = format!("{}:{}", Value::String(second.to_owned()), Value::String(token));
        let text = format!("{{{first_pair},{second_pair}{separator}{rest}");

        let parsed = message::parse(&text);

        prop_assert!(
            matches!(&parsed, Err(MessageError::NotJson { reason }) if reason.starts_with("duplicate field")),
            "{:?}", parsed.map(|c| c.completion)
        );
    }

    #[test]
    fn sns_unwrapping_never_panics_and_leaves_other_bodies_untouched(body in any_input()) {
        let unwrapped = unwrap_sns_notification(&body);
        let looks_like_notification = body.contains("\"Notification\"") && body.contains("\"TopicArn\"");
        if !looks_like_notification {
            prop_assert_eq!(unwrapped.as_ref(), body.as_str());
        }
        // And the pipe behind it never panics either.
        let parsed = message::parse(&unwrapped);
        check_callback(&unwrapped, &parsed)?;
    }

    #[test]
    fn only_real_notifications_unwrap_to_their_message(
        kind in prop::option::of(field(prop_oneof![3 => Just("Notification".to_owned()), 1 => tricky_string()])),
        message_id in prop::option::of(field(Just("5f8e3c2a-1111-2222-3333-444455556666".to_owned()))),
        topic in prop::option::of(field(Just("arn:aws:sns:us-east-1:123456789012:callbacks".to_owned()))),
        message in prop::option::of(field(any_input())),
        timestamp in prop::option::of(field(Just("2025-01-01T00:00:00.000Z".to_owned()))),
        extras in extra_fields(&SNS_FIELDS),
    ) {
        let fields = [&kind, &message_id, &topic, &message, &timestamp];
        let mut object = Map::new();
        for (key, field) in SNS_FIELDS.into_iter().zip(fields) {
            if let Some(field) = field {
                object.insert(key.to_owned(), field.to_json());
            }
        }
        for (key, value) in extras {
            object.insert(key, value);
        }
        let body = Value::Object(object).to_string();
        let all_text = fields.into_iter().all(|f| matches!(f, Some(Field::Text(_))));
        let is_notification = all_text && matches!(&kind, Some(Field::Text(k)) if k == "Notification");

        let unwrapped = unwrap_sns_notification(&body);

        match &message {
            Some(Field::Text(inner)) if is_notification => prop_assert_eq!(unwrapped.as_ref(), inner.as_str()),
            _ => prop_assert_eq!(unwrapped.as_ref(), body.as_str()),
        }
    }

    #[test]
    fn sqs_record_text_is_its_body_unwrapped(body in prop::option::of(any_input())) {
        let mut record = SqsMessage::default();
        record.body.clone_from(&body);

        let text = sqs_callback_text(&record);

        match &body {
            None => prop_assert_eq!(text, Err(EnvelopeError::MissingBody)),
            Some(body) => prop_assert_eq!(text, Ok(unwrap_sns_notification(body))),
        }
    }

    #[test]
    fn task_message_parser_never_panics_and_rejects_only_with_typed_errors(text in any_input()) {
        match parse_task_message(&text) {
            Ok(task) => prop_assert_eq!(expected_token(task.token.expose()), Ok(())),
            Err(err) => {
                prop_assert_eq!(CallbackError::from(err.clone()).class(), Class::Permanent);
                if let Some(token) = lone_token(&text) {
                    prop_assert!(!err.to_string().contains(&token), "the error quotes the token: {}", err);
                }
            }
        }
    }

    #[test]
    fn task_message_gives_the_token_and_the_input_or_the_other_fields(
        key in prop::sample::select(vec!["TaskToken", "taskToken"]),
        token in field(token_like()),
        input in prop::option::of(json_value()),
        extras in extra_fields(&["TaskToken", "taskToken", "input"]),
    ) {
        let mut object = Map::new();
        object.insert(key.to_owned(), token.to_json());
        if let Some(input) = &input {
            object.insert("input".to_owned(), input.clone());
        }
        for (key, value) in &extras {
            object.insert(key.clone(), value.clone());
        }
        let text = Value::Object(object).to_string();

        let parsed = parse_task_message(&text);

        match (&token, parsed) {
            (Field::Null, parsed) => prop_assert!(matches!(parsed, Err(MessageError::MissingToken)), "{:?}", parsed),
            (Field::Wrong(_), parsed) => prop_assert!(
                matches!(parsed, Err(MessageError::Field { field: "TaskToken", .. })), "{:?}", parsed
            ),
            (Field::Text(token), parsed) => match (expected_token(token), parsed) {
                (Err(expected), parsed) => prop_assert!(
                    matches!(&parsed, Err(MessageError::Token(actual)) if *actual == expected), "{:?}", parsed
                ),
                (Ok(()), Ok(task)) => {
                    prop_assert_eq!(task.token.expose(), token.as_str());
                    // Only a missing input means the other fields: `null` is the input.
                    let expected_input = match input {
                        Some(input) => input,
                        None => Value::Object(extras.into_iter().collect()),
                    };
                    prop_assert_eq!(task.input, expected_input);
                }
                (Ok(()), Err(err)) => prop_assert!(false, "valid task message refused: {}", err),
            },
        }
    }
}

#[test]
fn token_oracle_agrees_with_the_token_type_on_the_documented_cases() {
    for raw in [
        "",
        "a",
        "a b",
        "a\nb",
        "a\0b",
        &"a".repeat(2048),
        &"a".repeat(2049),
    ] {
        assert_eq!(
            TaskToken::new(raw).map(|_| ()),
            expected_token(raw),
            "{raw:.20}"
        );
    }
}
