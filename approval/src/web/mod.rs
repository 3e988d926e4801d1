//! The `approval-http` function: the page behind the email's links.
//!
//! | module | job |
//! |---|---|
//! | [`form`] | the decision form a confirmation page posts |
//! | `page` (internal) | the confirmation and result pages |
//! | `recorded` (internal) | recorded mode: the ballot and the vote on `/a/{id}` links |
//! | `recorded_page` (internal) | recorded mode's pages: the ballot and the answer to each vote |
//! | `send` (internal) | sending a decided request's completion, once |
//! | [`route`] | which page a path asks for (`/a/{id}`) |
//! | [`visitor`] | where a request came from, from the Function URL's request context |
//! | [`router`] | the router: GET and HEAD show, POST decides |

pub mod form;
mod page;
mod recorded;
mod recorded_page;
pub mod route;
pub mod router;
mod send;
pub mod visitor;

pub use router::ApprovalHttp;
