//! One adapter per trigger. Each turns its event into records, runs them, and
//! answers through [`crate::respond`].

pub mod activity;
pub mod sns_callback;
pub mod sns_worker;
pub mod sqs_callback;
pub mod sqs_worker;

use std::sync::Arc;

use aws_lambda_events::event::sns::SnsRecord;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent, SqsMessage};
use lambda_runtime::LambdaEvent;

use crate::batch::{Handled, process_sqs_batch};
use crate::client::{CallbackClient, Deadline};
use crate::envelope::sqs_callback_text;
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

/// What works on the text of one record: completes the callback it holds, or
/// runs the task it holds.
pub(crate) trait TextHandler: Send + Sync + 'static {
    fn handle_text(&self, text: &str, deadline: Deadline) -> impl Future<Output = Handled> + Send;
}

impl TextHandler for CallbackClient {
    fn handle_text(&self, text: &str, deadline: Deadline) -> impl Future<Output = Handled> + Send {
        complete_callback(self, text, deadline)
    }
}

/// Runs `handler` on the text of each record of one SQS event (its body, or
/// the message of the SNS notification it carries), with the invocation's
/// deadline, at most `max_concurrency` records at once. Never fails as a
/// whole: every record's fate is in the partial batch response.
pub(crate) async fn handle_sqs_records<T: TextHandler>(
    event: LambdaEvent<SqsEvent>,
    max_concurrency: usize,
    handler: &Arc<T>,
) -> SqsBatchResponse {
    let deadline = Deadline::from_epoch_millis(event.context.deadline);
    let handler = Arc::clone(handler);
    let on_record = move |record: SqsMessage| {
        let handler = Arc::clone(&handler);
        async move {
            match sqs_callback_text(&record) {
                Ok(text) => handler.handle_text(&text, deadline).await,
                Err(err) => Handled::new(None, Err(err.into())),
            }
        }
    };
    process_sqs_batch(event.payload.records, max_concurrency, on_record).await
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
