//! The callbacks an execution's history shows it waiting on right now.
//!
//! Pure: it takes the events in whatever order the service gave them (AWS
//! answers newest first with `reverseOrder`, moto 5.2.5 always oldest first)
//! and orders them by event id itself.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_sfn::primitives::DateTime;
use aws_sdk_sfn::types::{HistoryEvent, HistoryEventType as Event};

use crate::integration;

/// A task waiting for its callback.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenWait {
    /// The state the task belongs to.
    pub state: String,
    /// `sqs`, `sns`, `lambda`, `eventbridge`, `activity`, ...
    pub integration: String,
    /// When the task was scheduled: the wait began then.
    pub since: DateTime,
    /// The limits the history recorded, if it did.
    pub timeout_seconds: Option<i64>,
    pub heartbeat_seconds: Option<i64>,
}

/// How far back a closing event's chain of `previousEventId` is followed.
const CHAIN_LIMIT: usize = 64;

/// The waits that no later event has closed, oldest first.
pub fn open_waits(events: &[HistoryEvent]) -> Vec<OpenWait> {
    let by_id: HashMap<i64, &HistoryEvent> =
        events.iter().map(|event| (event.id(), event)).collect();
    let mut ordered: Vec<&HistoryEvent> = events.iter().collect();
    ordered.sort_by_key(|event| event.id());

    let mut open: BTreeMap<i64, OpenWait> = BTreeMap::new();
    for event in ordered {
        if let Some(wait) = scheduled_wait(event, &by_id) {
            open.insert(event.id(), wait);
        } else if closes_a_task(event.r#type())
            && let Some(id) = closed_by(event, &by_id, &open)
        {
            open.remove(&id);
        }
    }
    open.into_values().collect()
}

/// The wait an event begins: a `.waitForTaskToken` TaskScheduled or an ActivityScheduled.
fn scheduled_wait(event: &HistoryEvent, by_id: &HashMap<i64, &HistoryEvent>) -> Option<OpenWait> {
    let (integration, timeout, heartbeat) = match event.r#type() {
        Event::TaskScheduled => {
            let details = event.task_scheduled_event_details()?;
            if !integration::waits_for_token(details.resource()) {
                return None;
            }
            // AWS records the service and the action apart (`sqs`,
            // `sendMessage.waitForTaskToken`); a peer may record the whole ARN.
            let integration = if details.resource().starts_with("arn:") {
                integration::of_resource(details.resource())
            } else {
                integration::of_service(details.resource_type())
            };
            (
                integration,
                details.timeout_in_seconds(),
                details.heartbeat_in_seconds(),
            )
        }
        Event::ActivityScheduled => {
            let details = event.activity_scheduled_event_details()?;
            (
                "activity".to_owned(),
                details.timeout_in_seconds(),
                details.heartbeat_in_seconds(),
            )
        }
        _ => return None,
    };
    Some(OpenWait {
        state: state_name(event, by_id).unwrap_or_else(|| "?".to_owned()),
        integration,
        since: *event.timestamp(),
        timeout_seconds: timeout,
        heartbeat_seconds: heartbeat,
    })
}

/// Events after which a scheduled task no longer waits.
fn closes_a_task(kind: &Event) -> bool {
    matches!(
        kind,
        Event::TaskSucceeded
            | Event::TaskFailed
            | Event::TaskTimedOut
            | Event::TaskStartFailed
            | Event::TaskSubmitFailed
            | Event::TaskStateAborted
            | Event::TaskStateExited
            | Event::ActivitySucceeded
            | Event::ActivityFailed
            | Event::ActivityTimedOut
            | Event::ActivityScheduleFailed
    )
}

/// The open wait a closing event ends: the first one its `previousEventId`
/// chain reaches; without such a chain, the latest open wait before it.
fn closed_by(
    event: &HistoryEvent,
    by_id: &HashMap<i64, &HistoryEvent>,
    open: &BTreeMap<i64, OpenWait>,
) -> Option<i64> {
    let mut previous = event.previous_event_id();
    for _ in 0..CHAIN_LIMIT {
        if open.contains_key(&previous) {
            return Some(previous);
        }
        let Some(earlier) = by_id.get(&previous) else {
            break;
        };
        if earlier.state_entered_event_details().is_some() {
            // The chain left the task's state without meeting an open wait.
            return None;
        }
        previous = earlier.previous_event_id();
    }
    open.range(..event.id()).next_back().map(|(id, _)| *id)
}

/// The state a scheduled event belongs to: the StateEntered its chain leads
/// back to, or else the latest one before it.
fn state_name(event: &HistoryEvent, by_id: &HashMap<i64, &HistoryEvent>) -> Option<String> {
    let mut previous = event.previous_event_id();
    for _ in 0..CHAIN_LIMIT {
        let Some(earlier) = by_id.get(&previous) else {
            break;
        };
        if let Some(entered) = earlier.state_entered_event_details() {
            return Some(entered.name().to_owned());
        }
        previous = earlier.previous_event_id();
    }
    by_id
        .values()
        .filter(|earlier| earlier.id() < event.id())
        .filter_map(|earlier| Some((earlier.id(), earlier.state_entered_event_details()?)))
        .max_by_key(|(id, _)| *id)
        .map(|(_, entered)| entered.name().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::types::{
        ActivityScheduledEventDetails, StateEnteredEventDetails, TaskScheduledEventDetails,
    };

    fn event(
        id: i64,
        previous: i64,
        kind: Event,
    ) -> aws_sdk_sfn::types::builders::HistoryEventBuilder {
        HistoryEvent::builder()
            .id(id)
            .previous_event_id(previous)
            .r#type(kind)
            .timestamp(DateTime::from_secs(1_700_000_000 + id))
    }

    fn entered(id: i64, previous: i64, name: &str) -> HistoryEvent {
        event(id, previous, Event::TaskStateEntered)
            .state_entered_event_details(
                StateEnteredEventDetails::builder()
                    .name(name)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn scheduled(id: i64, previous: i64, service: &str, resource: &str) -> HistoryEvent {
        event(id, previous, Event::TaskScheduled)
            .task_scheduled_event_details(
                TaskScheduledEventDetails::builder()
                    .resource_type(service)
                    .resource(resource)
                    .region("us-east-1")
                    .parameters("{}")
                    .timeout_in_seconds(3600)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    fn plain(id: i64, previous: i64, kind: Event) -> HistoryEvent {
        event(id, previous, kind).build().unwrap()
    }

    /// Two parallel branches: one waits on SQS and was completed, one waits on
    /// an activity and still does; a plain Lambda task in between never waited.
    fn history() -> Vec<HistoryEvent> {
        vec![
            plain(1, 0, Event::ExecutionStarted),
            entered(2, 1, "SendWork"),
            scheduled(3, 2, "sqs", "sendMessage.waitForTaskToken"),
            plain(4, 3, Event::TaskStarted),
            entered(5, 1, "Poll"),
            event(6, 5, Event::ActivityScheduled)
                .activity_scheduled_event_details(
                    ActivityScheduledEventDetails::builder()
                        .resource("arn:aws:states:us-east-1:123456789012:activity:work")
                        .heartbeat_in_seconds(60)
                        .build()
                        .unwrap(),
                )
                .build()
                .unwrap(),
            plain(7, 4, Event::TaskSucceeded),
            entered(8, 7, "Notify"),
            scheduled(9, 8, "lambda", "invoke"),
        ]
    }

    fn expected() -> Vec<OpenWait> {
        vec![OpenWait {
            state: "Poll".to_owned(),
            integration: "activity".to_owned(),
            since: DateTime::from_secs(1_700_000_006),
            timeout_seconds: None,
            heartbeat_seconds: Some(60),
        }]
    }

    #[test]
    fn open_waits_are_found_in_a_history_oldest_first() {
        assert_eq!(open_waits(&history()), expected());
    }

    #[test]
    fn open_waits_are_found_in_a_history_newest_first() {
        let mut reversed = history();
        reversed.reverse();
        assert_eq!(open_waits(&reversed), expected());
    }

    #[test]
    fn a_wait_without_a_chain_is_closed_by_the_next_closing_event() {
        let events = vec![
            entered(1, 0, "Wait"),
            scheduled(2, 0, "sns", "publish.waitForTaskToken"),
            plain(3, 0, Event::TaskFailed),
        ];
        assert_eq!(open_waits(&events), vec![]);
    }

    #[test]
    fn a_waiting_task_names_its_state_and_integration() {
        let events = vec![
            entered(1, 0, "Ask"),
            scheduled(2, 1, "events", "putEvents.waitForTaskToken"),
        ];
        let waits = open_waits(&events);
        assert_eq!(waits.len(), 1);
        assert_eq!(
            (waits[0].state.as_str(), waits[0].integration.as_str()),
            ("Ask", "eventbridge")
        );
        assert_eq!(waits[0].timeout_seconds, Some(3600));
    }
}
