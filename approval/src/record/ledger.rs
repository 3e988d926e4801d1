//! The ledger: one record for every view and every vote on a known link,
//! accepted or refused, with where it came from and whether it looks like a
//! mail scanner rather than a person.
//!
//! A view is a *suspected scanner* when it comes within the scanner window
//! (`APPROVAL_SCANNER_WINDOW_SECONDS`) of the email being sent, or when its
//! user agent names a known scanner or link previewer ([`KNOWN_SCANNER_AGENTS`]).
//! A vote is flagged only by its user agent: a person may well decide at once.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_sdk_dynamodb::types::AttributeValue;

use super::ApprovalTable;
use super::error::TableError;
use super::id::RequestId;
use super::schema::{self, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};
use crate::rfc3339;

/// Lowercase fragments of the user agents of mail security scanners and link
/// previewers, which open links without a person. Matched anywhere in the
/// user agent, without regard to case.
pub const KNOWN_SCANNER_AGENTS: &[&str] = &[
    "barracuda",
    "mimecast",
    "proofpoint",
    "urldefense",
    "messagelabs",
    "symantec",
    "forcepoint",
    "trendmicro",
    "fireeye",
    "ironport",
    "sophos",
    "safelinks",
    "bingpreview",
    "googleimageproxy",
    "slackbot",
    "skypeuripreview",
    "microsoftpreview",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "facebookexternalhit",
    "twitterbot",
    "linkedinbot",
    "headlesschrome",
];

/// Characters of the user agent kept in the ledger.
const MAX_USER_AGENT_CHARS: usize = 512;

/// What was done with a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerAction {
    /// The page was opened (GET or HEAD).
    View,
    /// The approve form was posted.
    Approve,
    /// The reject form was posted.
    Reject,
    /// An operator withdrew the request.
    Revoke,
}

impl LedgerAction {
    /// The ledger's `action` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::View => "view",
            Self::Approve => "approve",
            Self::Reject => "reject",
            Self::Revoke => "revoke",
        }
    }
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedgerOutcome {
    /// The confirmation page was shown.
    Shown,
    /// The vote was counted.
    Accepted,
    /// This approver had voted already.
    AlreadyVoted,
    /// The request was decided already.
    AlreadyDecided,
    /// The request was withdrawn.
    Withdrawn,
    /// The link had expired.
    Expired,
    /// `APPROVERS_ALLOWED` no longer allows the approver.
    NotAllowed,
    /// The posted form could not be read.
    InvalidForm,
    /// An operator withdrew the request.
    Revoked,
}

impl LedgerOutcome {
    /// The ledger's `outcome` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Shown => "shown",
            Self::Accepted => "accepted",
            Self::AlreadyVoted => "already-voted",
            Self::AlreadyDecided => "already-decided",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
            Self::NotAllowed => "not-allowed",
            Self::InvalidForm => "invalid-form",
            Self::Revoked => "revoked",
        }
    }
}

/// Where a request came from, as the Function URL saw the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Visitor {
    /// The connection's address (`requestContext.http.sourceIp`).
    pub source_ip: Option<String>,
    /// The `User-Agent` header (`requestContext.http.userAgent`).
    pub user_agent: Option<String>,
}

/// One ledger record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The request the link belongs to.
    pub request_id: RequestId,
    /// The approver the link was sent to (lowercase).
    pub approver: String,
    /// What was done.
    pub action: LedgerAction,
    /// How it ended.
    pub outcome: LedgerOutcome,
    /// When, in microseconds since 1970.
    pub at_micros: u64,
    /// Where from.
    pub visitor: Visitor,
    /// Seconds since the first email of the request was sent.
    pub seconds_since_sent: Option<u64>,
    /// See the module documentation.
    pub suspected_scanner: bool,
}

/// What the ledger needs to know about the scanner window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScannerWindow {
    /// `APPROVAL_SCANNER_WINDOW_SECONDS`.
    pub seconds: u64,
}

impl LedgerEntry {
    /// The record of `action` on `request_id`'s link for `approver`, at
    /// `at_micros`; the email was first sent at `sent_at` (unix seconds).
    #[allow(
        clippy::too_many_arguments,
        reason = "one record of seven facts, each named at the call"
    )]
    pub fn new(
        request_id: RequestId,
        approver: &str,
        action: LedgerAction,
        outcome: LedgerOutcome,
        at_micros: u64,
        visitor: Visitor,
        sent_at: Option<u64>,
        window: ScannerWindow,
    ) -> Self {
        let seconds_since_sent = sent_at.map(|sent| (at_micros / 1_000_000).saturating_sub(sent));
        let suspected_scanner = suspected_scanner(
            action,
            seconds_since_sent,
            visitor.user_agent.as_deref(),
            window,
        );
        Self {
            request_id,
            approver: approver.to_ascii_lowercase(),
            action,
            outcome,
            at_micros,
            visitor,
            seconds_since_sent,
            suspected_scanner,
        }
    }

    /// The `at` attribute: RFC 3339 in UTC, with milliseconds.
    pub fn at(&self) -> String {
        rfc3339_millis(self.at_micros)
    }

    /// The item, living until `ttl` (unix seconds).
    pub fn item(&self, ttl: u64) -> HashMap<String, AttributeValue> {
        let key = schema::ledger_key(&self.request_id, self.at_micros, &nonce(self.at_micros));
        let mut item = HashMap::from([
            (PARTITION_KEY.to_owned(), AttributeValue::S(key.pk)),
            (SORT_KEY.to_owned(), AttributeValue::S(key.sk)),
            (
                "requestId".to_owned(),
                AttributeValue::S(self.request_id.to_string()),
            ),
            (
                "approver".to_owned(),
                AttributeValue::S(self.approver.clone()),
            ),
            (
                "action".to_owned(),
                AttributeValue::S(self.action.as_str().to_owned()),
            ),
            (
                "outcome".to_owned(),
                AttributeValue::S(self.outcome.as_str().to_owned()),
            ),
            ("at".to_owned(), AttributeValue::S(self.at())),
            (
                "atMicros".to_owned(),
                AttributeValue::N(self.at_micros.to_string()),
            ),
            (
                "suspectedScanner".to_owned(),
                AttributeValue::Bool(self.suspected_scanner),
            ),
            (TTL_ATTRIBUTE.to_owned(), AttributeValue::N(ttl.to_string())),
        ]);
        let texts = [
            ("sourceIp", self.visitor.source_ip.as_deref()),
            ("userAgent", self.visitor.user_agent.as_deref()),
        ];
        for (name, value) in texts {
            if let Some(value) = value.filter(|value| !value.is_empty()) {
                let kept: String = value.chars().take(MAX_USER_AGENT_CHARS).collect();
                item.insert(name.to_owned(), AttributeValue::S(kept));
            }
        }
        if let Some(seconds) = self.seconds_since_sent {
            item.insert(
                "secondsSinceSent".to_owned(),
                AttributeValue::N(seconds.to_string()),
            );
        }
        item
    }
}

impl ApprovalTable {
    /// Writes `entry`, to live until `ttl` (the request's).
    pub async fn record(&self, entry: &LedgerEntry, ttl: u64) -> Result<(), TableError> {
        self.client()
            .put_item()
            .table_name(self.name())
            .set_item(Some(entry.item(ttl)))
            .send()
            .await
            .map_err(|err| TableError::from_sdk("PutItem", &err))?;
        Ok(())
    }
}

/// Whether `action` by `user_agent`, `seconds_since_sent` after the email,
/// looks like a scanner's (see the module documentation).
pub fn suspected_scanner(
    action: LedgerAction,
    seconds_since_sent: Option<u64>,
    user_agent: Option<&str>,
    window: ScannerWindow,
) -> bool {
    let early_view = action == LedgerAction::View
        && seconds_since_sent.is_some_and(|seconds| seconds < window.seconds);
    early_view || user_agent.is_some_and(is_known_scanner)
}

/// Whether `user_agent` names a known scanner or link previewer.
pub fn is_known_scanner(user_agent: &str) -> bool {
    let user_agent = user_agent.to_ascii_lowercase();
    KNOWN_SCANNER_AGENTS
        .iter()
        .any(|fragment| user_agent.contains(fragment))
}

/// Microseconds since 1970 as RFC 3339 UTC with milliseconds.
pub fn rfc3339_millis(micros: u64) -> String {
    let seconds = rfc3339(micros / 1_000_000);
    let millis = (micros / 1_000) % 1_000;
    match seconds.strip_suffix('Z') {
        Some(whole) => format!("{whole}.{millis:03}Z"),
        None => seconds,
    }
}

/// Keeps two records of the same microsecond apart: a per-process random
/// hash of the time and a counter.
fn nonce(at_micros: u64) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let hash = std::collections::hash_map::RandomState::new().hash_one((at_micros, count));
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::super::request::fixtures::request_id;
    use super::*;

    const WINDOW: ScannerWindow = ScannerWindow { seconds: 120 };
    const SENT_AT: u64 = 1_750_000_000;
    const BROWSER: &str =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";

    fn entry(action: LedgerAction, seconds_after: u64, user_agent: &str) -> LedgerEntry {
        LedgerEntry::new(
            request_id(),
            "Alice@Example.com",
            action,
            LedgerOutcome::Shown,
            (SENT_AT + seconds_after) * 1_000_000 + 123_456,
            Visitor {
                source_ip: Some("203.0.113.7".into()),
                user_agent: Some(user_agent.into()),
            },
            Some(SENT_AT),
            WINDOW,
        )
    }

    #[test]
    fn a_view_within_the_window_is_a_suspected_scanner() {
        assert!(entry(LedgerAction::View, 5, BROWSER).suspected_scanner);
        assert!(entry(LedgerAction::View, 119, BROWSER).suspected_scanner);
    }

    #[test]
    fn a_view_after_the_window_from_a_browser_is_not() {
        for seconds in [120, 3_600] {
            assert!(
                !entry(LedgerAction::View, seconds, BROWSER).suspected_scanner,
                "{seconds}"
            );
        }
    }

    #[test]
    fn a_known_scanner_agent_is_flagged_whenever_it_comes() {
        for agent in [
            "Mozilla/5.0 (compatible; Barracuda Sentinel)",
            "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
            "Mozilla/5.0 (X11; Linux x86_64) HeadlessChrome/131.0 Safari/537.36",
            "facebookexternalhit/1.1",
        ] {
            assert!(
                entry(LedgerAction::View, 86_400, agent).suspected_scanner,
                "{agent}"
            );
            assert!(
                entry(LedgerAction::Approve, 86_400, agent).suspected_scanner,
                "{agent}"
            );
        }
    }

    #[test]
    fn a_vote_within_the_window_from_a_browser_is_not_flagged() {
        for vote in [LedgerAction::Approve, LedgerAction::Reject] {
            assert!(!entry(vote, 5, BROWSER).suspected_scanner, "{vote:?}");
        }
    }

    #[test]
    fn without_a_send_time_only_the_agent_counts() {
        let unsent = LedgerEntry::new(
            request_id(),
            "alice@example.com",
            LedgerAction::View,
            LedgerOutcome::Shown,
            SENT_AT * 1_000_000,
            Visitor::default(),
            None,
            WINDOW,
        );
        assert_eq!(unsent.seconds_since_sent, None);
        assert!(!unsent.suspected_scanner);
    }

    #[test]
    fn the_item_has_every_ledger_attribute() {
        let item = entry(LedgerAction::View, 42, BROWSER).item(1_900_000_000);
        let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        let n = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).cloned();
        assert_eq!(s("requestId").as_deref(), Some("AAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(s("approver").as_deref(), Some("alice@example.com"));
        assert_eq!(s("action").as_deref(), Some("view"));
        assert_eq!(s("outcome").as_deref(), Some("shown"));
        assert_eq!(s("at").as_deref(), Some("2025-06-15T15:07:22.123Z"));
        assert_eq!(n("atMicros").as_deref(), Some("1750000042123456"));
        assert_eq!(s("sourceIp").as_deref(), Some("203.0.113.7"));
        assert_eq!(s("userAgent").as_deref(), Some(BROWSER));
        assert_eq!(n("secondsSinceSent").as_deref(), Some("42"));
        assert_eq!(
            item.get("suspectedScanner").and_then(|v| v.as_bool().ok()),
            Some(&true)
        );
        assert_eq!(n("ttl").as_deref(), Some("1900000000"));
        let sk = s("sk").unwrap();
        assert!(sk.starts_with("ledger#00001750000042123456#"), "{sk}");
        assert_eq!(s("pk").as_deref(), Some("request#AAAAAAAAAAAAAAAAAAAAAA"));
    }

    #[test]
    fn two_records_of_the_same_microsecond_have_different_keys() {
        let entry = entry(LedgerAction::View, 1, BROWSER);
        let first = entry.item(1).remove("sk");
        let second = entry.item(1).remove("sk");
        assert_ne!(first, second);
    }

    #[test]
    fn an_absent_source_or_agent_is_left_out() {
        let mut entry = entry(LedgerAction::View, 1, BROWSER);
        entry.visitor = Visitor::default();
        let item = entry.item(1);
        assert!(!item.contains_key("sourceIp"));
        assert!(!item.contains_key("userAgent"));
    }

    #[test]
    fn times_have_milliseconds() {
        assert_eq!(rfc3339_millis(1_000_999), "1970-01-01T00:00:01.000Z");
        assert_eq!(
            rfc3339_millis(1_750_000_000_999_999),
            "2025-06-15T15:06:40.999Z"
        );
    }
}
