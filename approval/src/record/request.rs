//! The request item: written once by the notifier, before any email goes out,
//! together with one item per approver; read by both functions and the
//! operator as a [`StoredRequest`].
//!
//! The request's id comes from its task token ([`RequestId::for_token`]), and
//! the first write is conditional on the item not existing: a redelivered
//! request finds the one already recorded, with the approvers already emailed,
//! and never a second set of terms.

use std::fmt;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde_json::Value;

use super::attributes::{self, Attributes, Item};
use super::error::TableError;
use super::id::RequestId;
use super::schema::{PARTITION_KEY, TTL_ATTRIBUTE, approver_key, request_key};
use super::table::ApprovalTable;

/// Seconds in a day, for the retention.
const DAY_SECONDS: u64 = 86_400;

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Waiting for votes.
    Pending,
    /// The quorum approved it.
    Approved,
    /// An approver rejected it.
    Rejected,
    /// An operator withdrew it: every link stopped working.
    Withdrawn,
}

impl RequestStatus {
    /// The `status` attribute's value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Rejected => "rejected",
            Self::Withdrawn => "withdrawn",
        }
    }

    /// Reads a `status` attribute's value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(Self::Pending),
            "approved" => Some(Self::Approved),
            "rejected" => Some(Self::Rejected),
            "withdrawn" => Some(Self::Withdrawn),
            _ => None,
        }
    }
}

/// Whether the decided request's completion was sent to Step Functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletionState {
    /// One voter took the job of sending it at `at` (unix seconds).
    Claimed {
        /// When the claim was made.
        at: u64,
    },
    /// Step Functions has it.
    Sent,
}

/// What a request asks, fixed when it is recorded: the notifier's validated
/// request, its token sealed.
#[derive(Clone, PartialEq)]
pub struct RequestTerms {
    /// [`RequestId::for_token`] of the token.
    pub id: RequestId,
    /// The task token, sealed with the link key ([`crate::link::seal_token`]):
    /// useless without it.
    pub sealed_token: String,
    /// The token's fingerprint (`token:1a2b3c4d`), safe to show in logs and
    /// to the operator.
    pub token_fingerprint: String,
    /// The email's subject.
    pub subject: String,
    /// The email's summary.
    pub summary: Option<String>,
    /// The email's details table, as JSON.
    pub details: Option<Value>,
    /// Who may vote: lowercase, in request order, without `requested_by`.
    pub approvers: Vec<String>,
    /// Approvals needed.
    pub quorum: u32,
    /// Who asked, lowercase; never an approver, never counts toward the quorum.
    pub requested_by: Option<String>,
    /// Unix seconds.
    pub created_at: u64,
    /// Unix seconds; the links stop working then.
    pub expires_at: u64,
}

impl fmt::Debug for RequestTerms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The sealed token is useless without the key, but logs need it no more.
        f.debug_struct("RequestTerms")
            .field("id", &self.id)
            .field("token", &self.token_fingerprint)
            .field("approvers", &self.approvers)
            .field("quorum", &self.quorum)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A request about to be recorded: its terms and how long to keep them.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRequest {
    /// What it asks.
    pub terms: RequestTerms,
    /// Days the records are kept after `expires_at`.
    pub retention_days: u64,
}

impl NewRequest {
    /// The request as it reads once recorded: pending, no votes, no email sent.
    pub fn stored(&self) -> StoredRequest {
        StoredRequest {
            terms: self.terms.clone(),
            status: RequestStatus::Pending,
            approvals: 0,
            sent_at: None,
            decided_at: None,
            decided_by: Vec::new(),
            completion: None,
            withdrawn_at: None,
            ttl: self
                .terms
                .expires_at
                .saturating_add(self.retention_days.saturating_mul(DAY_SECONDS)),
        }
    }
}

/// A recorded request, as read from the table: its terms and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRequest {
    /// What it asks.
    pub terms: RequestTerms,
    /// Where it stands.
    pub status: RequestStatus,
    /// Approvals so far.
    pub approvals: u32,
    /// When the first email went out, unix seconds.
    pub sent_at: Option<u64>,
    /// When the quorum approved it or an approver rejected it.
    pub decided_at: Option<u64>,
    /// Who decided: the approvers whose votes made the decision.
    pub decided_by: Vec<String>,
    /// Whether the decision reached Step Functions.
    pub completion: Option<CompletionState>,
    /// When an operator withdrew it.
    pub withdrawn_at: Option<u64>,
    /// When DynamoDB may delete it and everything of its request, unix
    /// seconds: the other items of the request live as long.
    pub ttl: u64,
}

/// The attribute names of the request item, for the operations that read or
/// update part of it.
pub mod names {
    /// S: the request id.
    pub const REQUEST_ID: &str = "requestId";
    /// S: `pending`, `approved`, `rejected` or `withdrawn`.
    pub const STATUS: &str = "status";
    /// S: the task token sealed with the link key.
    pub const SEALED_TOKEN: &str = "sealedToken";
    /// S: the token's fingerprint.
    pub const TOKEN_FINGERPRINT: &str = "tokenFingerprint";
    /// S: the email's subject.
    pub const SUBJECT: &str = "subject";
    /// S, optional: the email's summary.
    pub const SUMMARY: &str = "summary";
    /// S, optional: the details as JSON text.
    pub const DETAILS: &str = "details";
    /// L of S: the approvers, lowercase.
    pub const APPROVERS: &str = "approvers";
    /// N: approvals needed.
    pub const QUORUM: &str = "quorum";
    /// S, optional: who asked.
    pub const REQUESTED_BY: &str = "requestedBy";
    /// N: approvals so far.
    pub const APPROVALS: &str = "approvals";
    /// N: when it was recorded.
    pub const CREATED_AT: &str = "createdAt";
    /// N, optional: when the first email went out.
    pub const SENT_AT: &str = "sentAt";
    /// N: when the links stop working.
    pub const EXPIRES_AT: &str = "expiresAt";
    /// N, optional: when it was decided.
    pub const DECIDED_AT: &str = "decidedAt";
    /// L of S, optional: who decided.
    pub const DECIDED_BY: &str = "decidedBy";
    /// S, optional: `claimed` or `sent`.
    pub const COMPLETION: &str = "completion";
    /// N, optional: when the completion was claimed.
    pub const COMPLETION_CLAIMED_AT: &str = "completionClaimedAt";
    /// N, optional: when an operator withdrew it.
    pub const WITHDRAWN_AT: &str = "withdrawnAt";
}

impl StoredRequest {
    /// The item as written to the table.
    pub fn to_item(&self) -> Attributes {
        use attributes::{number, string, string_list};
        let terms = &self.terms;
        let mut item = attributes::key_attributes(request_key(&terms.id));
        let mut put = |name: &str, value| {
            item.insert(name.to_owned(), value);
        };
        put(names::REQUEST_ID, string(terms.id.as_str()));
        put(names::STATUS, string(self.status.as_str()));
        put(names::SEALED_TOKEN, string(&terms.sealed_token));
        put(names::TOKEN_FINGERPRINT, string(&terms.token_fingerprint));
        put(names::SUBJECT, string(&terms.subject));
        if let Some(summary) = &terms.summary {
            put(names::SUMMARY, string(summary));
        }
        if let Some(details) = &terms.details {
            put(names::DETAILS, string(details.to_string()));
        }
        put(names::APPROVERS, string_list(&terms.approvers));
        put(names::QUORUM, number(u64::from(terms.quorum)));
        if let Some(requested_by) = &terms.requested_by {
            put(names::REQUESTED_BY, string(requested_by));
        }
        put(names::APPROVALS, number(u64::from(self.approvals)));
        put(names::CREATED_AT, number(terms.created_at));
        if let Some(sent_at) = self.sent_at {
            put(names::SENT_AT, number(sent_at));
        }
        put(names::EXPIRES_AT, number(terms.expires_at));
        if let Some(decided_at) = self.decided_at {
            put(names::DECIDED_AT, number(decided_at));
        }
        if !self.decided_by.is_empty() {
            put(names::DECIDED_BY, string_list(&self.decided_by));
        }
        match self.completion {
            Some(CompletionState::Claimed { at }) => {
                put(names::COMPLETION, string("claimed"));
                put(names::COMPLETION_CLAIMED_AT, number(at));
            }
            Some(CompletionState::Sent) => put(names::COMPLETION, string("sent")),
            None => {}
        }
        if let Some(withdrawn_at) = self.withdrawn_at {
            put(names::WITHDRAWN_AT, number(withdrawn_at));
        }
        put(TTL_ATTRIBUTE, number(self.ttl));
        item
    }

    /// Reads a request item. Anything missing or of the wrong type is
    /// [`TableError::Malformed`], never a panic.
    pub fn from_item(attributes: &Attributes) -> Result<Self, TableError> {
        let item = Item::new("request", attributes);
        let malformed = |reason: &str| TableError::malformed("request", reason);
        let id = RequestId::parse(&item.string(names::REQUEST_ID)?)
            .map_err(|_| malformed("requestId is not a request id"))?;
        let status = RequestStatus::parse(&item.string(names::STATUS)?)
            .ok_or_else(|| malformed("status is not a known status"))?;
        let details = item
            .optional_string(names::DETAILS)?
            .map(|text| serde_json::from_str::<Value>(&text))
            .transpose()
            .map_err(|_| malformed("details is not JSON text"))?;
        let small = |name: &str| {
            item.number(name).and_then(|value| {
                u32::try_from(value).map_err(|_| malformed(&format!("{name} is too large")))
            })
        };
        let completion = match item.optional_string(names::COMPLETION)?.as_deref() {
            None => None,
            Some("claimed") => Some(CompletionState::Claimed {
                at: item.number(names::COMPLETION_CLAIMED_AT)?,
            }),
            Some("sent") => Some(CompletionState::Sent),
            Some(_) => return Err(malformed("completion is not claimed or sent")),
        };
        let terms = RequestTerms {
            id,
            sealed_token: item.string(names::SEALED_TOKEN)?,
            token_fingerprint: item.string(names::TOKEN_FINGERPRINT)?,
            subject: item.string(names::SUBJECT)?,
            summary: item.optional_string(names::SUMMARY)?,
            details,
            approvers: item.string_list(names::APPROVERS)?,
            quorum: small(names::QUORUM)?,
            requested_by: item.optional_string(names::REQUESTED_BY)?,
            created_at: item.number(names::CREATED_AT)?,
            expires_at: item.number(names::EXPIRES_AT)?,
        };
        Ok(Self {
            terms,
            status,
            approvals: small(names::APPROVALS)?,
            sent_at: item.optional_number(names::SENT_AT)?,
            decided_at: item.optional_number(names::DECIDED_AT)?,
            decided_by: item.string_list(names::DECIDED_BY)?,
            completion,
            withdrawn_at: item.optional_number(names::WITHDRAWN_AT)?,
            ttl: item.number(TTL_ATTRIBUTE)?,
        })
    }
}

/// What [`ApprovalTable::create_request`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    /// The request is recorded now, with its approvers.
    New(StoredRequest),
    /// The request was recorded before (a redelivery): as it stands.
    Existing(StoredRequest),
}

impl Created {
    /// The request, however it came to be.
    pub fn request(&self) -> &StoredRequest {
        match self {
            Self::New(request) | Self::Existing(request) => request,
        }
    }
}

impl ApprovalTable {
    /// Records `request` and one item per approver in one transaction, unless
    /// the request is recorded already: then it is read back as it stands,
    /// and nothing is written.
    pub async fn create_request(&self, request: &NewRequest) -> Result<Created, TableError> {
        const OPERATION: &str = "TransactWriteItems";
        let stored = request.stored();
        let not_built = |_| TableError::NotBuilt {
            operation: OPERATION,
        };
        let only_new = format!("attribute_not_exists({PARTITION_KEY})");
        let mut writes = vec![
            Put::builder()
                .table_name(self.name())
                .set_item(Some(stored.to_item()))
                .condition_expression(&only_new)
                .build()
                .map_err(not_built)?,
        ];
        for approver in &stored.terms.approvers {
            writes.push(
                Put::builder()
                    .table_name(self.name())
                    .set_item(Some(approver_item(&stored, approver)))
                    .condition_expression(&only_new)
                    .build()
                    .map_err(not_built)?,
            );
        }
        let transaction = writes
            .into_iter()
            .map(|put| TransactWriteItem::builder().put(put).build())
            .collect();
        let written = self
            .client()
            .transact_write_items()
            .set_transact_items(Some(transaction))
            .send()
            .await;
        match written {
            Ok(_) => Ok(Created::New(stored)),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(TransactWriteItemsError::is_transaction_canceled_exception) =>
            {
                // The reasons are not to be relied on (not every DynamoDB
                // gives them): the item itself says whether it exists.
                match self.request(&request.terms.id).await? {
                    Some(existing) => Ok(Created::Existing(existing)),
                    None => Err(TableError::Conflict {
                        operation: OPERATION,
                    }),
                }
            }
            Err(err) => Err(TableError::from_sdk(OPERATION, &err)),
        }
    }

    /// The request `id`, read consistently; `None` when there is none (never
    /// recorded, or gone with its TTL).
    pub async fn request(&self, id: &RequestId) -> Result<Option<StoredRequest>, TableError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(request_key(id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| TableError::from_sdk("GetItem", &err))?;
        answer.item().map(StoredRequest::from_item).transpose()
    }
}

/// The item of one approver of `request`, before any email.
fn approver_item(request: &StoredRequest, approver: &str) -> Attributes {
    let mut item = attributes::key_attributes(approver_key(&request.terms.id, approver));
    item.insert(
        super::approver::names::APPROVER.to_owned(),
        attributes::string(approver.to_ascii_lowercase()),
    );
    item.insert(TTL_ATTRIBUTE.to_owned(), attributes::number(request.ttl));
    item
}

/// A request for the unit tests of the record modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use serde_json::json;

    use super::*;

    /// The id of [`new_request`].
    pub(crate) fn request_id() -> RequestId {
        RequestId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap()
    }

    /// A request of two approvers, both needed, asked by a third.
    pub(crate) fn new_request() -> NewRequest {
        NewRequest {
            terms: RequestTerms {
                id: request_id(),
                sealed_token: "gQAAAAB-sealed".into(),
                token_fingerprint: "token:1a2b3c4d".into(),
                subject: "Approve deploy 42".into(),
                summary: Some("Release 1.4.2".into()),
                details: Some(json!({"build": 42, "services": ["api"]})),
                approvers: vec!["alice@example.com".into(), "bob@example.com".into()],
                quorum: 2,
                requested_by: Some("carol@example.com".into()),
                created_at: 1_750_000_000,
                expires_at: 1_750_086_400,
            },
            retention_days: 400,
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::fixtures::new_request;
    use super::*;

    fn decided() -> StoredRequest {
        StoredRequest {
            status: RequestStatus::Approved,
            approvals: 2,
            sent_at: Some(1_750_000_001),
            decided_at: Some(1_750_000_100),
            decided_by: vec!["alice@example.com".into(), "bob@example.com".into()],
            completion: Some(CompletionState::Claimed { at: 1_750_000_100 }),
            ..new_request().stored()
        }
    }

    #[test]
    fn a_new_request_is_pending_without_votes_and_kept_for_the_retention() {
        let stored = new_request().stored();
        assert_eq!(stored.status, RequestStatus::Pending);
        assert_eq!((stored.approvals, stored.sent_at), (0, None));
        assert_eq!(stored.ttl, 1_750_086_400 + 400 * 86_400);
    }

    #[test]
    fn items_read_back_as_written() {
        for request in [new_request().stored(), decided(), {
            let mut withdrawn = StoredRequest {
                status: RequestStatus::Withdrawn,
                completion: Some(CompletionState::Sent),
                withdrawn_at: Some(1_750_000_200),
                ..decided()
            };
            withdrawn.terms.summary = None;
            withdrawn.terms.details = None;
            withdrawn.terms.requested_by = None;
            withdrawn
        }] {
            assert_eq!(StoredRequest::from_item(&request.to_item()), Ok(request));
        }
    }

    #[test]
    fn the_item_uses_the_documented_attribute_names() {
        let item = decided().to_item();
        for name in [
            "pk",
            "sk",
            "requestId",
            "status",
            "sealedToken",
            "tokenFingerprint",
            "subject",
            "summary",
            "details",
            "approvers",
            "quorum",
            "requestedBy",
            "approvals",
            "createdAt",
            "sentAt",
            "expiresAt",
            "decidedAt",
            "decidedBy",
            "completion",
            "completionClaimedAt",
            "ttl",
        ] {
            assert!(item.contains_key(name), "{name}");
        }
        assert_eq!(item["status"], AttributeValue::S("approved".into()));
        assert_eq!(item["sk"], AttributeValue::S("request".into()));
        assert_eq!(
            item["details"],
            AttributeValue::S(r#"{"build":42,"services":["api"]}"#.into())
        );
    }

    #[test]
    fn a_malformed_item_is_an_error_never_a_panic() {
        let good = decided().to_item();
        let broken: Vec<(&str, Option<AttributeValue>)> = vec![
            ("status", Some(AttributeValue::S("maybe".into()))),
            ("requestId", Some(AttributeValue::S("short".into()))),
            ("quorum", Some(AttributeValue::N("99999999999".into()))),
            ("quorum", Some(AttributeValue::S("2".into()))),
            ("details", Some(AttributeValue::S("{not json".into()))),
            ("completion", Some(AttributeValue::S("lost".into()))),
            ("completionClaimedAt", None),
            ("approvers", Some(AttributeValue::S("alice".into()))),
            ("sealedToken", None),
            ("ttl", None),
        ];
        for (name, value) in broken {
            let mut item = good.clone();
            match value {
                Some(value) => item.insert(name.to_owned(), value),
                None => item.remove(name),
            };
            let err = StoredRequest::from_item(&item).unwrap_err();
            assert!(
                matches!(err, TableError::Malformed { .. }),
                "{name}: {err:?}"
            );
        }
        assert!(StoredRequest::from_item(&Attributes::new()).is_err());
    }

    #[test]
    fn debug_shows_no_sealed_token() {
        let shown = format!("{:?} {:?}", new_request(), new_request().stored());
        assert!(!shown.contains("gQAAAAB"), "{shown}");
    }

    #[test]
    fn statuses_read_back_as_written() {
        for status in [
            RequestStatus::Pending,
            RequestStatus::Approved,
            RequestStatus::Rejected,
            RequestStatus::Withdrawn,
        ] {
            assert_eq!(RequestStatus::parse(status.as_str()), Some(status));
        }
    }
}
