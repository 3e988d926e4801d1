//! The vote: one per approver per request, counted with an optimistic
//! transaction, and the claim on sending the completion that comes with the
//! deciding vote.
//!
//! One `TransactWriteItems` puts the vote (only if this approver has none),
//! updates the request (only while it is pending and its approvals are still
//! the count this vote saw) and puts the vote's ledger record. The vote that
//! reaches the quorum, or any reject, also decides the request and claims the
//! completion (`completion = "claimed"`, `completionClaimedAt`): of any number
//! of concurrent votes exactly one can, so exactly one voter sends it.
//!
//! A cancelled transaction is explained by reading the vote and the request
//! again, never by the cancellation reasons alone (not every DynamoDB
//! implementation gives them): a vote of this approver means "already voted",
//! a request no longer pending means "closed", and otherwise the count moved
//! under us and the vote is tried again.
//!
//! A claimed completion that was not sent (Step Functions was busy) can be
//! claimed again once the claim is older than [`COMPLETION_LEASE_SECONDS`],
//! conditionally on the old claim, so two senders never hold it at once.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::builders::PutBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::ApprovalTable;
use super::attributes::{self, Attributes, Item};
use super::error::TableError;
use super::id::RequestId;
use super::ledger::LedgerEntry;
use super::request::names;
use super::request::{RequestStatus, StoredRequest};
use super::schema::{self, PARTITION_KEY, TTL_ATTRIBUTE, VOTE_PREFIX};
use crate::link::Action;

/// How long a claim on sending the completion holds before another vote may
/// take it over.
pub const COMPLETION_LEASE_SECONDS: u64 = 60;
/// Tries of one vote while other votes keep moving the count.
const MAX_TRIES: u32 = 25;
/// The longest pause between two tries, in milliseconds.
const MAX_PAUSE_MS: u64 = 40;

/// The attribute names of the vote item.
pub mod vote_names {
    /// S: the approver, lowercase.
    pub const APPROVER: &str = "approver";
    /// S: `approved` or `rejected`.
    pub const DECISION: &str = "decision";
    /// S: the approver's comment, if any.
    pub const COMMENT: &str = "comment";
    /// N: when the vote was cast, unix seconds.
    pub const DECIDED_AT: &str = "decidedAt";
}

/// A vote about to be cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    /// The approver the link was sent to, lowercase.
    pub approver: String,
    /// The link's action.
    pub decision: Action,
    /// What the approver wrote.
    pub comment: Option<String>,
    /// Now, unix seconds.
    pub at: u64,
}

/// A vote on record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CastVote {
    /// The approver, lowercase.
    pub approver: String,
    /// Approve or reject.
    pub decision: Action,
    /// What the approver wrote.
    pub comment: Option<String>,
    /// When, unix seconds.
    pub decided_at: u64,
}

impl CastVote {
    /// `approved` or `rejected`: the vote item's `decision`.
    pub fn decision_text(&self) -> &'static str {
        decision_text(self.decision)
    }

    /// The vote as the approval's output and the operator show it:
    /// `{"approver", "decision", "comment", "decidedAt"}`, the time in RFC 3339.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "approver": self.approver,
            "decision": self.decision_text(),
            "comment": self.comment,
            "decidedAt": crate::rfc3339(self.decided_at),
        })
    }

    /// Reads a vote item.
    pub fn from_item(attributes: &Attributes) -> Result<Self, TableError> {
        let item = Item::new("vote", attributes);
        let decision = match item.string(vote_names::DECISION)?.as_str() {
            "approved" => Action::Approve,
            "rejected" => Action::Reject,
            _ => {
                return Err(TableError::malformed(
                    "vote",
                    "decision is neither approved nor rejected",
                ));
            }
        };
        Ok(Self {
            approver: item.string(vote_names::APPROVER)?,
            decision,
            comment: item.optional_string(vote_names::COMMENT)?,
            decided_at: item.number(vote_names::DECIDED_AT)?,
        })
    }
}

fn decision_text(decision: Action) -> &'static str {
    match decision {
        Action::Approve => "approved",
        Action::Reject => "rejected",
    }
}

/// How a vote ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Cast {
    /// Counted; the request waits for more approvals.
    Counted {
        /// Approvals now.
        approvals: u32,
    },
    /// Counted, and it decided the request: this voter holds the claim on
    /// sending the completion. The request as the vote left it.
    Decided(StoredRequest),
    /// This approver had voted already: nothing changed.
    AlreadyVoted(CastVote),
    /// The request is no longer pending (decided or withdrawn): nothing changed.
    Closed(StoredRequest),
}

impl ApprovalTable {
    /// Casts `ballot` on `request` (as read just before), writing `ledger`
    /// (its outcome "accepted") with it.
    pub async fn cast(
        &self,
        request: StoredRequest,
        ballot: &Ballot,
        ledger: &LedgerEntry,
    ) -> Result<Cast, TableError> {
        let mut request = request;
        for attempt in 0..MAX_TRIES {
            if attempt > 0 {
                tokio::time::sleep(pause(attempt)).await;
                if let Some(vote) = self.vote_of(&request.terms.id, &ballot.approver).await? {
                    return Ok(Cast::AlreadyVoted(vote));
                }
                request = self
                    .request(&request.terms.id)
                    .await?
                    .ok_or_else(|| TableError::malformed("request", "it disappeared"))?;
            }
            if request.status != RequestStatus::Pending {
                return Ok(Cast::Closed(request));
            }
            let Some(decided_by) = self.deciders(&request, ballot).await? else {
                continue;
            };
            let write = self
                .client()
                .transact_write_items()
                .transact_items(vote_put(self.name(), &request, ballot)?)
                .transact_items(request_update(self.name(), &request, ballot, &decided_by)?)
                .transact_items(ledger_put(self.name(), ledger, request.ttl)?)
                .send()
                .await;
            match write {
                Ok(_) => return Ok(counted(request, ballot, decided_by)),
                Err(err)
                    if err.as_service_error().is_some_and(
                        TransactWriteItemsError::is_transaction_canceled_exception,
                    ) => {}
                Err(err) => return Err(TableError::from_sdk("TransactWriteItems", &err)),
            }
        }
        Err(TableError::Conflict {
            operation: "TransactWriteItems",
        })
    }

    /// Who decides the request if `ballot` is counted now: nobody yet (an
    /// empty list) when it leaves the request pending; `None` when the votes
    /// read do not match the request's count (a vote is landing: try again).
    async fn deciders(
        &self,
        request: &StoredRequest,
        ballot: &Ballot,
    ) -> Result<Option<Vec<String>>, TableError> {
        match ballot.decision {
            Action::Reject => Ok(Some(vec![ballot.approver.clone()])),
            Action::Approve if request.approvals + 1 < request.terms.quorum => Ok(Some(Vec::new())),
            Action::Approve => {
                // Until the decision every vote is an approval (a reject
                // decides at once), so the votes are the approvals so far.
                let votes = self.votes(&request.terms.id).await?;
                if votes.len() != usize::try_from(request.approvals).unwrap_or(usize::MAX)
                    || votes.iter().any(|vote| vote.approver == ballot.approver)
                {
                    return Ok(None);
                }
                let mut by: Vec<String> = votes.into_iter().map(|vote| vote.approver).collect();
                by.push(ballot.approver.clone());
                Ok(Some(by))
            }
        }
    }

    /// `approver`'s vote on `request`, if any.
    pub async fn vote_of(
        &self,
        request: &RequestId,
        approver: &str,
    ) -> Result<Option<CastVote>, TableError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(schema::vote_key(
                request, approver,
            ))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| TableError::from_sdk("GetItem", &err))?;
        answer.item().map(CastVote::from_item).transpose()
    }

    /// Every vote on `request`, in the order they were cast.
    pub async fn votes(&self, request: &RequestId) -> Result<Vec<CastVote>, TableError> {
        let mut votes = self
            .request_items(request, Some(VOTE_PREFIX))
            .await?
            .iter()
            .map(CastVote::from_item)
            .collect::<Result<Vec<_>, _>>()?;
        in_cast_order(&mut votes);
        Ok(votes)
    }

    /// Takes over a claim on sending the completion made at `claimed_at` that
    /// was never marked sent: `false` when someone else took it first (or it
    /// was sent).
    pub async fn reclaim_completion(
        &self,
        request: &RequestId,
        claimed_at: u64,
        now: u64,
    ) -> Result<bool, TableError> {
        let update = self
            .client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(schema::request_key(
                request,
            ))))
            .update_expression("SET #claimedAt = :now")
            .condition_expression("#completion = :claimed AND #claimedAt = :old")
            .expression_attribute_names("#completion", names::COMPLETION)
            .expression_attribute_names("#claimedAt", names::COMPLETION_CLAIMED_AT)
            .expression_attribute_values(":now", attributes::number(now))
            .expression_attribute_values(":old", attributes::number(claimed_at))
            .expression_attribute_values(":claimed", attributes::string("claimed"))
            .send()
            .await;
        match update {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(UpdateItemError::is_conditional_check_failed_exception) =>
            {
                Ok(false)
            }
            Err(err) => Err(TableError::from_sdk("UpdateItem", &err)),
        }
    }

    /// Notes that Step Functions has the completion (or will never take it):
    /// nobody sends it again.
    pub async fn mark_completion_sent(&self, request: &RequestId) -> Result<(), TableError> {
        self.client()
            .update_item()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(schema::request_key(
                request,
            ))))
            .update_expression("SET #completion = :sent")
            .expression_attribute_names("#completion", names::COMPLETION)
            .expression_attribute_values(":sent", attributes::string("sent"))
            .send()
            .await
            .map_err(|err| TableError::from_sdk("UpdateItem", &err))?;
        Ok(())
    }
}

/// Sorts `votes` in the order they were cast (ties by approver).
pub(super) fn in_cast_order(votes: &mut [CastVote]) {
    votes.sort_by(|a, b| (a.decided_at, &a.approver).cmp(&(b.decided_at, &b.approver)));
}

/// The request as the counted `ballot` left it.
fn counted(mut request: StoredRequest, ballot: &Ballot, decided_by: Vec<String>) -> Cast {
    if ballot.decision == Action::Approve {
        request.approvals += 1;
    }
    if decided_by.is_empty() {
        return Cast::Counted {
            approvals: request.approvals,
        };
    }
    request.status = match ballot.decision {
        Action::Approve => RequestStatus::Approved,
        Action::Reject => RequestStatus::Rejected,
    };
    request.decided_at = Some(ballot.at);
    request.decided_by = decided_by;
    request.completion = Some(super::request::CompletionState::Claimed { at: ballot.at });
    Cast::Decided(request)
}

/// Put the vote, unless this approver has one.
fn vote_put(
    table: &str,
    request: &StoredRequest,
    ballot: &Ballot,
) -> Result<TransactWriteItem, TableError> {
    let mut item =
        attributes::key_attributes(schema::vote_key(&request.terms.id, &ballot.approver));
    item.insert(
        vote_names::APPROVER.to_owned(),
        attributes::string(ballot.approver.clone()),
    );
    item.insert(
        vote_names::DECISION.to_owned(),
        attributes::string(decision_text(ballot.decision)),
    );
    if let Some(comment) = &ballot.comment {
        item.insert(
            vote_names::COMMENT.to_owned(),
            attributes::string(comment.clone()),
        );
    }
    item.insert(
        vote_names::DECIDED_AT.to_owned(),
        attributes::number(ballot.at),
    );
    item.insert(TTL_ATTRIBUTE.to_owned(), attributes::number(request.ttl));
    put(Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression("attribute_not_exists(#pk)")
        .expression_attribute_names("#pk", PARTITION_KEY))
}

/// Count the vote on the request, only while it is pending with the count
/// seen; the deciding vote also decides it and claims the completion.
fn request_update(
    table: &str,
    request: &StoredRequest,
    ballot: &Ballot,
    decided_by: &[String],
) -> Result<TransactWriteItem, TableError> {
    let next = match ballot.decision {
        Action::Approve => request.approvals + 1,
        Action::Reject => request.approvals,
    };
    let mut names_used: HashMap<String, String> = HashMap::from([
        ("#status".to_owned(), names::STATUS.to_owned()),
        ("#approvals".to_owned(), names::APPROVALS.to_owned()),
    ]);
    let mut values: HashMap<String, AttributeValue> = HashMap::from([
        (
            ":pending".to_owned(),
            attributes::string(RequestStatus::Pending.as_str()),
        ),
        (
            ":seen".to_owned(),
            attributes::number(u64::from(request.approvals)),
        ),
        (":next".to_owned(), attributes::number(u64::from(next))),
    ]);
    let mut expression = "SET #approvals = :next".to_owned();
    if !decided_by.is_empty() {
        let status = match ballot.decision {
            Action::Approve => RequestStatus::Approved,
            Action::Reject => RequestStatus::Rejected,
        };
        expression.push_str(
            ", #status = :decided, #decidedAt = :now, #decidedBy = :by, \
             #completion = :claimed, #claimedAt = :now",
        );
        names_used.extend([
            ("#decidedAt".to_owned(), names::DECIDED_AT.to_owned()),
            ("#decidedBy".to_owned(), names::DECIDED_BY.to_owned()),
            ("#completion".to_owned(), names::COMPLETION.to_owned()),
            (
                "#claimedAt".to_owned(),
                names::COMPLETION_CLAIMED_AT.to_owned(),
            ),
        ]);
        values.extend([
            (":decided".to_owned(), attributes::string(status.as_str())),
            (":now".to_owned(), attributes::number(ballot.at)),
            (":by".to_owned(), attributes::string_list(decided_by)),
            (":claimed".to_owned(), attributes::string("claimed")),
        ]);
    }
    let update = Update::builder()
        .table_name(table)
        .set_key(Some(attributes::key_attributes(schema::request_key(
            &request.terms.id,
        ))))
        .update_expression(expression)
        .condition_expression("#status = :pending AND #approvals = :seen")
        .set_expression_attribute_names(Some(names_used))
        .set_expression_attribute_values(Some(values))
        .build()
        .map_err(|_| not_built())?;
    Ok(TransactWriteItem::builder().update(update).build())
}

/// Put the vote's ledger record.
fn ledger_put(
    table: &str,
    ledger: &LedgerEntry,
    ttl: u64,
) -> Result<TransactWriteItem, TableError> {
    put(Put::builder()
        .table_name(table)
        .set_item(Some(ledger.item(ttl))))
}

/// The transaction's item of the put `builder` builds.
fn put(builder: PutBuilder) -> Result<TransactWriteItem, TableError> {
    let put = builder.build().map_err(|_| not_built())?;
    Ok(TransactWriteItem::builder().put(put).build())
}

fn not_built() -> TableError {
    TableError::NotBuilt {
        operation: "TransactWriteItems",
    }
}

/// A pause that grows with the tries, jittered so that votes that collided
/// do not collide again.
fn pause(attempt: u32) -> Duration {
    let ceiling = (5 * u64::from(attempt)).min(MAX_PAUSE_MS) + 1;
    let jitter = std::collections::hash_map::RandomState::new().hash_one(attempt) % ceiling;
    Duration::from_millis(1 + jitter)
}

#[cfg(test)]
mod tests {
    use super::attributes::fixtures::item;
    use super::*;

    #[test]
    fn a_vote_item_reads_as_its_approver_decision_comment_and_time() {
        let vote = CastVote::from_item(&item(&[
            ("approver", attributes::string("alice@example.com")),
            ("decision", attributes::string("rejected")),
            ("comment", attributes::string("no")),
            ("decidedAt", attributes::number(7)),
        ]));
        assert_eq!(
            vote,
            Ok(CastVote {
                approver: "alice@example.com".into(),
                decision: Action::Reject,
                comment: Some("no".into()),
                decided_at: 7,
            })
        );
    }

    #[test]
    fn a_vote_item_with_another_decision_is_malformed() {
        let vote = CastVote::from_item(&item(&[
            ("approver", attributes::string("alice@example.com")),
            ("decision", attributes::string("maybe")),
            ("decidedAt", attributes::number(7)),
        ]));
        assert!(matches!(
            vote,
            Err(TableError::Malformed { item: "vote", .. })
        ));
    }

    #[test]
    fn pauses_stay_short() {
        for attempt in 1..MAX_TRIES {
            assert!(pause(attempt) <= Duration::from_millis(MAX_PAUSE_MS + 1));
        }
    }
}
