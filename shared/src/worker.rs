//! The worker API: the Lambda does the work itself. It reads the state
//! machine's own task message (`{"TaskToken": ..., "input": ...}`), runs a
//! handler while the heartbeat guard keeps the task alive, and completes the
//! token with the handler's result.
//!
//! A handler is any `async fn(I) -> Result<O, E>`: `I` is read from the task's
//! input, `O` is sent as its output, and `E` is a [`TaskFailure`] or any
//! `std::error::Error` (so `?` works). The untyped form, `async fn(Value) ->
//! Result<Value, TaskFailure>`, is the same thing with `serde_json::Value`.
//!
//! ```no_run
//! use serde::{Deserialize, Serialize};
//! use sfn_callback::SqsWorker;
//!
//! #[derive(Deserialize)]
//! struct Order { items: Vec<String> }
//!
//! #[derive(Serialize)]
//! struct Counted { count: usize }
//!
//! async fn count_items(order: Order) -> Result<Counted, std::io::Error> {
//!     Ok(Counted { count: order.items.len() })
//! }
//! # async fn wire() -> Result<(), lambda_runtime::Error> {
//! let worker = SqsWorker::from_env(count_items).await?;
//! # Ok(()) }
//! ```

use std::any::type_name;
use std::error::Error;
use std::future::Future;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::batch::Handled;
use crate::client::{CallbackClient, Deadline};
use crate::completion::{Completion, INVALID_OUTPUT_ERROR, MAX_ERROR_CHARS, truncate_cause};
use crate::config::{Config, WorkerSettings, heartbeat_interval};
use crate::handlers::TextHandler;
use crate::heartbeat::{until_deadline, with_heartbeats};
use crate::message::{TaskMessage, parse_task_message};
use crate::outcome::{CallbackError, Outcome};

/// How a task's work failed, as the state machine's `Catch` will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    /// The error name the state machine's `Catch` matches.
    pub error: String,
    /// Free text about the failure; cut to Step Functions' limit when sent.
    pub cause: String,
}

impl TaskFailure {
    /// A failure named `error`, with `cause`.
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
    pub(crate) fn into_completion(self) -> Completion {
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

/// The error a task is failed with when its handler's error name is too long
/// for Step Functions; the cause starts with that name.
pub(crate) const INVALID_ERROR_NAME_ERROR: &str = "sfn_callback.InvalidError";
/// The error a task is failed with when its input cannot be read, or does not
/// fit the handler's input type.
pub(crate) const INVALID_INPUT_ERROR: &str = "sfn_callback.InvalidInput";

/// Any error fails the task under its type's name (`ParseIntError`;
/// `serde_json.Error` when the name alone says nothing), with its message and
/// its sources as the cause.
impl<E: Error> From<E> for TaskFailure {
    fn from(err: E) -> Self {
        let mut cause = err.to_string();
        let mut source = err.source();
        while let Some(next) = source {
            cause.push_str(": ");
            cause.push_str(&next.to_string());
            source = next.source();
        }
        Self::new(error_name::<E>(), cause)
    }
}

/// A readable error name for type `E`: its name without path or generics,
/// prefixed with its crate when the name is only `Error`.
fn error_name<E>() -> String {
    let full = type_name::<E>();
    let path = full.split('<').next().unwrap_or(full);
    let name = path.rsplit("::").next().unwrap_or(path);
    match path.split("::").next() {
        Some(krate) if name == "Error" && krate != name => format!("{krate}.{name}"),
        _ => name.to_owned(),
    }
}

/// The work of a task, untyped: its input in, its output or failure out.
pub trait TaskHandler: Send + Sync + 'static {
    /// Works on one task's input: its output, or how it failed.
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

/// A typed handler `async fn(I) -> Result<O, E>` as a [`TaskHandler`]: see [`typed`].
pub struct Typed<F, I> {
    handler: F,
    input: PhantomData<fn(I)>,
}

impl<F, I> std::fmt::Debug for Typed<F, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Typed")
            .field("input", &type_name::<I>())
            .finish_non_exhaustive()
    }
}

/// Any `async fn(I) -> Result<O, E>` with a serializable `O` and an `E` that
/// converts into a [`TaskFailure`]: what [`typed`] and the workers' `from_env`
/// take. Implemented for every such function; nothing to implement by hand.
pub trait TypedHandler<I>: Send + Sync + 'static {
    /// The handler's output, serialized as the task's output.
    type Output: Serialize;
    /// The handler's error, which fails the task.
    type Error: Into<TaskFailure>;
    /// The handler's future.
    type Future: Future<Output = Result<Self::Output, Self::Error>> + Send;
    /// Runs the handler.
    fn call(&self, input: I) -> Self::Future;
}

impl<F, I, O, E, Fut> TypedHandler<I> for F
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send,
    O: Serialize,
    E: Into<TaskFailure>,
{
    type Output = O;
    type Error = E;
    type Future = Fut;

    fn call(&self, input: I) -> Fut {
        self(input)
    }
}

/// Wraps a typed handler: the input is read into `I` (a task whose input does
/// not fit fails with `sfn_callback.InvalidInput`), the output `O` is serialized,
/// and the error converted into a [`TaskFailure`].
pub fn typed<F, I>(handler: F) -> Typed<F, I>
where
    F: TypedHandler<I>,
    I: DeserializeOwned + 'static,
{
    Typed {
        handler,
        input: PhantomData,
    }
}

impl<F, I> TaskHandler for Typed<F, I>
where
    F: TypedHandler<I>,
    I: DeserializeOwned + 'static,
{
    async fn handle(&self, input: Value) -> Result<Value, TaskFailure> {
        let input: I = serde_json::from_value(input).map_err(|err| {
            TaskFailure::new(
                INVALID_INPUT_ERROR,
                format!("the task's input does not fit the handler: {err}"),
            )
        })?;
        let output = self.handler.call(input).await.map_err(Into::into)?;
        serde_json::to_value(output).map_err(|err| {
            TaskFailure::new(
                INVALID_OUTPUT_ERROR,
                format!("the handler's output is not JSON: {err}"),
            )
        })
    }
}

/// The handler and what it needs, shared by the records of a batch.
#[derive(Debug)]
pub(crate) struct Work<H> {
    pub(crate) client: CallbackClient,
    pub(crate) handler: H,
    pub(crate) settings: WorkerSettings,
}

impl<H: TaskHandler> TextHandler for Work<H> {
    fn handle_text(&self, text: &str, deadline: Deadline) -> impl Future<Output = Handled> + Send {
        self.on_text(text, deadline)
    }
}

impl<H: TaskHandler> Work<H> {
    /// Parses a task message and works on it.
    pub(crate) async fn on_text(&self, text: &str, deadline: Deadline) -> Handled {
        let task = match parse_task_message(text) {
            Ok(task) => task,
            Err(err) => return Handled::new(None, Err(err.into())),
        };
        let token = task.token.fingerprint();
        let outcome = work_on(&self.client, &self.handler, task, self.settings, deadline).await;
        Handled::new(Some(token), outcome)
    }
}

/// Reads the client's and the worker's settings from the environment, each
/// variable once.
pub(crate) async fn work_from_env<H>(handler: H) -> Result<Work<H>, lambda_runtime::Error> {
    let config = Config::from_env()?;
    let settings = WorkerSettings {
        heartbeat_interval: heartbeat_interval(&|name: &str| std::env::var(name).ok())?,
        max_concurrency: config.max_concurrency,
    };
    Ok(Work {
        client: CallbackClient::from_env(config.retry).await,
        handler,
        settings,
    })
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
        Some(interval) => match with_heartbeats(client, &token, work, interval, deadline)
            .await
            .finished()
        {
            Ok(result) => result,
            Err(ended) => return ended,
        },
        None => match until_deadline(work, client, deadline).await {
            Some(result) => result,
            None => return Err(CallbackError::OutOfTime),
        },
    };
    let completion = result.map_or_else(TaskFailure::into_completion, |output| {
        Completion::success(&output)
    });
    client.complete(&token, completion, deadline).await
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
    fn std_error_fails_the_task_under_its_type_name_with_its_message() {
        let err = "x".parse::<u8>().unwrap_err();
        let failure = TaskFailure::from(err);
        assert_eq!(failure.error, "ParseIntError");
        assert_eq!(failure.cause, "invalid digit found in string");
    }

    #[test]
    fn error_type_named_only_error_is_prefixed_with_its_crate() {
        let err = serde_json::from_str::<Value>("{").unwrap_err();
        assert_eq!(TaskFailure::from(err).error, "serde_json.Error");
    }

    #[derive(serde::Deserialize)]
    struct Order {
        items: Vec<String>,
    }

    async fn count_items(order: Order) -> Result<usize, std::num::ParseIntError> {
        Ok(order.items.len())
    }

    #[tokio::test]
    async fn typed_handler_reads_its_input_and_serializes_its_output() {
        let output = typed(count_items)
            .handle(serde_json::json!({"items": ["a", "b"]}))
            .await;
        assert_eq!(output, Ok(serde_json::json!(2)));
    }

    #[tokio::test]
    async fn input_that_does_not_fit_a_typed_handler_fails_as_invalid_input() {
        let failure = typed(count_items)
            .handle(serde_json::json!({"items": 3}))
            .await
            .unwrap_err();
        assert_eq!(failure.error, INVALID_INPUT_ERROR);
    }

    #[tokio::test]
    async fn question_mark_on_a_std_error_fails_the_task_with_its_name() {
        async fn parse(text: String) -> Result<u8, TaskFailure> {
            Ok(text.parse::<u8>()?)
        }
        let failure = typed(parse)
            .handle(serde_json::json!("x"))
            .await
            .unwrap_err();
        assert_eq!(failure.error, "ParseIntError");
    }
}
