//! An SQS event source like Lambda's: receive a batch, invoke the function,
//! delete only what it did not report as failed, and let the rest come back
//! after the visibility timeout until the redrive policy moves it to the DLQ.
//! An invocation that fails whole, or whose instance dies without answering,
//! deletes nothing.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, Message, MessageSystemAttributeName, QueueAttributeName,
};
use serde_json::{Value, json};

use crate::instance_kill::{InstanceKiller, KillTally};
use crate::runtime_api::{Answer, Lambda};
use crate::{Result, aws_error};

/// A queue with its dead-letter queue.
#[derive(Debug, Clone)]
pub struct QueuePair {
    pub url: String,
    pub arn: String,
    pub dlq_url: String,
}

/// Creates `name` and `name-dlq`, with a redrive after `max_receive_count` receives.
pub async fn create_queue_pair(
    sqs: &Client,
    name: &str,
    visibility_timeout_s: u32,
    max_receive_count: u32,
) -> Result<QueuePair> {
    let dlq_url = create_queue(sqs, &format!("{name}-dlq"), &[]).await?;
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let redrive =
        json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count.to_string()})
            .to_string();
    let url = create_queue(
        sqs,
        name,
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                visibility_timeout_s.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive),
        ],
    )
    .await?;
    let arn = queue_arn(sqs, &url).await?;
    Ok(QueuePair { url, arn, dlq_url })
}

/// Creates a plain queue; returns its URL.
pub async fn create_queue(
    sqs: &Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<String> {
    let mut request = sqs.create_queue().queue_name(name);
    for (key, value) in attributes {
        request = request.attributes(key.clone(), value);
    }
    let created = request
        .send()
        .await
        .map_err(|err| aws_error(&format!("create queue {name}"), err))?;
    created
        .queue_url()
        .map(str::to_owned)
        .ok_or_else(|| format!("create queue {name}: no URL").into())
}

async fn queue_arn(sqs: &Client, url: &str) -> Result<String> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await?;
    attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .cloned()
        .ok_or_else(|| format!("queue {url} has no ARN").into())
}

/// Sends one message with `body` to the queue `url`.
pub async fn send(sqs: &Client, url: &str, body: &str) -> Result<()> {
    sqs.send_message()
        .queue_url(url)
        .message_body(body)
        .send()
        .await?;
    Ok(())
}

/// Receives up to `max` messages, waiting at most `wait_s` seconds for the first.
pub async fn receive(sqs: &Client, url: &str, max: i32, wait_s: i32) -> Result<Vec<Message>> {
    let received = sqs
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(max)
        .wait_time_seconds(wait_s)
        .message_system_attribute_names(MessageSystemAttributeName::All)
        .send()
        .await?;
    Ok(received.messages().to_vec())
}

/// Receives until `count` messages are in hand (or `limit` passes).
pub async fn receive_exactly(
    sqs: &Client,
    url: &str,
    count: usize,
    limit: Duration,
) -> Result<Vec<Message>> {
    let started = std::time::Instant::now();
    let mut messages = Vec::new();
    while messages.len() < count {
        if started.elapsed() > limit {
            return Err(format!(
                "only {} of {count} messages arrived on {url} within {limit:?}",
                messages.len()
            )
            .into());
        }
        let wanted = i32::try_from((count - messages.len()).min(10))?;
        messages.extend(receive(sqs, url, wanted, 1).await?);
    }
    Ok(messages)
}

/// The SQS event Lambda would deliver for `messages` from the queue `queue_arn`.
pub fn sqs_event(messages: &[Message], queue_arn: &str) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .map(|message| {
            let attributes: serde_json::Map<String, Value> = message
                .attributes()
                .map(|a| {
                    a.iter()
                        .map(|(k, v)| (k.as_str().to_owned(), Value::String(v.clone())))
                        .collect()
                })
                .unwrap_or_default();
            json!({
                "messageId": message.message_id(),
                "receiptHandle": message.receipt_handle(),
                "body": message.body(),
                "attributes": attributes,
                "messageAttributes": {},
                "md5OfBody": message.md5_of_body(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The ids a partial batch response reports as failed.
pub fn failed_ids(response: &Value) -> Result<Vec<String>> {
    let failures = response
        .get("batchItemFailures")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("not a partial batch response: {response}"))?;
    Ok(failures
        .iter()
        .filter_map(|f| {
            f.get("itemIdentifier")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect())
}

crate::tally! {
    /// What one poll did.
    #[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
    pub struct PollReport {
        pub received: usize,
        pub deleted: usize,
        pub failed: usize,
        /// The invocation failed as a whole: nothing was deleted.
        pub invoke_failed: bool,
    }
}

/// Receives one batch, invokes `lambda`, deletes what succeeded.
pub async fn poll_once(
    sqs: &Client,
    queue: &QueuePair,
    lambda: &mut Lambda,
    batch_size: i32,
) -> Result<PollReport> {
    let messages = receive(sqs, &queue.url, batch_size, 1).await?;
    if messages.is_empty() {
        return Ok(PollReport::default());
    }
    let event = sqs_event(&messages, &queue.arn);
    let failed: HashSet<String> = match lambda.invoke(&event).await? {
        Answer::Response(response) => failed_ids(&response)?.into_iter().collect(),
        Answer::Error { .. } => {
            return Ok(PollReport {
                received: messages.len(),
                failed: messages.len(),
                invoke_failed: true,
                ..PollReport::default()
            });
        }
    };
    let mut report = PollReport {
        received: messages.len(),
        ..PollReport::default()
    };
    for message in &messages {
        if failed.contains(message.message_id().unwrap_or_default()) {
            report.failed += 1;
        } else if let Some(handle) = message.receipt_handle() {
            sqs.delete_message()
                .queue_url(&queue.url)
                .receipt_handle(handle)
                .send()
                .await?;
            report.deleted += 1;
        }
    }
    Ok(report)
}

crate::tally! {
    /// What one instance's event source did.
    #[derive(Debug, Default, Clone, Copy)]
    pub struct PollTally {
        pub invocations: usize,
        pub received: usize,
        pub deleted: usize,
        /// Records reported in `batchItemFailures`, or in an invocation that failed whole.
        pub handed_back: usize,
        /// Invocations that answered with an error: none of their records deleted.
        pub invoke_errors: usize,
        pub kills: KillTally,
    }
}

/// Lambda's SQS event source for one function instance: receive up to 10,
/// invoke, delete what was not reported failed, over and over. With an
/// [`InstanceKiller`], the instance dies mid-invocation on its schedule.
#[derive(Debug)]
pub struct EventSource {
    sqs: Client,
    queue: QueuePair,
    lambda: Lambda,
    killer: Option<InstanceKiller>,
    tally: PollTally,
}

impl EventSource {
    pub fn new(sqs: Client, queue: QueuePair, lambda: Lambda) -> Self {
        Self {
            sqs,
            queue,
            lambda,
            killer: None,
            tally: PollTally::default(),
        }
    }

    /// Kills the instance mid-invocation as `killer` decides.
    #[must_use]
    pub fn with_killer(mut self, killer: InstanceKiller) -> Self {
        self.killer = Some(killer);
        self
    }

    /// Polls until `stop` is set or `until` passes; returns what it did and the
    /// function (whose log holds every process it ran, killed ones included).
    pub async fn run(
        mut self,
        stop: Arc<AtomicBool>,
        until: Instant,
    ) -> Result<(PollTally, Lambda)> {
        while !stop.load(Ordering::Relaxed) && Instant::now() < until {
            self.poll().await?;
        }
        let mut tally = self.tally;
        if let Some(killer) = &self.killer {
            tally.kills = killer.tally();
        }
        Ok((tally, self.lambda))
    }

    /// One batch: receive, invoke, delete what succeeded.
    async fn poll(&mut self) -> Result<()> {
        let messages = receive(&self.sqs, &self.queue.url, 10, 1).await?;
        if messages.is_empty() {
            return Ok(());
        }
        self.tally.invocations += 1;
        self.tally.received += messages.len();
        let event = sqs_event(&messages, &self.queue.arn);
        let answer = match &mut self.killer {
            Some(killer) => killer.invoke(&mut self.lambda, &messages, &event).await?,
            None => Some(self.lambda.invoke(&event).await?),
        };
        let failed: HashSet<String> = match answer {
            Some(Answer::Response(response)) => failed_ids(&response)?.into_iter().collect(),
            Some(Answer::Error { .. }) => {
                self.tally.invoke_errors += 1;
                self.tally.handed_back += messages.len();
                return Ok(());
            }
            // The instance died: no answer, so every record comes back after the visibility timeout.
            None => return Ok(()),
        };
        let mut deletes = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            if failed.contains(message.message_id().unwrap_or_default()) {
                self.tally.handed_back += 1;
            } else {
                deletes.push(
                    DeleteMessageBatchRequestEntry::builder()
                        .id(format!("m{index}"))
                        .receipt_handle(message.receipt_handle().unwrap_or_default())
                        .build()?,
                );
            }
        }
        if !deletes.is_empty() {
            let count = deletes.len();
            let deleted = self
                .sqs
                .delete_message_batch()
                .queue_url(&self.queue.url)
                .set_entries(Some(deletes))
                .send()
                .await?;
            // A delete can miss when the message was received again meanwhile; it then
            // comes back and is acknowledged as a duplicate.
            self.tally.deleted += count - deleted.failed().len();
        }
        Ok(())
    }
}

/// Bodies of the messages waiting in a queue (received, then made visible again).
pub async fn peek_bodies(sqs: &Client, url: &str) -> Result<Vec<String>> {
    let mut bodies = Vec::new();
    let mut handles = Vec::new();
    loop {
        let batch = receive(sqs, url, 10, 0).await?;
        if batch.is_empty() {
            break;
        }
        for message in batch {
            bodies.push(message.body().unwrap_or_default().to_owned());
            handles.extend(message.receipt_handle().map(str::to_owned));
        }
    }
    for handle in handles {
        sqs.change_message_visibility()
            .queue_url(url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await?;
    }
    Ok(bodies)
}

/// Every body in a queue, read to the end: each receive hides what it read,
/// so unlike [`peek_bodies`] they stay hidden for the visibility timeout.
pub async fn drain_bodies(sqs: &Client, url: &str, until: Instant) -> Result<Vec<String>> {
    let mut bodies = Vec::new();
    while Instant::now() < until {
        let batch = receive(sqs, url, 10, 0).await?;
        if batch.is_empty() {
            break;
        }
        bodies.extend(
            batch
                .iter()
                .map(|m| m.body().unwrap_or_default().to_owned()),
        );
    }
    Ok(bodies)
}

/// Messages waiting or in flight on `url`.
pub async fn queue_depth(sqs: &Client, url: &str) -> Result<u64> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let attributes = attributes.attributes().ok_or("queue has no attributes")?;
    let count = |name: &QueueAttributeName| -> u64 {
        attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(count(&QueueAttributeName::ApproximateNumberOfMessages)
        + count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

/// Waits until the queue is empty: every message deleted or dead-lettered.
pub async fn wait_drained(sqs: &Client, url: &str, until: Instant) -> Result<()> {
    loop {
        let depth = queue_depth(sqs, url).await?;
        if depth == 0 {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("{depth} messages still queued on {url} at the time limit").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Receives exactly `count` messages from `queue` as one batch, invokes `lambda`
/// with it, and returns the ids it reported failed.
pub async fn deliver(
    sqs: &Client,
    queue_url: &str,
    queue_arn: &str,
    count: usize,
    lambda: &mut Lambda,
) -> Result<Vec<String>> {
    let messages = receive_exactly(sqs, queue_url, count, Duration::from_secs(20)).await?;
    let response = lambda
        .invoke(&sqs_event(&messages, queue_arn))
        .await?
        .into_response()?;
    failed_ids(&response)
}

/// The task token in a work message: `{"TaskToken": ...}` as sent, or inside an
/// SNS notification's `Message`.
pub fn task_token(body: &str) -> Result<String> {
    let message = unwrap_notification(serde_json::from_str(body)?)?;
    let token = message
        .get("TaskToken")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no TaskToken in {body:.80}"))?;
    Ok(token.to_owned())
}

/// The task token of a callback message (`{"taskToken": ...}`, raw or inside an
/// SNS notification), if it has one.
pub fn callback_token(body: &str) -> Option<String> {
    let message = unwrap_notification(serde_json::from_str(body).ok()?).ok()?;
    message.get("taskToken")?.as_str().map(str::to_owned)
}

/// The message inside an SNS notification, or `message` itself.
fn unwrap_notification(message: Value) -> Result<Value> {
    if message.get("Type").and_then(Value::as_str) != Some("Notification") {
        return Ok(message);
    }
    let inner = message
        .get("Message")
        .and_then(Value::as_str)
        .ok_or("notification without Message")?;
    Ok(serde_json::from_str(inner)?)
}
