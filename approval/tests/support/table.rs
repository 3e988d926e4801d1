//! A DynamoDB double for recorded mode's replay tests: a real
//! aws-sdk-dynamodb client whose HTTP layer answers each operation by a
//! script and records what it was sent. The items are written in DynamoDB's
//! JSON, as the service sends them.

use std::sync::{Arc, Mutex};

use aws_smithy_http_client::test_util::infallible_client_fn;
use aws_smithy_types::body::SdkBody;
use serde_json::{Value, json};
use sfn_callback_approval::record::ApprovalTable;

/// The DynamoDB operation `name`, as the `x-amz-target` header names it.
pub fn operation(name: &str) -> String {
    format!("DynamoDB_20120810.{name}")
}

/// Answers each request by a script: `answer(operation, how many requests of
/// that operation came before)` gives the status and the JSON body.
#[derive(Debug, Clone, Default)]
pub struct ScriptedTable {
    sent: Arc<Mutex<Vec<(String, Value)>>>,
}

impl ScriptedTable {
    /// The table `approvals`, reached through the script.
    pub fn table(
        &self,
        answer: impl Fn(&str, usize) -> (u16, Value) + Send + Sync + 'static,
    ) -> ApprovalTable {
        let sent = Arc::clone(&self.sent);
        let http = infallible_client_fn(move |request: http::Request<SdkBody>| {
            let target = request
                .headers()
                .get("x-amz-target")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .trim_start_matches("DynamoDB_20120810.")
                .to_owned();
            let body = serde_json::from_slice(request.body().bytes().unwrap_or_default())
                .unwrap_or(Value::Null);
            let earlier = {
                let mut sent = sent.lock().unwrap();
                let earlier = sent.iter().filter(|(op, _)| *op == target).count();
                sent.push((target.clone(), body));
                earlier
            };
            let (status, body) = answer(&target, earlier);
            http::Response::builder()
                .status(status)
                .header("content-type", "application/x-amz-json-1.0")
                .body(SdkBody::from(body.to_string()))
                .unwrap()
        });
        let client = aws_sdk_dynamodb::Client::new(&super::sfn::replay_sdk_config(http));
        ApprovalTable::new(client, "approvals")
    }

    /// How many requests of `operation` (e.g. `UpdateItem`) were sent.
    pub fn count(&self, operation: &str) -> usize {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .count()
    }

    /// The bodies of the requests of `operation`, in order.
    pub fn bodies(&self, operation: &str) -> Vec<Value> {
        self.sent
            .lock()
            .unwrap()
            .iter()
            .filter(|(op, _)| op == operation)
            .map(|(_, body)| body.clone())
            .collect()
    }
}

/// HTTP 200 with `body`.
pub fn ok(body: Value) -> (u16, Value) {
    (200, body)
}

/// HTTP 400 with the error `code`, as DynamoDB refuses.
pub fn refused(code: &str) -> (u16, Value) {
    (
        400,
        json!({"__type": format!("com.amazonaws.dynamodb.v20120810#{code}"), "message": "replayed"}),
    )
}

/// A `GetItem` answer with `item`, or without one.
pub fn item(item: Option<Value>) -> (u16, Value) {
    ok(item.map_or_else(|| json!({}), |item| json!({ "Item": item })))
}

/// A `Query` answer with `items`.
pub fn items(items: &[Value]) -> (u16, Value) {
    let count = items.len();
    ok(json!({"Items": items, "Count": count, "ScannedCount": count}))
}
