//! SNS helpers: topics with SQS subscriptions, and the Lambda `SnsEvent` built
//! from a notification that SNS delivered to SQS (raw delivery off).

use aws_sdk_sns::Client;
use serde_json::{Value, json};

use crate::Result;

/// Creates a topic; returns its ARN.
pub async fn create_topic(sns: &Client, name: &str) -> Result<String> {
    let created = sns.create_topic().name(name).send().await?;
    created
        .topic_arn()
        .map(str::to_owned)
        .ok_or_else(|| format!("topic {name} has no ARN").into())
}

/// Publishes `message` to `topic_arn`.
pub async fn publish(sns: &Client, topic_arn: &str, message: &str) -> Result<()> {
    sns.publish()
        .topic_arn(topic_arn)
        .message(message)
        .send()
        .await?;
    Ok(())
}

/// The ARN of a queue on the local peer, from its URL (moto's ARNs follow the
/// URL: account and name), saving a `GetQueueAttributes` call.
pub fn local_queue_arn(queue_url: &str) -> String {
    let name = queue_url.rsplit('/').next().unwrap_or_default();
    format!("arn:aws:sqs:us-east-1:123456789012:{name}")
}

/// Subscribes the queue `queue_arn` to `topic_arn`, with raw message delivery on or off.
pub async fn subscribe_queue(
    sns: &Client,
    topic_arn: &str,
    queue_arn: &str,
    raw: bool,
) -> Result<()> {
    sns.subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", if raw { "true" } else { "false" })
        .send()
        .await?;
    Ok(())
}

/// The event Lambda gets from SNS for the notification `body` (as SQS received it).
/// Lambda's record spells two fields differently: `SigningCertUrl`, `UnsubscribeUrl`.
pub fn sns_event(body: &str) -> Result<Value> {
    let notification: Value = serde_json::from_str(body)?;
    let field = |name: &str| notification.get(name).cloned().unwrap_or(Value::Null);
    let topic_arn = field("TopicArn");
    Ok(json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{}:local-subscription", topic_arn.as_str().unwrap_or_default()),
            "Sns": {
                "Type": field("Type"),
                "MessageId": field("MessageId"),
                "TopicArn": topic_arn,
                "Subject": field("Subject"),
                "Message": field("Message"),
                "Timestamp": field("Timestamp"),
                "SignatureVersion": field("SignatureVersion"),
                "Signature": field("Signature"),
                "SigningCertUrl": field("SigningCertURL"),
                "UnsubscribeUrl": field("UnsubscribeURL"),
                "MessageAttributes": {}
            }
        }]
    }))
}
