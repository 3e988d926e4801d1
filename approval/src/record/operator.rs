//! What the operator's `sfn-callback approvals` commands read and change: a
//! request's whole record, withdrawing it, and the requests that wait.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use serde_json::{Map, Number, Value};

use super::approver::ApproverRecord;
use super::attributes::{self, Attributes};
use super::error::TableError;
use super::id::RequestId;
use super::request::{RequestStatus, StoredRequest, names};
use super::schema::{
    APPROVER_PREFIX, LEDGER_PREFIX, PARTITION_KEY, REQUEST_SORT_KEY, SORT_KEY, TTL_ATTRIBUTE,
    VOTE_PREFIX, request_key,
};
use super::table::ApprovalTable;
use super::vote::{CastVote, in_cast_order};

/// Everything recorded about one request.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestHistory {
    /// The request as it stands.
    pub request: StoredRequest,
    /// Its approvers, and whether their email went out.
    pub approvers: Vec<ApproverRecord>,
    /// Its votes, in the order they were cast.
    pub votes: Vec<CastVote>,
    /// Its ledger, oldest first (each record's attributes as JSON).
    pub ledger: Vec<Value>,
}

/// What [`ApprovalTable::withdraw`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum Withdrawal {
    /// The request was pending; now every link of it answers "withdrawn".
    Withdrawn(StoredRequest),
    /// The request was decided or withdrawn already; nothing changed.
    NotPending(StoredRequest),
    /// No such request (never recorded, or gone with its TTL).
    NotFound,
}

impl ApprovalTable {
    /// The request `id` with its approvers, votes and ledger, read consistently
    /// with one paginated `Query` of its item collection.
    pub async fn history(&self, id: &RequestId) -> Result<Option<RequestHistory>, TableError> {
        let mut request = None;
        let mut approvers = Vec::new();
        let mut votes = Vec::new();
        let mut ledger = Vec::new();
        for item in self.request_items(id, None).await? {
            let sort_key = match item.get(SORT_KEY) {
                Some(AttributeValue::S(sort_key)) => sort_key.as_str(),
                _ => return Err(TableError::malformed("request", "an item has no sort key")),
            };
            if sort_key == REQUEST_SORT_KEY {
                request = Some(StoredRequest::from_item(&item)?);
            } else if sort_key.starts_with(APPROVER_PREFIX) {
                approvers.push(ApproverRecord::from_item(&item)?);
            } else if sort_key.starts_with(VOTE_PREFIX) {
                votes.push(CastVote::from_item(&item)?);
            } else if sort_key.starts_with(LEDGER_PREFIX) {
                ledger.push(shown(&item));
            }
        }
        in_cast_order(&mut votes);
        Ok(request.map(|request| RequestHistory {
            request,
            approvers,
            votes,
            ledger,
        }))
    }

    /// Withdraws the request `id` at `now` (unix seconds) if it is pending:
    /// every link of it then answers 410 "withdrawn". A vote racing it either
    /// lands first (and the request is no longer pending) or is refused.
    pub async fn withdraw(&self, id: &RequestId, now: u64) -> Result<Withdrawal, TableError> {
        const OPERATION: &str = "UpdateItem";
        let updated = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(request_key(id))))
            .update_expression("SET #status = :withdrawn, #withdrawnAt = :now")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", names::STATUS)
            .expression_attribute_names("#withdrawnAt", names::WITHDRAWN_AT)
            .expression_attribute_values(
                ":withdrawn",
                attributes::string(RequestStatus::Withdrawn.as_str()),
            )
            .expression_attribute_values(
                ":pending",
                attributes::string(RequestStatus::Pending.as_str()),
            )
            .expression_attribute_values(":now", attributes::number(now))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match updated {
            Ok(answer) => match answer.attributes() {
                Some(item) => Ok(Withdrawal::Withdrawn(StoredRequest::from_item(item)?)),
                None => Err(TableError::malformed(
                    "request",
                    "the update returned no item",
                )),
            },
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                // Not pending, or not there at all: the item says which.
                Ok(match self.request(id).await? {
                    Some(request) => Withdrawal::NotPending(request),
                    None => Withdrawal::NotFound,
                })
            }
            Err(err) => Err(TableError::from_sdk(OPERATION, &err)),
        }
    }

    /// Every recorded request, or only those that still wait at `now` (unix
    /// seconds): pending and not expired, or decided with a completion
    /// claimed but not yet sent. Oldest first. A paginated `Scan` of the
    /// whole table: an operator's command, not a function's hot path.
    pub async fn requests(
        &self,
        only_waiting: bool,
        now: u64,
    ) -> Result<Vec<StoredRequest>, TableError> {
        let filter = if only_waiting {
            "#sk = :request AND ((#status = :pending AND #expiresAt > :now) OR #completion = :claimed)"
        } else {
            "#sk = :request"
        };
        let mut scan = self
            .client()
            .scan()
            .table_name(self.name())
            .filter_expression(filter)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_values(":request", attributes::string(REQUEST_SORT_KEY))
            .consistent_read(true);
        if only_waiting {
            scan = scan
                .expression_attribute_names("#status", names::STATUS)
                .expression_attribute_names("#expiresAt", names::EXPIRES_AT)
                .expression_attribute_names("#completion", names::COMPLETION)
                .expression_attribute_values(
                    ":pending",
                    attributes::string(RequestStatus::Pending.as_str()),
                )
                .expression_attribute_values(":now", attributes::number(now))
                .expression_attribute_values(":claimed", attributes::string("claimed"));
        }
        let mut found = scan
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|err| TableError::from_sdk("Scan", &err))?
            .iter()
            .map(StoredRequest::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        found.sort_by(|a, b| {
            (a.terms.created_at, &a.terms.id).cmp(&(b.terms.created_at, &b.terms.id))
        });
        Ok(found)
    }
}

/// An item's attributes as JSON (keys in order), without its keys and TTL.
fn shown(item: &Attributes) -> Value {
    let object: Map<String, Value> = item
        .iter()
        .filter(|(name, _)| ![PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE].contains(&name.as_str()))
        .map(|(name, value)| (name.clone(), json_of(value)))
        .collect();
    Value::Object(object)
}

/// An attribute value as JSON: numbers as numbers where they fit, sets as
/// lists, binary as a placeholder (this table holds none).
fn json_of(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(text) => Value::String(text.clone()),
        AttributeValue::N(text) => text
            .parse::<u64>()
            .map(Value::from)
            .ok()
            .or_else(|| {
                text.parse::<f64>()
                    .ok()
                    .and_then(Number::from_f64)
                    .map(Value::Number)
            })
            .unwrap_or_else(|| Value::String(text.clone())),
        AttributeValue::Bool(flag) => Value::Bool(*flag),
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::L(values) => Value::Array(values.iter().map(json_of).collect()),
        AttributeValue::M(map) => Value::Object(
            map.iter()
                .map(|(name, value)| (name.clone(), json_of(value)))
                .collect(),
        ),
        AttributeValue::Ss(values) | AttributeValue::Ns(values) => {
            values.iter().cloned().map(Value::String).collect()
        }
        _ => Value::String("(binary)".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn shown_items_lose_their_keys_and_ttl_and_keep_their_types() {
        let item: Attributes = HashMap::from([
            ("pk".to_owned(), attributes::string("request#x")),
            ("sk".to_owned(), attributes::string("vote#a@example.com")),
            ("ttl".to_owned(), attributes::number(9)),
            ("approver".to_owned(), attributes::string("a@example.com")),
            ("decidedAt".to_owned(), attributes::number(1_750_000_000)),
            ("suspectedScanner".to_owned(), AttributeValue::Bool(true)),
            ("comment".to_owned(), AttributeValue::Null(true)),
        ]);
        assert_eq!(
            shown(&item),
            serde_json::json!({
                "approver": "a@example.com",
                "comment": null,
                "decidedAt": 1_750_000_000_u64,
                "suspectedScanner": true
            })
        );
    }
}
