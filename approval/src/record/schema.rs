//! The table's layout: one table, a string partition key `pk` and a string
//! sort key `sk`, and TTL on the number attribute `ttl` (unix seconds).
//!
//! | item | `pk` | `sk` | lives until |
//! |---|---|---|---|
//! | the request | `request#{request id}` | `request` | the request expires, plus the retention |
//! | one approver of it | `request#{request id}` | `approver#{address}` | the same |
//! | one approver's vote | `request#{request id}` | `vote#{address}` | the same |
//! | one ledger record | `request#{request id}` | `ledger#{microseconds since 1970, 20 digits}#{random}` | the same |
//! | one link | `link#{SHA-256 of the link id}` | `link` | the request expires |
//!
//! Everything about one request is one item collection, so one `Query` reads
//! the request, its approvers, its votes and its ledger in order. Addresses in
//! keys are lowercase. The task token is kept only sealed with the link key,
//! and a link only as its digest: a read of the table completes no task.

use super::id::{LinkId, RequestId};

/// The partition key attribute.
pub const PARTITION_KEY: &str = "pk";
/// The sort key attribute.
pub const SORT_KEY: &str = "sk";
/// The TTL attribute: DynamoDB deletes the item some time after it.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// The sort key of the request item.
pub const REQUEST_SORT_KEY: &str = "request";
/// The sort key of a link item.
pub const LINK_SORT_KEY: &str = "link";
/// Sort key prefixes of the items in a request's collection.
pub const APPROVER_PREFIX: &str = "approver#";
/// See [`APPROVER_PREFIX`].
pub const VOTE_PREFIX: &str = "vote#";
/// See [`APPROVER_PREFIX`].
pub const LEDGER_PREFIX: &str = "ledger#";

/// A key: the partition key's value and the sort key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    /// The `pk` value.
    pub pk: String,
    /// The `sk` value.
    pub sk: String,
}

/// The partition key of everything about `request`.
pub fn request_partition(request: &RequestId) -> String {
    format!("request#{request}")
}

/// The request item.
pub fn request_key(request: &RequestId) -> Key {
    Key {
        pk: request_partition(request),
        sk: REQUEST_SORT_KEY.to_owned(),
    }
}

/// One approver of `request`.
pub fn approver_key(request: &RequestId, address: &str) -> Key {
    Key {
        pk: request_partition(request),
        sk: format!("{APPROVER_PREFIX}{}", address.to_ascii_lowercase()),
    }
}

/// One approver's vote on `request`: one item, so a conditional put allows
/// one vote per approver.
pub fn vote_key(request: &RequestId, address: &str) -> Key {
    Key {
        pk: request_partition(request),
        sk: format!("{VOTE_PREFIX}{}", address.to_ascii_lowercase()),
    }
}

/// One ledger record of `request`, at `micros` since 1970; `nonce` keeps two
/// records of the same microsecond apart. Sorted by time within the request.
pub fn ledger_key(request: &RequestId, micros: u64, nonce: &str) -> Key {
    Key {
        pk: request_partition(request),
        sk: format!("{LEDGER_PREFIX}{micros:020}#{nonce}"),
    }
}

/// The link item for `link`, found by the link id's digest.
pub fn link_key(link: &LinkId) -> Key {
    Key {
        pk: format!("link#{}", link.digest()),
        sk: LINK_SORT_KEY.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_keys_sort_by_time() {
        let request = RequestId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        let early = ledger_key(&request, 9_999_999, "b").sk;
        let late = ledger_key(&request, 10_000_000, "a").sk;
        assert!(early < late);
    }

    #[test]
    fn link_keys_hold_the_digest_not_the_id() {
        let link = LinkId::generate().unwrap();
        let key = link_key(&link);
        assert!(!key.pk.contains(link.expose()));
        assert_eq!(key.pk, format!("link#{}", link.digest()));
    }

    #[test]
    fn addresses_in_keys_are_lowercase() {
        let request = RequestId::parse("AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert_eq!(
            vote_key(&request, "Alice@Example.com").sk,
            "vote#alice@example.com"
        );
    }
}
