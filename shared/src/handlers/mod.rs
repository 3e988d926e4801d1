//! One adapter per trigger. Each turns its event into records, runs them, and
//! answers through [`crate::respond`].

pub mod activity;
pub mod sns_callback;
pub mod sns_worker;
pub mod sqs_callback;
pub mod sqs_worker;
