//! Recorded mode: approvals kept in a DynamoDB table (`APPROVAL_TABLE`), so
//! that every approver gets links of their own, a quorum can be required, a
//! request can be withdrawn, and every view and vote is on record.
//!
//! | module | job |
//! |---|---|
//! | [`id`] | request ids and link ids |
//! | [`allowed`] | who may approve (`APPROVERS_ALLOWED`) |
//! | [`settings`] | the recorded mode's settings |
//! | [`schema`] | the table's keys: the one description of its layout |
//! | [`table`] | the table and its client |
//! | [`error`] | why a table operation failed, classified |
//! | [`request`] | the request item: recording a request, reading it |
//! | [`approver`] | an approver's item and links: writing them, marking the email sent |
//! | [`operator`] | the operator's view: a request's whole record, withdrawing it, listing requests |
//! | `attributes` (internal) | reading and writing item attributes, never panicking |
//! | [`link`] | a link's record: what one link id stands for |
//! | [`vote`] | the vote transaction and the claim on sending the completion |
//! | [`decision`] | what a decided request tells Step Functions |
//! | [`delivery`] | sending a decided request's completion, once, and marking it sent |
//! | [`ledger`] | the ledger: one record per view and vote, and scanner detection |

pub mod allowed;
pub mod approver;
mod attributes;
pub mod decision;
pub mod delivery;
pub mod error;
pub mod id;
pub mod ledger;
pub mod link;
pub mod operator;
pub mod request;
pub mod schema;
pub mod settings;
pub mod table;
pub mod vote;

pub use allowed::ApproversAllowed;
pub use approver::{ApproverLinks, ApproverRecord};
pub use error::TableError;
pub use id::{LinkId, MalformedId, RequestId};
pub use operator::{RequestHistory, Withdrawal};
pub use request::{
    CompletionState, Created, NewRequest, RequestStatus, RequestTerms, StoredRequest,
};
pub use settings::RecordedSettings;
pub use table::ApprovalTable;
