//! The worker API: the Lambda does the work itself. It reads the state
//! machine's own task message (`{"TaskToken": ..., "input": ...}`), runs a
//! [`TaskHandler`] while a heartbeat guard keeps the task alive, and completes
//! the token with the handler's result.
//!
//! ```no_run
//! use serde_json::{Value, json};
//! use sfn_callback::worker::{TaskFailure, WorkerSettings, SqsWorker};
//!
//! async fn count_items(input: Value) -> Result<Value, TaskFailure> {
//!     let items = input["items"].as_array().ok_or_else(|| TaskFailure::new("NoItems", "input has no items"))?;
//!     Ok(json!({"count": items.len()}))
//! }
//! # async fn wire(client: sfn_callback::CallbackClient) {
//! let worker = SqsWorker::new(client, count_items, WorkerSettings::default());
//! # }
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::batch::{Handled, process_sqs_batch};
use crate::client::{CallbackClient, Deadline};
use crate::completion::{Completion, MAX_ERROR_CHARS, truncate_cause};
use crate::config::{ConfigError, setting};
use crate::envelope::sqs_callback_text;
use crate::message::MessageError;
use crate::outcome::{CallbackError, Done, Outcome};
use crate::sns_callback::{SnsCallbackError, fold_outcomes};
use crate::token::TaskToken;

/// The error a task is failed with when its handler's error name is too long
/// for Step Functions; the cause starts with that name.
pub const INVALID_ERROR_NAME_ERROR: &str = "sfn_callback.InvalidError";

/// How a task's work failed, as the state machine's `Catch` will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// The SendTaskFailure for this failure. An error name over the limit
    /// (`TaskFailure::new(e.to_string(), ...)` makes them) would be refused, and
    /// the work run again on every delivery; the task is failed anyway with
    /// [`INVALID_ERROR_NAME_ERROR`] and the name at the head of the cause. The name
    /// is not cut: a cut name would match the wrong `Catch`.
    pub fn into_completion(self) -> Completion {
        let Self { error, cause } = self;
        let chars = error.chars().count();
        if chars <= MAX_ERROR_CHARS {
            return Completion::Failure {
                error: Some(error),
                cause: Some(truncate_cause(cause)),
            };
        }
        let cause = format!(
            "{error}\n[the handler's error name above is {chars} characters, over Step \
             Functions' limit of {MAX_ERROR_CHARS}]\n{cause}"
        );
        Completion::Failure {
            error: Some(INVALID_ERROR_NAME_ERROR.to_owned()),
            cause: Some(truncate_cause(cause)),
        }
    }
}

/// The work of a task: its input in, its output or failure out.
pub trait TaskHandler: Send + Sync + 'static {
    fn handle(&self, input: Value) -> impl Future<Output = Result<Value, TaskFailure>> + Send;
}

impl<F, Fut> TaskHandler for F
where
    F: Fn(Value) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, TaskFailure>> + Send,
{
    fn handle(&self, input: Value) -> impl Future<Output = Result<Value, TaskFailure>> + Send {
        self(input)
    }
}

/// Settings of the worker adapters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Time between heartbeats while the work runs; `None` sends none. Use about
    /// a third of the task's `HeartbeatSeconds`, so one lost heartbeat is survived.
    pub heartbeat_interval: Option<Duration>,
    /// Records of one batch worked on at once.
    pub max_concurrency: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        Self {
            heartbeat_interval: Some(Duration::from_mins(1)),
            max_concurrency: 10,
        }
    }
}

impl WorkerSettings {
    /// Reads `HEARTBEAT_INTERVAL_SECONDS` (default 60; 0 sends no heartbeats) and
    /// `MAX_CONCURRENCY` (default 10) from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let seconds = setting(&lookup, "HEARTBEAT_INTERVAL_SECONDS", 60, 0..=86_400)?;
        Ok(Self {
            heartbeat_interval: (seconds > 0).then(|| Duration::from_secs(seconds)),
            max_concurrency: setting(&lookup, "MAX_CONCURRENCY", 10, 1..=1000)?,
        })
    }
}

/// A task message: the token plus the input the state machine sent.
#[derive(Debug)]
pub struct TaskMessage {
    pub token: TaskToken,
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

/// A field that is there, whatever its value (`null` included); serde's
/// `Option` would read `null` as absent.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
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
        reason: crate::message::duplicate_field(&err)
            .unwrap_or_else(|| format!("not a task message ({})", err.classify_name())),
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

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "unexpected shape",
            serde_json::error::Category::Eof => "the JSON ends early",
        }
    }
}

/// Runs `task` with the heartbeat guard, then completes its token.
pub async fn work_on<H: TaskHandler>(
    client: &CallbackClient,
    handler: &H,
    task: TaskMessage,
    settings: WorkerSettings,
    deadline: Deadline,
) -> Outcome {
    let TaskMessage { token, input } = task;
    let work = handler.handle(input);
    let result = match settings.heartbeat_interval {
        Some(interval) => match with_heartbeats(client, &token, work, interval, deadline).await {
            Guarded::Finished(result) => result,
            Guarded::Closed(done) => return Ok(done),
            Guarded::Gone(err) => return Err(err),
            Guarded::OutOfTime => return Err(CallbackError::OutOfTime),
        },
        None => match until_deadline(work, client, deadline).await {
            Some(result) => result,
            None => return Err(CallbackError::OutOfTime),
        },
    };
    client
        .complete(&token, completion_of(result), deadline)
        .await
}

/// What a handler's result completes its task with.
pub(crate) fn completion_of(result: Result<Value, TaskFailure>) -> Completion {
    match result {
        Ok(output) => Completion::success(&output),
        Err(failure) => failure.into_completion(),
    }
}

/// How guarded work ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Guarded<T> {
    /// The work finished with this result.
    Finished(T),
    /// A heartbeat said the task is closed: the work was cancelled.
    Closed(Done),
    /// A heartbeat said Step Functions does not know the task (see
    /// [`CallbackError::task_is_gone`]): the work was cancelled, and the error is
    /// permanent, as a completion refused the same way would be.
    Gone(CallbackError),
    /// The Lambda deadline came first: the work was cancelled.
    OutOfTime,
}

/// Sends a heartbeat every `interval` while `work` runs. Stops as soon as the
/// work ends. A heartbeat answered with a closed or unknown task cancels the
/// work; any other failed heartbeat is logged and the next one tried.
pub async fn with_heartbeats<W, T>(
    client: &CallbackClient,
    token: &TaskToken,
    work: W,
    interval: Duration,
    deadline: Deadline,
) -> Guarded<T>
where
    W: Future<Output = T>,
{
    let heartbeats = async {
        loop {
            tokio::time::sleep(interval).await;
            match client
                .complete(token, Completion::Heartbeat, deadline)
                .await
            {
                Ok(Done::AlreadyClosed) => return Guarded::Closed(Done::AlreadyClosed),
                Err(err) if err.task_is_gone() => {
                    tracing::warn!(token = %token, error = %err, "heartbeat refused: the task is unknown; cancelling the work");
                    return Guarded::Gone(err);
                }
                Err(err) => {
                    tracing::warn!(token = %token, error = %err, "heartbeat failed; the work goes on");
                }
                Ok(_) => tracing::debug!(token = %token, "heartbeat sent"),
            }
        }
    };
    tokio::select! {
        biased;
        result = until_deadline(work, client, deadline) => result.map_or(Guarded::OutOfTime, Guarded::Finished),
        stopped = heartbeats => stopped,
    }
}

/// Runs `work` until the deadline less the client's margin and one attempt's
/// timeout, so that finished work always has time for its completion call;
/// `None` if cut off.
async fn until_deadline<W: Future>(
    work: W,
    client: &CallbackClient,
    deadline: Deadline,
) -> Option<W::Output> {
    let settings = client.settings();
    match deadline.remaining(settings.deadline_margin + settings.attempt_timeout) {
        Some(remaining) => tokio::time::timeout(remaining, work).await.ok(),
        None => Some(work.await),
    }
}

/// The SQS adapter: each record is a task message; the batch gets a partial
/// batch response with the records that are not done.
#[derive(Debug)]
pub struct SqsWorker<H> {
    inner: Arc<Inner<H>>,
}

#[derive(Debug)]
struct Inner<H> {
    client: CallbackClient,
    handler: H,
    settings: WorkerSettings,
}

impl<H: TaskHandler> SqsWorker<H> {
    pub fn new(client: CallbackClient, handler: H, settings: WorkerSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                client,
                handler,
                settings,
            }),
        }
    }

    pub async fn handle(
        &self,
        event: LambdaEvent<SqsEvent>,
    ) -> Result<SqsBatchResponse, lambda_runtime::Error> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let inner = Arc::clone(&self.inner);
        let handler = move |record: SqsMessage| {
            let inner = Arc::clone(&inner);
            async move {
                inner
                    .work_on_text(sqs_callback_text(&record).map_err(Into::into), deadline)
                    .await
            }
        };
        Ok(process_sqs_batch(
            event.payload.records,
            self.inner.settings.max_concurrency,
            handler,
        )
        .await)
    }
}

impl<H: TaskHandler> Inner<H> {
    async fn work_on_text(
        &self,
        text: Result<std::borrow::Cow<'_, str>, CallbackError>,
        deadline: Deadline,
    ) -> Handled {
        let task = match text.and_then(|text| parse_task_message(&text).map_err(Into::into)) {
            Ok(task) => task,
            Err(err) => return Handled::new(None, Err(err)),
        };
        let token = task.token.fingerprint();
        let outcome = work_on(&self.client, &self.handler, task, self.settings, deadline).await;
        Handled::new(Some(token), outcome)
    }
}

/// The SNS adapter: each notification's `Message` is a task message. A record
/// that is not done makes the invocation fail, so Lambda retries the event and
/// finally sends it to the OnFailure destination.
#[derive(Debug)]
pub struct SnsWorker<H> {
    inner: Inner<H>,
}

impl<H: TaskHandler> SnsWorker<H> {
    pub fn new(client: CallbackClient, handler: H, settings: WorkerSettings) -> Self {
        Self {
            inner: Inner {
                client,
                handler,
                settings,
            },
        }
    }

    pub async fn handle(&self, event: LambdaEvent<SnsEvent>) -> Result<(), SnsCallbackError> {
        let deadline = Deadline::from_epoch_millis(event.context.deadline);
        let mut outcomes = Vec::with_capacity(event.payload.records.len());
        for record in &event.payload.records {
            let text = Ok(std::borrow::Cow::Borrowed(record.sns.message.as_str()));
            let handled = self.inner.work_on_text(text, deadline).await;
            crate::batch::log_outcome(&record.sns.message_id, handled.token, &handled.outcome);
            outcomes.push(handled.outcome);
        }
        fold_outcomes(outcomes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_of(completion: &Completion) -> Option<&str> {
        match completion {
            Completion::Failure { error, .. } => error.as_deref(),
            _ => None,
        }
    }

    #[test]
    fn error_name_of_the_limit_is_kept_and_one_more_fails_as_invalid_error() {
        let kept = TaskFailure::new("e".repeat(MAX_ERROR_CHARS), "c").into_completion();
        let over = TaskFailure::new("e".repeat(MAX_ERROR_CHARS + 1), "c").into_completion();

        assert_eq!(error_of(&kept), Some("e".repeat(MAX_ERROR_CHARS).as_str()));
        assert_eq!(error_of(&over), Some(INVALID_ERROR_NAME_ERROR));
    }

    #[test]
    fn explicit_null_input_is_the_input_not_the_other_fields() {
        let task = parse_task_message(r#"{"TaskToken":"tok","input":null,"other":1}"#).unwrap();
        assert_eq!(task.input, Value::Null);
    }
}
