//! The `approval-http` function: the page behind the email's links.
//!
//! | module | job |
//! |---|---|
//! | [`form`] | the decision form a confirmation page posts |
//! | [`page`] | the confirmation and result pages |
//! | [`router`] | the router: GET and HEAD show, POST decides |

pub mod form;
pub mod page;
pub mod router;

pub use router::ApprovalHttp;
