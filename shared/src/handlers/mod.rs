//! One adapter per trigger. Each turns its event into records, runs them, and
//! answers through [`crate::respond`].

pub mod activity;
pub mod sns_callback;
pub mod sns_worker;
pub mod sqs_callback;
pub mod sqs_worker;

use crate::batch::Handled;
use crate::client::{CallbackClient, Deadline};
use crate::message;

/// Parses callback text and completes its token: the work of both callback
/// adapters, whatever carried the text.
pub(crate) async fn complete_callback(
    client: &CallbackClient,
    text: &str,
    deadline: Deadline,
) -> Handled {
    match message::parse(text) {
        Ok(callback) => {
            let token = Some(callback.token.fingerprint());
            Handled::new(
                token,
                client
                    .complete(&callback.token, callback.completion, deadline)
                    .await,
            )
        }
        Err(err) => Handled::new(None, Err(err.into())),
    }
}
