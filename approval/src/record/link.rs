//! A link's record: what one link id stands for. The table finds it by the
//! digest of the id ([`schema::link_key`]), so the id itself is never stored.

use super::ApprovalTable;
use super::approver::link_names as names;
use super::attributes::{self, Attributes, Item};
use super::error::TableError;
use super::id::{LinkId, RequestId};
use super::schema;
use crate::link::Action;

/// One approver's link to one request, for one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRecord {
    /// The request it decides.
    pub request_id: RequestId,
    /// The approver it was sent to, lowercase.
    pub approver: String,
    /// The button it stands for.
    pub action: Action,
    /// When it stops working, unix seconds.
    pub expires_at: u64,
    /// When it was made, just before its email went out (unix seconds);
    /// `None` for a link recorded before links kept it.
    pub created_at: Option<u64>,
}

impl LinkRecord {
    /// Reads a link item.
    pub fn from_item(attributes: &Attributes) -> Result<Self, TableError> {
        let item = Item::new("link", attributes);
        let request_id = RequestId::parse(&item.string(names::REQUEST_ID)?)
            .map_err(|_| TableError::malformed("link", "requestId is not a request id"))?;
        let action = Action::parse(&item.string(names::ACTION)?)
            .ok_or_else(|| TableError::malformed("link", "action is neither approve nor reject"))?;
        Ok(Self {
            request_id,
            approver: item.string(names::APPROVER)?.to_ascii_lowercase(),
            action,
            expires_at: item.number(names::EXPIRES_AT)?,
            created_at: item.optional_number(names::CREATED_AT)?,
        })
    }

    /// Whether the link has stopped working at `now` (unix seconds).
    pub fn is_expired(&self, now: u64) -> bool {
        now >= self.expires_at
    }
}

impl ApprovalTable {
    /// The record behind `link`, if there is one.
    pub async fn link(&self, link: &LinkId) -> Result<Option<LinkRecord>, TableError> {
        let answer = self
            .client()
            .get_item()
            .table_name(self.name())
            .set_key(Some(attributes::key_attributes(schema::link_key(link))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|err| TableError::from_sdk("GetItem", &err))?;
        answer.item().map(LinkRecord::from_item).transpose()
    }
}

/// The attributes of a link item, for tests of the code that reads it.
#[cfg(test)]
pub(crate) fn test_item(
    request: &RequestId,
    approver: &str,
    action: Action,
    expires_at: u64,
) -> Attributes {
    use aws_sdk_dynamodb::types::AttributeValue;
    Attributes::from([
        (
            names::REQUEST_ID.to_owned(),
            AttributeValue::S(request.to_string()),
        ),
        (
            names::APPROVER.to_owned(),
            AttributeValue::S(approver.to_owned()),
        ),
        (
            names::ACTION.to_owned(),
            AttributeValue::S(action.as_str().to_owned()),
        ),
        (
            names::EXPIRES_AT.to_owned(),
            AttributeValue::N(expires_at.to_string()),
        ),
    ])
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::super::request::fixtures::request_id;
    use super::*;

    #[test]
    fn a_link_item_reads_as_its_request_approver_action_and_expiry() {
        let item = test_item(
            &request_id(),
            "Alice@Example.com",
            Action::Reject,
            1_750_000_000,
        );
        assert_eq!(
            LinkRecord::from_item(&item),
            Ok(LinkRecord {
                request_id: request_id(),
                approver: "alice@example.com".into(),
                action: Action::Reject,
                expires_at: 1_750_000_000,
                created_at: None,
            })
        );
    }

    #[test]
    fn a_link_item_keeps_when_its_email_went_out() {
        let mut item = test_item(&request_id(), "a@example.com", Action::Approve, 2_000);
        item.insert(
            names::CREATED_AT.to_owned(),
            AttributeValue::N("1000".into()),
        );
        assert_eq!(
            LinkRecord::from_item(&item).map(|link| link.created_at),
            Ok(Some(1_000))
        );
    }

    #[test]
    fn a_link_item_with_an_unknown_action_is_malformed() {
        let mut item = test_item(&request_id(), "a@example.com", Action::Approve, 1);
        item.insert(names::ACTION.to_owned(), AttributeValue::S("maybe".into()));
        assert!(matches!(
            LinkRecord::from_item(&item),
            Err(TableError::Malformed { item: "link", .. })
        ));
    }

    #[test]
    fn a_link_stops_working_at_its_expiry() {
        let link = LinkRecord::from_item(&test_item(
            &request_id(),
            "a@example.com",
            Action::Approve,
            100,
        ))
        .unwrap();
        assert!(!link.is_expired(99));
        assert!(link.is_expired(100));
    }
}
