//! The SNS callback pattern on a local peer: `statemachines/sns-callback.asl.json`
//! publishes each task to a work topic, which delivers it raw to a queue where
//! the test (or the demo) plays the worker; the worker's callback goes back
//! through a callback topic, to a queue for `sqs-callback` (raw or wrapped in
//! the SNS notification) or to `sns-callback`.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::event_source::{create_queue, deliver, receive_exactly};
use crate::peer::{Clients, LocalAws};
use crate::runtime_api::Lambda;
use crate::{Result, sns, statemachine};

/// The pattern, started.
#[derive(Debug)]
pub struct SnsCallbackWorld {
    pub peer: Arc<LocalAws>,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
    pub work_queue: String,
    pub state_machine: String,
}

/// How long a notification may take to reach its queue.
const RECEIVE_LIMIT: Duration = Duration::from_secs(20);

/// A queue subscribed to its own callback topic.
#[derive(Debug)]
pub struct CallbackRoute {
    pub topic: String,
    pub queue_url: String,
    pub queue_arn: String,
}

impl SnsCallbackWorld {
    /// The pattern on a moto of its own, its resources named after `name`.
    pub async fn start(name: &str) -> Result<Self> {
        Self::start_on(&Arc::new(LocalAws::start()?), name).await
    }

    /// The pattern on `peer`: the topic and queue `{name}-work` and the state
    /// machine `name`.
    pub async fn start_on(peer: &Arc<LocalAws>, name: &str) -> Result<Self> {
        let Clients { sfn, sqs, sns } = peer.clients().await;
        let work = format!("{name}-work");
        let work_topic = sns::create_topic(&sns, &work).await?;
        let work_queue = create_queue(&sqs, &work, &[]).await?;
        sns::subscribe_queue(&sns, &work_topic, &sns::local_queue_arn(&work_queue), true).await?;
        let definition =
            statemachine::definition("sns-callback", &[("WorkTopicArn", &work_topic)])?;
        let state_machine = statemachine::create(&sfn, name, &definition).await?;
        Ok(Self {
            peer: Arc::clone(peer),
            sfn,
            sqs,
            sns,
            work_queue,
            state_machine,
        })
    }

    /// Starts the function `binary` against the peer.
    pub async fn start_function(&self, binary: &str) -> Result<Lambda> {
        Lambda::start(binary, &self.peer.function_env()).await
    }

    /// A callback topic delivering to a new queue, raw or wrapped in the SNS notification.
    pub async fn callback_route(&self, name: &str, raw: bool) -> Result<CallbackRoute> {
        let topic = sns::create_topic(&self.sns, name).await?;
        let queue_url = create_queue(&self.sqs, name, &[]).await?;
        let queue_arn = sns::local_queue_arn(&queue_url);
        sns::subscribe_queue(&self.sns, &topic, &queue_arn, raw).await?;
        Ok(CallbackRoute {
            topic,
            queue_url,
            queue_arn,
        })
    }

    /// Starts an execution with input `{"job": name}` and takes its task as the
    /// worker would. Returns the execution ARN and the task token.
    pub async fn start_execution(&self, name: &str) -> Result<(String, String)> {
        let input = json!({"job": name});
        let (sfn, sqs, machine) = (&self.sfn, &self.sqs, &self.state_machine);
        statemachine::start_with_task(sfn, sqs, machine, &self.work_queue, name, &input).await
    }

    /// Publishes `callback` to `topic`.
    pub async fn publish(&self, topic: &str, callback: &Value) -> Result<()> {
        self.publish_text(topic, &callback.to_string()).await
    }

    /// Publishes `message`, callback or not, to `topic`.
    pub async fn publish_text(&self, topic: &str, message: &str) -> Result<()> {
        sns::publish(&self.sns, topic, message).await
    }

    /// Delivers the one message on `route`'s queue to `lambda` as an SQS batch;
    /// returns the ids it reported failed.
    pub async fn deliver(&self, route: &CallbackRoute, lambda: &mut Lambda) -> Result<Vec<String>> {
        deliver(&self.sqs, &route.queue_url, &route.queue_arn, 1, lambda).await
    }

    /// The event Lambda gets from SNS for the one notification on `route`'s
    /// (wrapped) queue.
    pub async fn sns_event(&self, route: &CallbackRoute) -> Result<Value> {
        let delivered = receive_exactly(&self.sqs, &route.queue_url, 1, RECEIVE_LIMIT).await?;
        sns::sns_event(delivered[0].body().unwrap_or_default())
    }
}
