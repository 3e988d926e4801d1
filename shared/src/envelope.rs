//! Unwrapping AWS event shapes down to the callback text they carry.
//! Nothing here knows about Step Functions.

use std::borrow::Cow;

use aws_lambda_events::event::sqs::SqsMessage;
use serde::Deserialize;

/// Why a record carries no callback text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The record's body is missing.
    #[error("SQS record has no body")]
    MissingBody,
}

/// An SNS notification as SQS receives it with raw message delivery off. Every
/// field SNS always sends must be there as a string: a callback that merely has
/// a `Type` and a `TopicArn` of its own is not a notification.
#[derive(Deserialize)]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: String,
    #[serde(rename = "MessageId")]
    _message_id: String,
    #[serde(rename = "TopicArn")]
    _topic_arn: String,
    #[serde(rename = "Message")]
    message: String,
    #[serde(rename = "Timestamp")]
    _timestamp: String,
}

/// The callback text of an SQS record: the body itself, or, when the body is an
/// SNS notification (raw delivery off), the notification's `Message`.
pub fn sqs_callback_text(record: &SqsMessage) -> Result<Cow<'_, str>, EnvelopeError> {
    let body = record.body.as_deref().ok_or(EnvelopeError::MissingBody)?;
    Ok(unwrap_sns_notification(body))
}

/// Detects an SNS notification by its shape, not by configuration: `Type` is
/// `"Notification"` and `MessageId`, `TopicArn`, `Message` and `Timestamp` are
/// strings. Anything else is returned as it is, for the message parser to judge.
pub fn unwrap_sns_notification(body: &str) -> Cow<'_, str> {
    // Cheap test first: a callback body almost never mentions these.
    if !body.contains("\"Notification\"") || !body.contains("\"TopicArn\"") {
        return Cow::Borrowed(body);
    }
    match serde_json::from_str::<SnsNotification>(body) {
        Ok(notification) if notification.kind == "Notification" => Cow::Owned(notification.message),
        _ => Cow::Borrowed(body),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(body: Option<&str>) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.body = body.map(str::to_owned);
        record
    }

    #[test]
    fn raw_body_is_the_callback_text() {
        let body = r#"{"taskToken":"t"}"#;
        assert_eq!(sqs_callback_text(&record(Some(body))).unwrap(), body);
    }

    #[test]
    fn missing_body_is_an_envelope_error() {
        assert_eq!(
            sqs_callback_text(&record(None)),
            Err(EnvelopeError::MissingBody)
        );
    }

    /// A notification as SQS receives it with raw message delivery off.
    fn notification_fields() -> serde_json::Map<String, serde_json::Value> {
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": "5f8e3c2a-1111-2222-3333-444455556666",
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:callbacks",
            "Message": r#"{"taskToken":"t"}"#,
            "Timestamp": "2025-01-01T00:00:00.000Z",
            "taskToken": "outer",
        });
        match body {
            serde_json::Value::Object(fields) => fields,
            _ => unreachable!("a JSON object literal"),
        }
    }

    #[test]
    fn callback_with_notification_type_and_topic_arn_is_a_callback_not_unwrapped() {
        let body = r#"{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:123456789012:t","taskToken":"t","output":{}}"#;
        assert_eq!(sqs_callback_text(&record(Some(body))).unwrap(), body);
    }

    /// A body of these `fields` is not unwrapped: the callback text is the body itself.
    fn assert_read_as_a_raw_body(fields: serde_json::Map<String, serde_json::Value>, case: &str) {
        let body = serde_json::Value::Object(fields).to_string();
        assert_eq!(
            sqs_callback_text(&record(Some(&body))).unwrap(),
            body,
            "{case}"
        );
    }

    #[test]
    fn body_missing_any_field_of_a_real_notification_is_not_unwrapped() {
        for missing in ["Type", "MessageId", "TopicArn", "Message", "Timestamp"] {
            let mut fields = notification_fields();
            fields.remove(missing);
            assert_read_as_a_raw_body(fields, &format!("without {missing}"));
        }
    }

    #[test]
    fn body_whose_notification_fields_are_not_strings_is_not_unwrapped() {
        for wrong in ["MessageId", "TopicArn", "Message", "Timestamp"] {
            let mut fields = notification_fields();
            fields.insert(wrong.to_owned(), serde_json::json!({"not": "a string"}));
            assert_read_as_a_raw_body(fields, &format!("{wrong} not a string"));
        }
    }

    #[test]
    fn real_notification_is_unwrapped_whatever_else_it_carries() {
        let body = serde_json::Value::Object(notification_fields()).to_string();
        assert_eq!(
            sqs_callback_text(&record(Some(&body))).unwrap(),
            r#"{"taskToken":"t"}"#
        );
    }

    #[test]
    fn callback_that_mentions_notification_in_its_output_is_not_unwrapped() {
        let body = r#"{"taskToken":"t","output":{"Type":"Notification","TopicArn":"x"}}"#;
        assert_eq!(sqs_callback_text(&record(Some(body))).unwrap(), body);
    }
}
