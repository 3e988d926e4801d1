//! One approver of a request: the approver item (whether their email went
//! out), and their two links.
//!
//! The notifier writes an approver's links just before their email, and marks
//! the approver emailed just after. A link whose email never went out is known
//! to nobody and dies with the request; a redelivered request emails only the
//! approvers not marked, with fresh links.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use super::attributes::{self, Attributes, Item};
use super::error::TableError;
use super::id::{LinkId, RequestId};
use super::request::{StoredRequest, names as request_names};
use super::schema::{
    APPROVER_PREFIX, PARTITION_KEY, TTL_ATTRIBUTE, approver_key, link_key, request_key,
};
use super::table::ApprovalTable;
use crate::link::Action;

/// The attribute names of the approver item.
pub mod names {
    /// S: the approver's address, lowercase.
    pub const APPROVER: &str = "approver";
    /// N, optional: when their email went out.
    pub const EMAILED_AT: &str = "emailedAt";
    /// N, optional: SES's id for their email.
    pub const MESSAGE_ID: &str = "messageId";
}

/// The attribute names of the link item.
pub mod link_names {
    /// S: the request the link belongs to.
    pub const REQUEST_ID: &str = "requestId";
    /// S: the approver it was sent to, lowercase.
    pub const APPROVER: &str = "approver";
    /// S: `approve` or `reject`.
    pub const ACTION: &str = "action";
    /// N: when it stops working (the request's expiry).
    pub const EXPIRES_AT: &str = "expiresAt";
    /// N: when it was made, just before its email went out: the ledger's
    /// "seconds since the email was sent" counts from here, so an approver
    /// emailed late (a redelivery) is timed from their own email.
    pub const CREATED_AT: &str = "createdAt";
}

/// One approver of a request, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverRecord {
    /// The address, lowercase.
    pub address: String,
    /// When their email went out; `None` until it has.
    pub emailed_at: Option<u64>,
    /// SES's id for their email.
    pub message_id: Option<String>,
}

impl ApproverRecord {
    /// Reads an approver item.
    pub fn from_item(attributes: &Attributes) -> Result<Self, TableError> {
        let item = Item::new("approver", attributes);
        Ok(Self {
            address: item.string(names::APPROVER)?,
            emailed_at: item.optional_number(names::EMAILED_AT)?,
            message_id: item.optional_string(names::MESSAGE_ID)?,
        })
    }
}

/// The two links of one approver's email. They are bearer secrets: `Debug`
/// hides them (see [`LinkId`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApproverLinks {
    /// Behind the Approve button.
    pub approve: LinkId,
    /// Behind the Reject button.
    pub reject: LinkId,
}

impl ApprovalTable {
    /// Every approver of `id`, read consistently, in address order.
    pub async fn approvers(&self, id: &RequestId) -> Result<Vec<ApproverRecord>, TableError> {
        self.request_items(id, Some(APPROVER_PREFIX))
            .await?
            .iter()
            .map(ApproverRecord::from_item)
            .collect()
    }

    /// Records `links` as `approver`'s links to `request`, working until the
    /// request expires. Both or neither.
    pub async fn put_links(
        &self,
        request: &StoredRequest,
        approver: &str,
        links: &ApproverLinks,
    ) -> Result<(), TableError> {
        const OPERATION: &str = "TransactWriteItems";
        let mut writes = Vec::with_capacity(2);
        for (link, action) in [
            (&links.approve, Action::Approve),
            (&links.reject, Action::Reject),
        ] {
            let put = Put::builder()
                .table_name(self.name())
                .set_item(Some(link_item(request, approver, link, action)))
                // A link id is 128 random bits; this guards the impossible anyway.
                .condition_expression(format!("attribute_not_exists({PARTITION_KEY})"))
                .build()
                .map_err(|_| TableError::NotBuilt {
                    operation: OPERATION,
                })?;
            writes.push(TransactWriteItem::builder().put(put).build());
        }
        self.client()
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|err| TableError::from_sdk(OPERATION, &err))?;
        Ok(())
    }

    /// Marks `approver`'s email as sent at `at`, with SES's `message_id`, and
    /// the request's first email (`sentAt`) if none went out before.
    pub async fn mark_emailed(
        &self,
        request: &RequestId,
        approver: &str,
        at: u64,
        message_id: Option<&str>,
    ) -> Result<(), TableError> {
        const OPERATION: &str = "TransactWriteItems";
        let not_built = |_| TableError::NotBuilt {
            operation: OPERATION,
        };
        let mut approver_set = String::from("SET #emailed = :at");
        let mut approver_update = Update::builder()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(approver_key(
                request, approver,
            ))))
            .condition_expression(format!("attribute_exists({PARTITION_KEY})"))
            .expression_attribute_names("#emailed", names::EMAILED_AT)
            .expression_attribute_values(":at", attributes::number(at));
        if let Some(message_id) = message_id {
            approver_set.push_str(", #message = :message");
            approver_update = approver_update
                .expression_attribute_names("#message", names::MESSAGE_ID)
                .expression_attribute_values(":message", attributes::string(message_id));
        }
        let approver_update = approver_update
            .update_expression(approver_set)
            .build()
            .map_err(not_built)?;
        let request_update = Update::builder()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(request_key(request))))
            .condition_expression(format!("attribute_exists({PARTITION_KEY})"))
            .update_expression("SET #sent = if_not_exists(#sent, :at)")
            .expression_attribute_names("#sent", request_names::SENT_AT)
            .expression_attribute_values(":at", attributes::number(at))
            .build()
            .map_err(not_built)?;
        self.client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(approver_update).build())
            .transact_items(TransactWriteItem::builder().update(request_update).build())
            .send()
            .await
            .map_err(|err| TableError::from_sdk(OPERATION, &err))?;
        Ok(())
    }
}

/// The item of one link: found by the digest of its id, naming its request,
/// approver and action, and gone with the request's expiry.
fn link_item(request: &StoredRequest, approver: &str, link: &LinkId, action: Action) -> Attributes {
    let mut item = attributes::key_attributes(link_key(link));
    let mut put = |name: &str, value: AttributeValue| {
        item.insert(name.to_owned(), value);
    };
    put(
        link_names::REQUEST_ID,
        attributes::string(request.terms.id.as_str()),
    );
    put(
        link_names::APPROVER,
        attributes::string(approver.to_ascii_lowercase()),
    );
    put(link_names::ACTION, attributes::string(action.as_str()));
    put(
        link_names::EXPIRES_AT,
        attributes::number(request.terms.expires_at),
    );
    put(
        link_names::CREATED_AT,
        attributes::number(crate::now_unix()),
    );
    put(TTL_ATTRIBUTE, attributes::number(request.terms.expires_at));
    item
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::request::fixtures::new_request;

    fn request() -> StoredRequest {
        new_request().stored()
    }

    #[test]
    fn a_link_item_holds_the_digest_the_request_the_approver_and_the_action() {
        let link = LinkId::generate().unwrap();
        let item = link_item(&request(), "Alice@Example.com", &link, Action::Reject);
        let text = format!("{item:?}");
        assert!(!text.contains(link.expose()), "{text}");
        assert_eq!(
            item["pk"],
            AttributeValue::S(format!("link#{}", link.digest()))
        );
        assert_eq!(item["sk"], AttributeValue::S("link".into()));
        assert_eq!(
            item["requestId"],
            AttributeValue::S("AAAAAAAAAAAAAAAAAAAAAA".into())
        );
        assert_eq!(
            item["approver"],
            AttributeValue::S("alice@example.com".into())
        );
        assert_eq!(item["action"], AttributeValue::S("reject".into()));
        assert_eq!(item["expiresAt"], AttributeValue::N("1750086400".into()));
        assert_eq!(item["ttl"], item["expiresAt"]);
    }

    #[test]
    fn approver_items_read_with_or_without_the_email() {
        let mut item =
            attributes::key_attributes(approver_key(&request().terms.id, "a@example.com"));
        item.insert("approver".into(), attributes::string("a@example.com"));
        assert_eq!(
            ApproverRecord::from_item(&item),
            Ok(ApproverRecord {
                address: "a@example.com".into(),
                emailed_at: None,
                message_id: None
            })
        );
        item.insert("emailedAt".into(), attributes::number(5));
        item.insert("messageId".into(), attributes::string("m-1"));
        assert_eq!(
            ApproverRecord::from_item(&item).map(|record| record.emailed_at),
            Ok(Some(5))
        );
        item.insert("emailedAt".into(), attributes::string("soon"));
        assert!(ApproverRecord::from_item(&item).is_err());
    }
}
