//! `sfn-callback pending`: every RUNNING execution waiting on a callback right
//! now (a `.waitForTaskToken` task of any integration, or an activity task),
//! since when, and how long before its limits run out.

mod limits;
mod progress;
mod render;
mod row;
mod scan;
mod waits;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_sfn::Client;

use crate::failure::Failure;
use progress::Progress;
use row::Row;
pub use scan::Reading;

/// What to list.
#[derive(Debug, Clone)]
pub struct Request {
    /// Names or ARNs; empty for every state machine.
    pub state_machines: Vec<String>,
    /// Only waits at least this old.
    pub older_than: Option<Duration>,
    pub reading: Reading,
}

/// How to print it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    JsonLines,
}

/// Scans, prints, and returns how many waits were listed.
pub async fn run(sfn: &Client, request: &Request, format: Format) -> Result<usize, Failure> {
    let mut progress = Progress::default();
    let found = find(sfn, request, &mut progress).await;
    progress.finish();
    let rows = found?;
    match format {
        Format::JsonLines => print!("{}", render::json_lines(&rows)),
        Format::Table if rows.is_empty() => println!("No execution is waiting on a callback."),
        Format::Table => print!("{}", render::table(&rows)),
    }
    let unlimited = rows.iter().filter(|row| row.has_no_timeout()).count();
    if unlimited > 0 {
        eprintln!(
            "warning: {unlimited} waiting task(s) have no TimeoutSeconds: a lost callback keeps them waiting up to a year"
        );
    }
    Ok(rows.len())
}

/// The waits, oldest first.
async fn find(
    sfn: &Client,
    request: &Request,
    progress: &mut Progress,
) -> Result<Vec<Row>, Failure> {
    let mut scan = scan::Scan {
        sfn,
        reading: request.reading,
        progress,
    };
    let machines = scan.machines(&request.state_machines).await?;
    let running = scan.running(&machines).await?;
    let waits = scan.waits(&running).await?;
    let now = now_secs();
    let mut rows = Vec::new();
    for (execution, waits) in running.iter().zip(waits) {
        rows.extend(waits.into_iter().map(|wait| Row::new(execution, wait, now)));
    }
    if let Some(older_than) = request.older_than {
        let least = i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX);
        rows.retain(|row| row.waiting_seconds >= least);
    }
    fill_limits_from_definitions(sfn, &mut rows, progress).await?;
    rows.sort_by(|a, b| {
        (a.since.secs(), &a.execution_arn, &a.state).cmp(&(
            b.since.secs(),
            &b.execution_arn,
            &b.state,
        ))
    });
    Ok(rows)
}

/// Limits the history did not record are read from the state machine's
/// definition (DescribeStateMachine, once per state machine). A definition
/// refused for good (access denied, the state machine deleted) leaves them
/// unknown, with a warning; a failure that outlasted the retries fails the run.
async fn fill_limits_from_definitions(
    sfn: &Client,
    rows: &mut [Row],
    progress: &mut Progress,
) -> Result<(), Failure> {
    // `None`: the definition could not be read.
    let mut definitions: HashMap<String, Option<serde_json::Value>> = HashMap::new();
    for row in rows.iter_mut() {
        if row.timeout_seconds.is_some() && row.heartbeat_seconds.is_some() {
            continue;
        }
        if !definitions.contains_key(&row.state_machine_arn) {
            let machine = scan::Machine {
                arn: row.state_machine_arn.clone(),
                name: row.state_machine.clone(),
            };
            let definition = match scan::definition(sfn, &machine).await {
                Ok(text) => Some(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)),
                Err(failure) if failure.is_permanent() => {
                    progress.say(&format!(
                        "warning: limits of {} unknown: its definition could not be read ({failure})",
                        machine.name
                    ));
                    None
                }
                Err(failure) => return Err(failure),
            };
            definitions.insert(row.state_machine_arn.clone(), definition);
        }
        match definitions.get(&row.state_machine_arn) {
            Some(Some(definition)) => {
                let limits = limits::of_state(definition, &row.state);
                row.timeout_seconds = row.timeout_seconds.or(limits.timeout_seconds);
                row.heartbeat_seconds = row.heartbeat_seconds.or(limits.heartbeat_seconds);
            }
            _ => row.limits_unknown = true,
        }
    }
    Ok(())
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}
