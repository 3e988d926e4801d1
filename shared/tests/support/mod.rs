//! The replay tests' support, from the workspace's test-support crate.

pub use sfn_callback_test_support::*;
