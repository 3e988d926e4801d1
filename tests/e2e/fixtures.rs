//! The event fixtures under `tests/fixtures/` are real-shaped Lambda events (also
//! usable with `cargo lambda invoke --data-file` and `sam local invoke -e`).
//! Record ids say what each record should come to: `ok-…` parses, `bad-…` does not.

use std::fmt::Debug;

use aws_lambda_events::event::sns::SnsEvent;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use sfn_callback::batch::{Handled, run_records};
use sfn_callback::envelope::sqs_callback_text;
use sfn_callback::message::parse_task_message;
use sfn_callback::outcome::{CallbackError, Done};
use sfn_callback::{Outcome, message};
use sfn_callback_tests::{Result, fixture};

fn sqs_fixture(name: &str) -> Result<SqsEvent> {
    Ok(serde_json::from_value(fixture(&format!("sqs/{name}"))?)?)
}

/// Unwraps and parses a record without calling anything: the validation half of the pipe.
fn validate(record: &SqsMessage) -> Outcome {
    let text = sqs_callback_text(record)?;
    message::parse(&text)?;
    Ok(Done::Completed)
}

/// An `ok-…` record parses and a `bad-…` one does not.
fn assert_outcome_as_id_says<T: Debug, E: Debug>(
    name: &str,
    id: &str,
    outcome: &std::result::Result<T, E>,
) {
    assert_eq!(
        outcome.is_ok(),
        id.starts_with("ok-"),
        "{name} {id}: {outcome:?}"
    );
}

#[test]
fn every_sqs_fixture_record_validates_as_its_id_says() -> Result<()> {
    for name in [
        "success.json",
        "failure.json",
        "heartbeat.json",
        "mixed-batch.json",
        "fifo-batch.json",
    ] {
        for record in sqs_fixture(name)?.records {
            let id = record.message_id.clone().unwrap_or_default();
            assert_outcome_as_id_says(name, &id, &validate(&record));
        }
    }
    Ok(())
}

#[test]
fn every_sns_fixture_record_validates_as_its_id_says() -> Result<()> {
    for name in ["success.json", "failure.json", "not-json-message.json"] {
        let event: SnsEvent = serde_json::from_value(fixture(&format!("sns/{name}"))?)?;
        for record in event.records {
            let id = record.sns.message_id;
            assert_outcome_as_id_says(name, &id, &message::parse(&record.sns.message));
        }
    }
    Ok(())
}

#[test]
fn worker_task_fixture_carries_a_token_and_input() -> Result<()> {
    let record = sqs_fixture("worker-task.json")?.records.remove(0);
    let task = parse_task_message(&sqs_callback_text(&record)?)?;
    assert_eq!(task.input, serde_json::json!({"data": {"invoice": 42}}));
    Ok(())
}

#[tokio::test]
async fn fifo_fixture_blocks_the_rest_of_a_group_after_its_failure() -> Result<()> {
    let records = sqs_fixture("fifo-batch.json")?.records;
    let reports = run_records(records, 10, |record: SqsMessage| async move {
        Handled::new(None, validate(&record))
    })
    .await;
    let outcomes: Vec<(String, bool, bool)> = reports
        .iter()
        .map(|r| {
            let blocked = *r.handled.outcome() == Err(CallbackError::BlockedByGroup);
            (r.message_id.clone(), r.handled.outcome().is_ok(), blocked)
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("ok-a1".to_owned(), true, false),
            ("bad-a2".to_owned(), false, false),
            ("ok-b1".to_owned(), true, false),
            ("ok-a3".to_owned(), false, true),
        ]
    );
    Ok(())
}
