//! The SQS batch driver: runs one handler per record with bounded concurrency,
//! isolates panics, keeps FIFO order, and answers (through [`crate::respond`])
//! with one log line per record and a partial batch response that lists exactly
//! the records that are not done. Handlers may fail with any error that
//! implements [`Classify`].

use std::collections::HashMap;
use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsMessage};
use tokio::sync::Semaphore;

use crate::outcome::{CallbackError, Class, Classify, Outcome, OutcomeClass};
use crate::respond::sqs_batch_response;
use crate::token::Fingerprint;

/// What a record handler reports: the outcome, and the token it was about if it
/// got that far (for the log line).
#[derive(Debug)]
pub struct Handled<E = CallbackError> {
    pub(crate) token: Option<Fingerprint>,
    pub(crate) outcome: Outcome<E>,
}

impl<E> Handled<E> {
    /// The report of a record about `token` (`None` before a token was read).
    pub fn new(token: Option<Fingerprint>, outcome: Outcome<E>) -> Self {
        Self { token, outcome }
    }

    /// How the record ended.
    pub fn outcome(&self) -> &Outcome<E> {
        &self.outcome
    }
}

impl<E: Classify> Handled<E> {
    /// Done, transient or permanent.
    pub fn class(&self) -> Class {
        self.outcome.class()
    }
}

/// The result of one SQS record, as logged.
#[derive(Debug)]
pub struct RecordReport<E = CallbackError> {
    /// The SQS message id of the record.
    pub message_id: String,
    /// What its handler reported.
    pub handled: Handled<E>,
}

/// A record the driver did not get an outcome for from the handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRun {
    /// The handler panicked.
    Panicked,
    /// An earlier record of its FIFO group failed.
    BlockedByGroup,
}

impl From<NotRun> for CallbackError {
    fn from(not_run: NotRun) -> Self {
        match not_run {
            NotRun::Panicked => Self::Panicked,
            NotRun::BlockedByGroup => Self::BlockedByGroup,
        }
    }
}

/// What the driver needs of a handler's error: a class, a log form, and a way
/// to report the records it did not run.
pub trait RecordError: Classify + Display + From<NotRun> + Send + 'static {}

impl<E: Classify + Display + From<NotRun> + Send + 'static> RecordError for E {}

/// Runs `handler` on every record and builds the partial batch response.
///
/// Records of a FIFO message group run one after another in batch order; once
/// one fails, the rest of its group is reported failed without being tried.
/// Records of a standard queue, and different groups, run concurrently, at most
/// `max_concurrency` at a time. A panicking record fails alone.
pub async fn process_sqs_batch<H, F, E>(
    records: Vec<SqsMessage>,
    max_concurrency: usize,
    handler: H,
) -> SqsBatchResponse
where
    H: Fn(SqsMessage) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Handled<E>> + Send + 'static,
    E: RecordError,
{
    let reports = run_records(records, max_concurrency, handler).await;
    sqs_batch_response(&reports)
}

/// Runs the records and returns one report each, in batch order.
pub async fn run_records<H, F, E>(
    records: Vec<SqsMessage>,
    max_concurrency: usize,
    handler: H,
) -> Vec<RecordReport<E>>
where
    H: Fn(SqsMessage) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Handled<E>> + Send + 'static,
    E: RecordError,
{
    let permits = Arc::new(Semaphore::new(max_concurrency.max(1)));
    let lanes = into_lanes(records);
    let mut running = Vec::with_capacity(lanes.len());
    for lane in lanes {
        let ids: Vec<(usize, String)> = lane
            .iter()
            .map(|(index, record)| (*index, message_id(record)))
            .collect();
        let task = tokio::spawn(run_lane(lane, Arc::clone(&permits), handler.clone()));
        running.push((ids, task));
    }

    let mut reports = Vec::new();
    for (ids, task) in running {
        match task.await {
            Ok(lane_reports) => reports.extend(lane_reports),
            // The lane itself failed (it should not): none of its records is done.
            Err(_) => reports.extend(ids.into_iter().map(|(index, message_id)| {
                (
                    index,
                    RecordReport {
                        message_id,
                        handled: Handled::new(None, Err(NotRun::Panicked.into())),
                    },
                )
            })),
        }
    }
    reports.sort_by_key(|(index, _)| *index);
    reports.into_iter().map(|(_, report)| report).collect()
}

type Lane = Vec<(usize, SqsMessage)>;

/// Splits a batch into lanes: one per FIFO message group, one per record otherwise.
fn into_lanes(records: Vec<SqsMessage>) -> Vec<Lane> {
    let mut lanes: Vec<Lane> = Vec::new();
    let mut group_lane: HashMap<String, usize> = HashMap::new();
    for (index, record) in records.into_iter().enumerate() {
        match fifo_group(&record) {
            Some(group) => {
                if let Some(&lane) = group_lane.get(group) {
                    lanes[lane].push((index, record));
                } else {
                    group_lane.insert(group.clone(), lanes.len());
                    lanes.push(vec![(index, record)]);
                }
            }
            None => lanes.push(vec![(index, record)]),
        }
    }
    lanes
}

/// The record's message group, when order within it matters: only on a FIFO
/// queue. Standard queues with fair-queue groups carry `MessageGroupId` too,
/// but promise no order, so their records run like any other.
fn fifo_group(record: &SqsMessage) -> Option<&String> {
    // SQS requires a FIFO queue's name to end in exactly ".fifo", lower case.
    #[allow(clippy::case_sensitive_file_extension_comparisons)]
    let from_fifo_queue = record
        .event_source_arn
        .as_deref()
        .is_some_and(|arn| arn.ends_with(".fifo"));
    record
        .attributes
        .get("MessageGroupId")
        .filter(|_| from_fifo_queue)
}

async fn run_lane<H, F, E>(
    lane: Lane,
    permits: Arc<Semaphore>,
    handler: H,
) -> Vec<(usize, RecordReport<E>)>
where
    H: Fn(SqsMessage) -> F + Send + Sync + 'static,
    F: Future<Output = Handled<E>> + Send + 'static,
    E: RecordError,
{
    let _permit = permits.acquire_owned().await;
    let mut blocked = false;
    let mut reports = Vec::with_capacity(lane.len());
    for (index, record) in lane {
        let message_id = message_id(&record);
        let handled = if blocked {
            Handled::new(None, Err(NotRun::BlockedByGroup.into()))
        } else {
            // Each record is its own task, so a panic surfaces as a JoinError here.
            tokio::spawn(handler(record))
                .await
                .unwrap_or_else(|_| Handled::new(None, Err(NotRun::Panicked.into())))
        };
        blocked = handled.class() != Class::Done;
        reports.push((
            index,
            RecordReport {
                message_id,
                handled,
            },
        ));
    }
    reports
}

fn message_id(record: &SqsMessage) -> String {
    record.message_id.clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::time::Duration;

    use super::*;
    use crate::message::MessageError;
    use crate::outcome::Done;

    const FIFO_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:callbacks.fifo";
    const STANDARD_QUEUE: &str = "arn:aws:sqs:us-east-1:123456789012:callbacks";

    /// A record of a FIFO queue when it has a group, of a standard queue otherwise.
    fn record(id: &str, group: Option<&str>) -> SqsMessage {
        let queue = if group.is_some() {
            FIFO_QUEUE
        } else {
            STANDARD_QUEUE
        };
        record_of(queue, id, group)
    }

    /// Records of a standard queue, one per id (its body too).
    fn standard_records(ids: &[&str]) -> Vec<SqsMessage> {
        ids.iter().map(|id| record(id, None)).collect()
    }

    fn record_of(queue: &str, id: &str, group: Option<&str>) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = Some(id.to_owned());
        record.body = Some(id.to_owned());
        record.event_source_arn = Some(queue.to_owned());
        if let Some(group) = group {
            record
                .attributes
                .insert("MessageGroupId".to_owned(), group.to_owned());
        }
        record
    }

    /// Runs `records` and returns the ids the handler was called with.
    async fn tried_ids(records: Vec<SqsMessage>) -> (Vec<RecordReport>, Vec<String>) {
        let tried = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&tried);
        let handler = move |record: SqsMessage| {
            let seen = Arc::clone(&seen);
            async move {
                seen.lock()
                    .unwrap()
                    .push(record.message_id.clone().unwrap_or_default());
                scripted(record).await
            }
        };
        let reports = run_records(records, 10, handler).await;
        let tried = tried.lock().unwrap().clone();
        (reports, tried)
    }

    /// A handler whose outcome is chosen by the record body.
    async fn scripted(record: SqsMessage) -> Handled {
        let body = record.body.unwrap_or_default();
        let outcome = if body.starts_with("bad") {
            Err(CallbackError::InvalidMessage(MessageError::MissingToken))
        } else if body.starts_with("panic") {
            panic!("handler bug");
        } else {
            Ok(Done::Completed)
        };
        Handled::new(None, outcome)
    }

    fn failed_ids(response: &SqsBatchResponse) -> Vec<&str> {
        response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect()
    }

    #[tokio::test]
    async fn partial_batch_response_lists_exactly_the_failed_records() {
        let records = standard_records(&["ok-1", "bad-2", "ok-3"]);
        let response = process_sqs_batch(records, 10, scripted).await;
        assert_eq!(failed_ids(&response), ["bad-2"]);
    }

    #[tokio::test]
    async fn panicking_record_fails_alone() {
        let records = standard_records(&["ok-1", "panic-2", "ok-3"]);
        let reports = run_records(records, 10, scripted).await;
        let outcomes: Vec<_> = reports
            .iter()
            .map(|r| (r.message_id.as_str(), r.handled.outcome.clone()))
            .collect();
        assert_eq!(
            outcomes,
            [
                ("ok-1", Ok(Done::Completed)),
                ("panic-2", Err(CallbackError::Panicked)),
                ("ok-3", Ok(Done::Completed)),
            ]
        );
    }

    #[tokio::test]
    async fn fifo_group_after_a_failure_is_failed_without_being_tried() {
        let records = vec![
            record("ok-a1", Some("a")),
            record("bad-a2", Some("a")),
            record("ok-b1", Some("b")),
            record("ok-a3", Some("a")),
            record("ok-b2", Some("b")),
        ];
        let (reports, tried) = tried_ids(records).await;
        let failed: Vec<_> = reports
            .iter()
            .filter(|r| r.handled.outcome.is_err())
            .map(|r| (r.message_id.as_str(), r.handled.outcome.clone()))
            .collect();
        assert_eq!(
            failed,
            [
                (
                    "bad-a2",
                    Err(CallbackError::InvalidMessage(MessageError::MissingToken))
                ),
                ("ok-a3", Err(CallbackError::BlockedByGroup)),
            ]
        );
        assert!(!tried.contains(&"ok-a3".to_owned()));
    }

    #[tokio::test]
    async fn fair_queue_groups_on_a_standard_queue_are_all_tried_after_a_failure() {
        let records = vec![
            record_of(STANDARD_QUEUE, "ok-a1", Some("tenant-a")),
            record_of(STANDARD_QUEUE, "bad-a2", Some("tenant-a")),
            record_of(STANDARD_QUEUE, "ok-a3", Some("tenant-a")),
        ];
        let (reports, tried) = tried_ids(records).await;
        let failed: Vec<_> = reports
            .iter()
            .filter(|r| r.handled.outcome.is_err())
            .map(|r| r.message_id.as_str())
            .collect();
        assert_eq!(failed, ["bad-a2"]);
        assert!(tried.contains(&"ok-a3".to_owned()), "tried: {tried:?}");
    }

    /// Runs `records` (as many as ten) with a handler that waits until all of
    /// them are in flight: the run ends only if they all run at once, and
    /// panics with `hung` after 10 s otherwise.
    async fn run_behind_a_barrier(
        records: Vec<SqsMessage>,
        hung: &str,
    ) -> Vec<RecordReport<CallbackError>> {
        let barrier = Arc::new(tokio::sync::Barrier::new(records.len()));
        let handler = move |_record: SqsMessage| {
            let barrier = Arc::clone(&barrier);
            async move {
                barrier.wait().await;
                Handled::<CallbackError>::new(None, Ok(Done::Completed))
            }
        };
        tokio::time::timeout(Duration::from_secs(10), run_records(records, 10, handler))
            .await
            .expect(hung)
    }

    #[tokio::test]
    async fn fair_queue_groups_on_a_standard_queue_run_concurrently() {
        // One group, ten records: they pass the barrier only if run at once.
        let records: Vec<_> = (0..10)
            .map(|i| record_of(STANDARD_QUEUE, &i.to_string(), Some("tenant-a")))
            .collect();
        let reports =
            run_behind_a_barrier(records, "a fair queue's group was run one by one").await;
        assert!(
            reports
                .iter()
                .all(|r| r.handled.outcome == Ok(Done::Completed))
        );
    }

    #[tokio::test]
    async fn fifo_group_runs_in_batch_order() {
        let order = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&order);
        let handler = move |record: SqsMessage| {
            let seen = Arc::clone(&seen);
            async move {
                let id = record.message_id.clone().unwrap_or_default();
                // Earlier records sleep longer: only sequential running keeps order.
                let delay = if id == "1" { 30 } else { 1 };
                tokio::time::sleep(Duration::from_millis(delay)).await;
                seen.lock().unwrap().push(id);
                Handled::<CallbackError>::new(None, Ok(Done::Completed))
            }
        };
        let records = vec![
            record("1", Some("g")),
            record("2", Some("g")),
            record("3", Some("g")),
        ];
        run_records(records, 10, handler).await;
        assert_eq!(*order.lock().unwrap(), ["1", "2", "3"]);
    }

    #[tokio::test]
    async fn concurrency_never_exceeds_the_limit() {
        let in_flight = Arc::new(Mutex::new((0_usize, 0_usize)));
        let counter = Arc::clone(&in_flight);
        let handler = move |_record: SqsMessage| {
            let counter = Arc::clone(&counter);
            async move {
                {
                    let mut c = counter.lock().unwrap();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                counter.lock().unwrap().0 -= 1;
                Handled::<CallbackError>::new(None, Ok(Done::Completed))
            }
        };
        let records = (0..20).map(|i| record(&i.to_string(), None)).collect();
        run_records(records, 3, handler).await;
        let peak = in_flight.lock().unwrap().1;
        assert_eq!(peak, 3, "peak concurrency");
    }

    #[tokio::test]
    async fn standard_queue_records_run_concurrently() {
        // All ten must be in flight at once to pass the barrier; run one by one, they would hang.
        let records: Vec<_> = (0..10).map(|i| record(&i.to_string(), None)).collect();
        let reports = run_behind_a_barrier(records, "records did not run concurrently").await;
        assert!(
            reports
                .iter()
                .all(|r| r.handled.outcome == Ok(Done::Completed))
        );
    }
}
