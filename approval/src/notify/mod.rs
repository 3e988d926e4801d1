//! The `approval-notifier` function: the approval request, the email, and
//! sending it through SES.
//!
//! | module | job |
//! |---|---|
//! | [`request`] | the approval request and its validation |
//! | `email` (internal) | the email, HTML and text |
//! | `ses` (internal) | sending it through SES v2, and what a failed send means |
//! | [`error`] | why an email was not sent, classified |
//! | [`trigger`] | the invocation's shape (direct, SQS, SNS) and the answer to each |
//! | [`settings`] | the notifier's settings |
//! | [`notifier`] | the handler |
//! | [`recorded`] | recorded mode: the allow-list and quorum check, the table, one email per approver |

pub(crate) mod email;
pub mod error;
pub mod notifier;
pub mod recorded;
pub mod request;
mod ses;
pub mod settings;
pub mod trigger;

pub use error::NotifyError;
pub use notifier::ApprovalNotifier;
pub use recorded::Recording;
pub use request::RequestError;
pub use settings::NotifierSettings;
pub use trigger::{NotifierResponse, Trigger, detect};
