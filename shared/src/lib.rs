//! # sfn-callback
//!
//! Complete AWS Step Functions callback tasks from Lambda: validated before any
//! call, classified in one place, and never silently lost.
//!
//! A state machine pauses on a `.waitForTaskToken` task. When the work is done,
//! a callback message arrives (here, on SQS); this crate parses it, checks it
//! against the service limits, and sends SendTaskSuccess, SendTaskFailure or
//! SendTaskHeartbeat. Every outcome is *done* (acknowledge), *permanent*
//! (dead-letter) or *transient* (retry).
//!
//! ```
//! use sfn_callback::completion::Completion;
//! use sfn_callback::message;
//!
//! let callback = message::parse(r#"{"taskToken": "AAAA+bbb/cc==", "status": "FAILED", "error": "Boom"}"#)?;
//! assert_eq!(callback.completion, Completion::Failure { error: Some("Boom".into()), cause: None });
//! // Tokens print only as a fingerprint.
//! assert!(callback.token.to_string().starts_with("token:"));
//! # Ok::<(), sfn_callback::message::MessageError>(())
//! ```
//!
//! The flow runs one way: envelope → message → completion → client → outcome →
//! respond. `handlers` holds one adapter per trigger (SQS and SNS callbacks,
//! SQS and SNS workers, activity pollers); `batch` drives an SQS batch.

#![warn(missing_docs)]

// A panicking record must fail alone, which needs unwinding. cargo-lambda's
// release defaults switch to abort; the workspace profile switches back.
#[cfg(not(panic = "unwind"))]
compile_error!(
    "sfn-callback must be built with panic = \"unwind\": with abort, one panicking record kills the whole batch. \
     Keep `panic = \"unwind\"` in the release profile."
);

pub mod aws;
pub mod batch;
pub mod client;
pub mod completion;
pub mod config;
pub mod envelope;
pub mod handlers;
pub mod heartbeat;
pub mod logging;
pub mod message;
pub mod outcome;
pub mod respond;
pub mod token;
pub mod worker;

pub use client::{CallbackClient, Deadline, RetrySettings};
pub use completion::Completion;
pub use handlers::activity::ActivityWorker;
pub use handlers::sns_callback::SnsCallback;
pub use handlers::sns_worker::SnsWorker;
pub use handlers::sqs_callback::SqsCallback;
pub use handlers::sqs_worker::SqsWorker;
pub use outcome::{CallbackError, Class, Classify, Done, ErrorClass, Outcome, OutcomeClass};
pub use token::TaskToken;
pub use worker::TaskFailure;
