//! What kind of Task a state is, read from its definition alone.

use serde_json::Value;

use super::states::{QueryLanguage, StateRef};
use crate::integration;

/// How a task waits for its callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// A `.waitForTaskToken` service integration.
    Token,
    /// An activity: a worker polls for it with GetActivityTask.
    Activity,
}

/// A Task state.
#[derive(Debug, Clone, Copy)]
pub struct Task<'a> {
    pub at: StateRef<'a>,
    resource: &'a str,
}

impl<'a> Task<'a> {
    /// The state as a task, if it is one.
    pub fn of(at: StateRef<'a>) -> Option<Self> {
        if at.state.get("Type").and_then(Value::as_str) != Some("Task") {
            return None;
        }
        let resource = at
            .state
            .get("Resource")
            .and_then(Value::as_str)
            .unwrap_or("");
        Some(Self { at, resource })
    }

    /// How it waits for a callback, if it does. An activity is an activity ARN,
    /// or a placeholder substituted at deploy time whose name says activity
    /// (`${ActivityArn}`).
    pub fn callback(&self) -> Option<Callback> {
        if integration::waits_for_token(self.resource) {
            Some(Callback::Token)
        } else if integration::is_activity_arn(self.resource)
            || (is_placeholder(self.resource) && normalized(self.resource).contains("activity"))
        {
            Some(Callback::Activity)
        } else {
            None
        }
    }

    /// The field the task's arguments are in: `Parameters` (JSONPath) or
    /// `Arguments` (JSONata).
    pub fn arguments_field(&self) -> &'static str {
        match self.at.language {
            QueryLanguage::JsonPath => "Parameters",
            QueryLanguage::Jsonata => "Arguments",
        }
    }

    /// Where the task token is read from in this query language.
    pub fn token_reference(&self) -> &'static str {
        match self.at.language {
            QueryLanguage::JsonPath => "$$.Task.Token",
            QueryLanguage::Jsonata => "$states.context.Task.Token",
        }
    }

    /// Whether the arguments hand the task token on to anyone. Only an
    /// evaluated value counts: in JSONPath a value under a key ending in `.$`
    /// (a path or an intrinsic function), in JSONata the text of a
    /// `{% ... %}` expression. Anywhere else the reference is sent as its
    /// literal text, not as the token.
    pub fn passes_token(&self) -> bool {
        let reference = self.token_reference();
        self.arguments()
            .is_some_and(|arguments| match self.at.language {
                QueryLanguage::JsonPath => {
                    any_path_value(arguments, &|text| text.contains(reference))
                }
                QueryLanguage::Jsonata => any_string(arguments, &|text| {
                    jsonata_expression(text)
                        .is_some_and(|expression| expression.contains(reference))
                }),
            })
    }

    /// Whether a field is set (to a number, a path or an expression).
    pub fn has(&self, field: &str) -> bool {
        self.at
            .state
            .get(field)
            .is_some_and(|value| !value.is_null())
    }

    /// A field's number, when it is a literal number.
    pub fn seconds(&self, field: &str) -> Option<u64> {
        self.at.state.get(field).and_then(Value::as_u64)
    }

    /// Whether a `Catch` (or, with `retry`, a `Retry`) names `error`.
    pub fn handles(&self, error: &str, fields: &[&str]) -> bool {
        fields.iter().any(|field| {
            self.at
                .state
                .get(*field)
                .and_then(Value::as_array)
                .is_some_and(|handlers| {
                    handlers.iter().any(|handler| {
                        handler
                            .get("ErrorEquals")
                            .and_then(Value::as_array)
                            .is_some_and(|errors| errors.iter().any(|e| e == error))
                    })
                })
        })
    }

    /// An approval task invokes the approval notifier: its resource or its
    /// `FunctionName` names it (`approval-notifier`, `ApprovalNotifierArn`,
    /// `ApprovalNotifierFunction`, in any case, with or without `-` and `_`).
    pub fn is_approval(&self) -> bool {
        normalized(self.resource).contains("approvalnotifier")
            || self
                .target(&["FunctionName"])
                .is_some_and(|name| normalized(name).contains("approvalnotifier"))
    }

    /// A task worked on by a worker that sends heartbeats: an activity (the
    /// activity worker beats), or a task sent to a worker's queue or topic, one
    /// whose `QueueUrl` or `TopicArn` names a worker (`WorkerQueue`, `sqs-worker`,
    /// `sns-worker`).
    pub fn has_heartbeating_worker(&self) -> bool {
        match self.callback() {
            Some(Callback::Activity) => true,
            Some(Callback::Token) => self
                .target(&["QueueUrl", "TopicArn"])
                .is_some_and(|target| normalized(target).contains("worker")),
            None => false,
        }
    }

    /// The task's `ResultPath` (JSONPath), where its result lands.
    pub fn result_path(&self) -> Option<&'a str> {
        self.at.state.get("ResultPath").and_then(Value::as_str)
    }

    fn arguments(&self) -> Option<&'a Value> {
        self.at.state.get(self.arguments_field())
    }

    /// The text of the first of `fields` in the arguments, literal or a path
    /// (`QueueUrl.$`).
    fn target(&self, fields: &[&str]) -> Option<&'a str> {
        let arguments = self.arguments()?;
        fields.iter().find_map(|field| {
            arguments
                .get(*field)
                .or_else(|| arguments.get(format!("{field}.$")))
                .and_then(Value::as_str)
        })
    }
}

/// Lowercase, without `-` and `_`: `approval-notifier` and `ApprovalNotifier` match.
fn normalized(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '-' && *c != '_')
        .flat_map(char::to_lowercase)
        .collect()
}

fn is_placeholder(text: &str) -> bool {
    text.starts_with("${") && text.ends_with('}')
}

/// The expression of a JSONata value (`{% ... %}`, the whole string), if it is one.
fn jsonata_expression(text: &str) -> Option<&str> {
    text.trim()
        .strip_prefix("{%")
        .and_then(|rest| rest.strip_suffix("%}"))
}

/// Whether any string under a key ending in `.$` (a JSONPath path or an
/// intrinsic function) in `value` satisfies `test`.
fn any_path_value(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|item| any_path_value(item, test)),
        Value::Object(fields) => fields.iter().any(|(key, item)| match item {
            Value::String(text) => key.ends_with(".$") && test(text),
            other => any_path_value(other, test),
        }),
        _ => false,
    }
}

/// Whether any string in `value` (keys excluded) satisfies `test`.
fn any_string(value: &Value, test: &dyn Fn(&str) -> bool) -> bool {
    match value {
        Value::String(text) => test(text),
        Value::Array(items) => items.iter().any(|item| any_string(item, test)),
        Value::Object(fields) => fields.values().any(|item| any_string(item, test)),
        _ => false,
    }
}
