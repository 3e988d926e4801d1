//! # sfn-callback-approval
//!
//! Human approval of AWS Step Functions tasks by email, built on the
//! `sfn-callback` core.
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
//! In recorded mode (`APPROVAL_TABLE` set) the request lives in a DynamoDB
//! table instead: each approver gets links of their own (`/a/{id}`), a POST is
//! one vote, a quorum decides, and every view and vote is on a ledger.
//!
//! | module | job |
//! |---|---|
//! | [`link`] | the link keys (material, the secret, the settings, the store a warm function holds) and sealing |
//! | [`notify`] | the request, the email, sending it through SES: the `approval-notifier` handler |
//! | [`record`] | recorded mode: the table, its ids, requests, votes and ledger |
//! | [`web`] | the decision form, the pages and the `approval-http` router, both modes |
//! | `text`, `html` (internal) | requester text as plain text, and HTML escaping, for the email and the pages |
//!
//! ```
//! use sfn_callback::TaskToken;
//! use sfn_callback_approval::link::{self, Action, LinkData, LinkKey, LinkKeys, OpenError};
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

#![warn(missing_docs)]

mod clock;
mod html;
pub mod link;
pub mod notify;
pub mod record;
mod text;
pub mod web;

pub use clock::{now_micros, now_unix, rfc3339};
pub use notify::ApprovalNotifier;
pub use web::ApprovalHttp;
