//! The `approval-http` function: the page behind the email's links.
//!
//! | module | job |
//! |---|---|
//! | [`form`] | the decision form a confirmation page posts |
//! | `page` (internal) | the confirmation and result pages |
//! | [`router`] | the router: GET and HEAD show, POST decides |

pub mod form;
mod page;
pub mod router;

pub use router::ApprovalHttp;
