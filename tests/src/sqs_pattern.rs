//! The SQS callback pattern on a local peer, as `template.yaml` deploys it: the
//! queue the state machine sends task tokens to, the callback queue (with its
//! DLQ) that `sqs-callback` drains, and `statemachines/sqs-callback.asl.json`.
//!
//! [`SqsCallbackWorld`] is that pattern on a moto of its own (or the demo's),
//! with the clients a test drives it with, the environment `sqs-callback` gets,
//! and, when asked, the fault proxy between the functions and moto.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, Message, SendMessageBatchRequestEntry};
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::event_source::{self, EventSource, QueuePair, create_queue, create_queue_pair};
use crate::fault_proxy::{FaultPlan, FaultProxy};
use crate::peer::{Clients, LocalAws};
use crate::runtime_api::Lambda;
use crate::{Result, statemachine};

/// How long a test waits for callbacks it sent to be received.
const RECEIVE_LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct SqsCallbackPattern {
    pub work_queue: String,
    pub callbacks: QueuePair,
    pub state_machine: String,
}

impl SqsCallbackPattern {
    /// Creates `{name}-work`, `{name}-callbacks` (redriving to `{name}-callbacks-dlq`
    /// after `max_receive_count` receives) and the state machine `name`.
    pub async fn create(
        sfn: &aws_sdk_sfn::Client,
        sqs: &aws_sdk_sqs::Client,
        name: &str,
        visibility_timeout_s: u32,
        max_receive_count: u32,
    ) -> Result<Self> {
        let work_queue = create_queue(sqs, &format!("{name}-work"), &[]).await?;
        let callbacks = create_queue_pair(
            sqs,
            &format!("{name}-callbacks"),
            visibility_timeout_s,
            max_receive_count,
        )
        .await?;
        let definition =
            statemachine::definition("sqs-callback", &[("WorkQueueUrl", &work_queue)])?;
        let state_machine = statemachine::create(sfn, name, &definition).await?;
        Ok(Self {
            work_queue,
            callbacks,
            state_machine,
        })
    }
}

/// How an [`SqsCallbackWorld`] is made. By default: visibility timeout 1 s,
/// redrive after 2 receives, functions straight to moto with no extra settings.
#[derive(Debug)]
pub struct SqsCallbackWorldBuilder {
    name: String,
    visibility_timeout_s: u32,
    max_receive_count: u32,
    proxy: Option<FaultPlan>,
    settings: Vec<(String, String)>,
    lambda_timeout: Option<Duration>,
}

impl SqsCallbackWorldBuilder {
    /// The callback queue's visibility timeout, and the receives before the DLQ.
    #[must_use]
    pub fn redrive(mut self, visibility_timeout_s: u32, max_receive_count: u32) -> Self {
        self.visibility_timeout_s = visibility_timeout_s;
        self.max_receive_count = max_receive_count;
        self
    }

    /// The functions reach moto through a fault proxy following `plan`.
    #[must_use]
    pub fn through_proxy(mut self, plan: FaultPlan) -> Self {
        self.proxy = Some(plan);
        self
    }

    /// An environment variable for every `sqs-callback` started.
    #[must_use]
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.settings.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The Lambda timeout of every `sqs-callback` started (the emulator's default otherwise).
    #[must_use]
    pub fn lambda_timeout(mut self, timeout: Duration) -> Self {
        self.lambda_timeout = Some(timeout);
        self
    }

    /// Builds the world on a moto of its own.
    pub async fn start(self) -> Result<SqsCallbackWorld> {
        self.start_on(&Arc::new(LocalAws::start()?)).await
    }

    /// Builds the world on `peer`, which others may share.
    pub async fn start_on(self, peer: &Arc<LocalAws>) -> Result<SqsCallbackWorld> {
        let Clients { sfn, sqs, .. } = peer.clients().await;
        let SqsCallbackPattern {
            work_queue,
            callbacks,
            state_machine,
        } = SqsCallbackPattern::create(
            &sfn,
            &sqs,
            &self.name,
            self.visibility_timeout_s,
            self.max_receive_count,
        )
        .await?;
        let proxy = match self.proxy {
            Some(plan) => Some(FaultProxy::start(peer.endpoint(), plan).await?),
            None => None,
        };
        let mut function_env = match &proxy {
            Some(proxy) => proxy.function_env(peer),
            None => peer.function_env(),
        };
        function_env.extend(self.settings);
        Ok(SqsCallbackWorld {
            peer: Arc::clone(peer),
            proxy,
            sfn,
            sqs,
            work_queue,
            callbacks,
            state_machine,
            function_env,
            lambda_timeout: self.lambda_timeout,
        })
    }
}

/// The SQS callback pattern, started: see the module's documentation.
#[derive(Debug)]
pub struct SqsCallbackWorld {
    pub peer: Arc<LocalAws>,
    proxy: Option<FaultProxy>,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub work_queue: String,
    pub callbacks: QueuePair,
    pub state_machine: String,
    function_env: Vec<(String, String)>,
    lambda_timeout: Option<Duration>,
}

/// One batch the event source delivered, and what the function made of it.
#[derive(Debug)]
pub struct Delivered {
    /// The batch as received.
    pub messages: Vec<Message>,
    /// Its message ids, sorted.
    pub ids: Vec<String>,
    /// The ids the function reported failed, sorted.
    pub failed: Vec<String>,
    /// How long the invocation took.
    pub took: Duration,
}

impl SqsCallbackWorld {
    /// A world whose resources are named after `name`.
    pub fn builder(name: &str) -> SqsCallbackWorldBuilder {
        SqsCallbackWorldBuilder {
            name: name.to_owned(),
            visibility_timeout_s: 1,
            max_receive_count: 2,
            proxy: None,
            settings: Vec::new(),
            lambda_timeout: None,
        }
    }

    /// The fault proxy, for a world built [`through_proxy`](SqsCallbackWorldBuilder::through_proxy).
    pub fn fault_proxy(&self) -> Result<&FaultProxy> {
        self.proxy
            .as_ref()
            .ok_or_else(|| "this world was built without a fault proxy".into())
    }

    /// Starts one `sqs-callback` instance with the world's environment and timeout.
    pub async fn start_function(&self) -> Result<Lambda> {
        let mut lambda = Lambda::start("sqs-callback", &self.function_env).await?;
        if let Some(timeout) = self.lambda_timeout {
            lambda.timeout = timeout;
        }
        Ok(lambda)
    }

    /// Lambda's event source for `lambda` on the callback queue.
    pub fn event_source(&self, lambda: Lambda) -> EventSource {
        EventSource::new(self.sqs.clone(), self.callbacks.clone(), lambda)
    }

    /// Starts an execution and plays the worker's first half: takes its task
    /// message. Returns the execution ARN and the task token.
    pub async fn start_execution(&self, name: &str, input: &Value) -> Result<(String, String)> {
        statemachine::start_with_task(
            &self.sfn,
            &self.sqs,
            &self.state_machine,
            &self.work_queue,
            name,
            input,
        )
        .await
    }

    /// Sends `callback` to the callback queue.
    pub async fn send_callback(&self, callback: &Value) -> Result<()> {
        self.send_raw(&callback.to_string()).await
    }

    /// Sends `body`, callback or not, to the callback queue.
    pub async fn send_raw(&self, body: &str) -> Result<()> {
        event_source::send(&self.sqs, &self.callbacks.url, body).await
    }

    /// Receives exactly `count` callbacks.
    pub async fn receive_callbacks(&self, count: usize) -> Result<Vec<Message>> {
        event_source::receive_exactly(&self.sqs, &self.callbacks.url, count, RECEIVE_LIMIT).await
    }

    /// The SQS event Lambda would deliver for `messages` off the callback queue.
    pub fn callback_event(&self, messages: &[Message]) -> Value {
        event_source::sqs_event(messages, &self.callbacks.arn)
    }

    /// Receives exactly `count` callbacks and invokes `lambda` with them as one batch.
    pub async fn deliver_batch(&self, lambda: &mut Lambda, count: usize) -> Result<Delivered> {
        let messages = self.receive_callbacks(count).await?;
        let mut ids: Vec<String> = messages
            .iter()
            .map(|m| m.message_id().unwrap_or_default().to_owned())
            .collect();
        let event = self.callback_event(&messages);
        let started = Instant::now();
        let response = lambda.invoke(&event).await?.into_response()?;
        let took = started.elapsed();
        let mut failed = event_source::failed_ids(&response)?;
        ids.sort();
        failed.sort();
        Ok(Delivered {
            messages,
            ids,
            failed,
            took,
        })
    }

    /// Sends one callback and runs it through `lambda`; returns the failed ids.
    pub async fn callback(&self, lambda: &mut Lambda, callback: &Value) -> Result<Vec<String>> {
        self.send_callback(callback).await?;
        Ok(self.deliver_batch(lambda, 1).await?.failed)
    }
}

/// A success callback the worker sent.
#[derive(Debug, Clone)]
pub struct SentCallback {
    pub token: String,
    pub body: String,
}

/// Plays the worker of the pattern at volume: takes the task messages off
/// `work_queue` ten at a time and sends, for each, the success callback whose
/// output `answer(input)` gives, keyed as `answer` says, to `callbacks_url`,
/// until `count` keys are answered (or `until` passes). Each answered task gives
/// one permit back to `window`.
pub async fn play_worker<K: Eq + Hash>(
    sqs: &aws_sdk_sqs::Client,
    work_queue: &str,
    callbacks_url: &str,
    count: usize,
    window: &Semaphore,
    until: Instant,
    answer: impl Fn(&Value) -> Result<(K, Value)>,
) -> Result<HashMap<K, SentCallback>> {
    let mut sent = HashMap::new();
    while sent.len() < count {
        if Instant::now() > until {
            return Err(format!("only {} of {count} task messages arrived", sent.len()).into());
        }
        let messages = event_source::receive(sqs, work_queue, 10, 1).await?;
        if messages.is_empty() {
            continue;
        }
        let mut entries = Vec::new();
        let mut deletes = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            let body: Value = serde_json::from_str(message.body().unwrap_or_default())?;
            let token = body["TaskToken"]
                .as_str()
                .ok_or("task message without TaskToken")?
                .to_owned();
            let (key, output) = answer(&body["input"])?;
            let callback =
                json!({"taskToken": token, "status": "SUCCEEDED", "output": output}).to_string();
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{index}"))
                    .message_body(&callback)
                    .build()?,
            );
            deletes.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{index}"))
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .build()?,
            );
            sent.insert(
                key,
                SentCallback {
                    token,
                    body: callback,
                },
            );
        }
        let batch = sqs
            .send_message_batch()
            .queue_url(callbacks_url)
            .set_entries(Some(entries))
            .send()
            .await?;
        if !batch.failed().is_empty() {
            return Err(format!("SendMessageBatch failed: {:?}", batch.failed()).into());
        }
        window.add_permits(deletes.len());
        sqs.delete_message_batch()
            .queue_url(work_queue)
            .set_entries(Some(deletes))
            .send()
            .await?;
    }
    Ok(sent)
}
