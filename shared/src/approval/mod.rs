//! Human approval by email.
//!
//! A state machine's `.waitForTaskToken` task sends an approval request to the
//! `approval-notifier` function, which emails the approvers two buttons,
//! Approve and Reject. Each button is a link to the `approval-http` function
//! that carries the task token *sealed*: encrypted and authenticated, with the
//! intended action and an expiry, so the token cannot be read from the link
//! and no change to the link goes unnoticed.
//!
//! Opening a link (GET or HEAD) only shows a confirmation page: mail scanners
//! that fetch every link decide nothing. The approver decides by submitting the
//! page's form (POST); the first decision wins, and a later one gets a kind
//! "already decided" page.
//!
//! | module | job |
//! |---|---|
//! | [`keys`] | the link keys: loading, rotation, redaction |
//! | [`key_store`] | the keys a warm function holds, read again on an interval |
//! | [`link`] | sealing and opening links |
//! | [`request`] | the approval request and its validation |
//! | [`email`] | the email, HTML and text |
//! | [`page`] | the confirmation and result pages |
//! | [`html`] | escaping |
//! | [`text`] | requester text as plain text: format characters removed, quoting |
//! | [`form`] | the decision form |
//! | [`http`] | the `approval-http` router |
//! | [`settings`] | the notifier's settings |
//! | [`notifier`] | the `approval-notifier` handler |
//!
//! ```
//! use sfn_callback::approval::keys::{LinkKey, LinkKeys};
//! use sfn_callback::approval::link::{self, Action, LinkData, OpenError};
//! use sfn_callback::TaskToken;
//!
//! let keys = LinkKeys::single(LinkKey::new([7; 32]));
//! let data = LinkData {
//!     token: TaskToken::new("AQCEAAAAKgAAAAMAAAAAAAAAAeMc+/Xq3ZmXgqgq1w==")?,
//!     action: Action::Approve,
//!     expires_at: 2_000_000_000,
//!     subject: Some("Approve deploy 42".into()),
//!     summary: None,
//! };
//! let sealed = link::seal(&keys, &data)?;
//! assert!(!sealed.expose().contains("AQCE"));
//! assert_eq!(link::open(&keys, sealed.expose(), 1_900_000_000), Ok(data));
//! assert_eq!(
//!     link::open(&keys, sealed.expose(), 2_000_000_000),
//!     Err(OpenError::Expired { at: 2_000_000_000 })
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod email;
pub mod form;
pub mod html;
pub mod http;
pub mod key_store;
pub mod keys;
pub mod link;
pub mod notifier;
pub mod page;
pub mod request;
pub mod settings;
pub mod text;

use std::time::{SystemTime, UNIX_EPOCH};

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// The clock, in unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// Unix seconds as RFC 3339 in UTC, e.g. `2025-06-15T14:26:40Z`.
pub fn rfc3339(unix_seconds: u64) -> String {
    let seconds = i64::try_from(unix_seconds).unwrap_or(i64::MAX);
    DateTime::from_secs(seconds)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| format!("unix time {unix_seconds}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_seconds_format_as_rfc3339_utc() {
        assert_eq!(rfc3339(1_750_000_000), "2025-06-15T15:06:40Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
