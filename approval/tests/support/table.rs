//! A DynamoDB double for recorded mode's replay tests: a real
//! aws-sdk-dynamodb client whose HTTP layer answers each operation by a
//! script and records what it was sent. The items are written in DynamoDB's
//! JSON, as the service sends them.

use serde_json::{Value, json};
use sfn_callback_approval::record::ApprovalTable;
use sfn_callback_test_support::ScriptedSfn;

/// The DynamoDB operation `name`, as the `x-amz-target` header names it.
pub fn operation(name: &str) -> String {
    format!("DynamoDB_20120810.{name}")
}

/// Answers each request by a script: `answer(operation, how many requests of
/// that operation came before)` gives the status and the JSON body. The
/// recording is the shared [`ScriptedSfn`]'s; operations are named here
/// without DynamoDB's `x-amz-target` prefix.
#[derive(Debug, Clone, Default)]
pub struct ScriptedTable {
    scripted: ScriptedSfn,
}

impl ScriptedTable {
    /// The table `approvals`, reached through the script.
    pub fn table(
        &self,
        answer: impl Fn(&str, usize) -> (u16, Value) + Send + Sync + 'static,
    ) -> ApprovalTable {
        let http = self.scripted.http_client_fn(move |target, earlier| {
            let (status, body) = answer(unprefixed(target), earlier);
            (status, body.to_string())
        });
        let client = aws_sdk_dynamodb::Client::new(&super::sfn::replay_sdk_config(http));
        ApprovalTable::new(client, "approvals")
    }

    /// How many requests of `operation` (e.g. `UpdateItem`) were sent.
    pub fn count(&self, operation: &str) -> usize {
        self.scripted.count(&self::operation(operation))
    }

    /// The bodies of the requests of `operation`, in order.
    pub fn bodies(&self, operation: &str) -> Vec<Value> {
        self.scripted.bodies(&self::operation(operation))
    }
}

/// The operation named by `target`, without DynamoDB's prefix.
fn unprefixed(target: &str) -> &str {
    target.trim_start_matches("DynamoDB_20120810.")
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
