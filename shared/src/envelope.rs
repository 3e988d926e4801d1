//! Unwrapping AWS event shapes down to the callback text they carry.
//! Nothing here knows about Step Functions.

use std::borrow::Cow;

use aws_lambda_events::event::sqs::SqsMessage;
use serde::Deserialize;

/// Why a record carries no callback text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("SQS record has no body")]
    MissingBody,
    #[error("SNS notification has no Message")]
    MissingSnsMessage,
}

/// The fields that identify an SNS notification delivered to SQS with raw
/// message delivery off.
#[derive(Deserialize)]
struct SnsNotification {
    #[serde(rename = "Type")]
    kind: Option<String>,
    #[serde(rename = "TopicArn")]
    topic_arn: Option<String>,
    #[serde(rename = "Message")]
    message: Option<String>,
}

/// The callback text of an SQS record: the body itself, or, when the body is an
/// SNS notification (raw delivery off), the notification's `Message`.
pub fn sqs_callback_text(record: &SqsMessage) -> Result<Cow<'_, str>, EnvelopeError> {
    let body = record.body.as_deref().ok_or(EnvelopeError::MissingBody)?;
    unwrap_sns_notification(body)
}

/// Detects an SNS notification by its shape, not by configuration:
/// `"Type": "Notification"` with a `TopicArn`.
pub fn unwrap_sns_notification(body: &str) -> Result<Cow<'_, str>, EnvelopeError> {
    // Cheap test first: a callback body almost never mentions "Notification".
    if !body.contains("\"Notification\"") || !body.contains("\"TopicArn\"") {
        return Ok(Cow::Borrowed(body));
    }
    let Ok(notification) = serde_json::from_str::<SnsNotification>(body) else {
        // Not shaped like a notification after all: let the message parser judge it.
        return Ok(Cow::Borrowed(body));
    };
    if notification.kind.as_deref() != Some("Notification") || notification.topic_arn.is_none() {
        return Ok(Cow::Borrowed(body));
    }
    notification
        .message
        .map(Cow::Owned)
        .ok_or(EnvelopeError::MissingSnsMessage)
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

    #[test]
    fn sns_notification_body_is_unwrapped_to_its_message() {
        let body = r#"{"Type":"Notification","MessageId":"m","TopicArn":"arn:aws:sns:us-east-1:123456789012:t","Message":"{\"taskToken\":\"t\"}"}"#;
        assert_eq!(
            sqs_callback_text(&record(Some(body))).unwrap(),
            r#"{"taskToken":"t"}"#
        );
    }

    #[test]
    fn notification_without_message_is_an_envelope_error() {
        let body = r#"{"Type":"Notification","TopicArn":"arn:aws:sns:us-east-1:123456789012:t"}"#;
        assert_eq!(
            sqs_callback_text(&record(Some(body))),
            Err(EnvelopeError::MissingSnsMessage)
        );
    }

    #[test]
    fn callback_that_mentions_notification_in_its_output_is_not_unwrapped() {
        let body = r#"{"taskToken":"t","output":{"Type":"Notification","TopicArn":"x"}}"#;
        assert_eq!(sqs_callback_text(&record(Some(body))).unwrap(), body);
    }
}
