//! The `approval-notifier` function: the approval request, the email, and
//! sending it through SES.
//!
//! | module | job |
//! |---|---|
//! | [`request`] | the approval request and its validation |
//! | [`email`] | the email, HTML and text |
//! | [`ses`] | sending it through SES v2, and what a failed send means |
//! | [`error`] | why an email was not sent, classified |
//! | [`trigger`] | the invocation's shape (direct, SQS, SNS) and the answer to each |
//! | [`settings`] | the notifier's settings |
//! | [`notifier`] | the handler |

pub mod email;
pub mod error;
pub mod notifier;
pub mod request;
pub mod ses;
pub mod settings;
pub mod trigger;

pub use error::{NotSent, NotifyError};
pub use notifier::{ApprovalNotifier, Sent};
pub use request::{ApprovalRequest, RequestError};
pub use settings::NotifierSettings;
pub use trigger::{NotifierResponse, Trigger, detect};
