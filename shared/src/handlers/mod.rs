//! One adapter per trigger. Each turns its event into records, runs them, and
//! answers through [`crate::respond`].

pub mod activity;
pub mod sns_callback;
pub mod sns_worker;
pub mod sqs_callback;
pub mod sqs_worker;

use aws_lambda_events::event::sns::SnsRecord;

use crate::batch::Handled;
use crate::client::{CallbackClient, Deadline};
use crate::message;
use crate::respond::{InvocationError, RecordId, invocation_result};

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

/// Runs `handle` on each SNS record's `Message`, in order (SNS sends one record
/// per invocation), logs each, and answers for the whole invocation.
pub(crate) async fn handle_sns_records(
    records: &[SnsRecord],
    handle: impl AsyncFn(&str) -> Handled,
) -> Result<(), InvocationError> {
    let mut handled_records = Vec::with_capacity(records.len());
    for record in records {
        let handled = handle(&record.sns.message).await;
        handled.log(RecordId::Message(&record.sns.message_id));
        handled_records.push(handled);
    }
    invocation_result(handled_records)
}
