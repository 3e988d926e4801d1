//! Reading the account: the state machines, their RUNNING executions (every
//! page) and each execution's whole history, a bounded number at a time.
//! Throttling is retried with backoff by the client (the core's standard
//! retry with its throttling classifier).
//!
//! Express state machines are not scanned: their executions cannot wait on a
//! callback (`.waitForTaskToken` and activities are Standard-only), and AWS
//! refuses ListExecutions on them (`StateMachineTypeNotSupported`).

use std::sync::Arc;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, StateMachineListItem, StateMachineType};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::progress::Progress;
use super::waits::{OpenWait, open_waits};
use crate::failure::Failure;

/// A state machine to scan.
#[derive(Debug, Clone)]
pub struct Machine {
    pub arn: String,
    pub name: String,
}

/// A RUNNING execution.
#[derive(Debug, Clone)]
pub struct Running {
    pub arn: String,
    pub name: String,
    pub machine: Arc<Machine>,
}

/// How the scan reads.
#[derive(Debug, Clone, Copy)]
pub struct Reading {
    /// `maxResults` of every list and history page.
    pub page_size: i32,
    /// Histories read at once.
    pub concurrency: usize,
}

/// The state machines listed, by whether they can wait on a callback.
#[derive(Debug, Default)]
struct Listing {
    standard: Vec<Machine>,
    express: Vec<Machine>,
}

impl Listing {
    /// Sorts one page of ListStateMachines into the listing.
    fn add_page(&mut self, items: &[StateMachineListItem]) {
        for item in items {
            let machine = Machine {
                arn: item.state_machine_arn().to_owned(),
                name: item.name().to_owned(),
            };
            if item.r#type() == &StateMachineType::Express {
                self.express.push(machine);
            } else {
                self.standard.push(machine);
            }
        }
    }

    fn len(&self) -> usize {
        self.standard.len() + self.express.len()
    }
}

/// One scan: the client it reads with, how it reads, and where it shows its
/// progress.
pub struct Scan<'a> {
    pub sfn: &'a Client,
    pub reading: Reading,
    pub progress: &'a mut Progress,
}

impl Scan<'_> {
    /// The state machines named (by name or ARN), or every Standard one in the
    /// account. A named Express state machine is left out with a note.
    pub async fn machines(&mut self, named: &[String]) -> Result<Vec<Machine>, Failure> {
        let needs_list = named.is_empty() || named.iter().any(|name| !name.starts_with("arn:"));
        let listed = if needs_list {
            self.list_machines().await?
        } else {
            Listing::default()
        };
        if named.is_empty() {
            return Ok(listed.standard);
        }
        let mut chosen: Vec<Machine> = Vec::new();
        for wanted in named {
            let Some(machine) = find_named(self.sfn, &listed, wanted).await? else {
                self.progress.say(&format!(
                    "note: {} is an Express state machine, skipped: Express workflows cannot wait on a callback (.waitForTaskToken and activities are Standard-only)",
                    name_of(wanted, &listed)
                ));
                continue;
            };
            // Named twice (by name and by ARN): scanned once.
            if !chosen.iter().any(|known| known.arn == machine.arn) {
                chosen.push(machine);
            }
        }
        Ok(chosen)
    }

    async fn list_machines(&mut self) -> Result<Listing, Failure> {
        let mut listing = Listing::default();
        let mut pages = self
            .sfn
            .list_state_machines()
            .max_results(self.reading.page_size)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|err| Failure::of("ListStateMachines", &err))?;
            listing.add_page(page.state_machines());
            self.progress.page(
                &format!("{} state machines", listing.len()),
                page.next_token().is_some(),
            );
        }
        Ok(listing)
    }

    /// Every RUNNING execution of `machines`, every page.
    pub async fn running(&mut self, machines: &[Machine]) -> Result<Vec<Running>, Failure> {
        let mut running = Vec::new();
        for machine in machines {
            let machine = Arc::new(machine.clone());
            let mut pages = self
                .sfn
                .list_executions()
                .state_machine_arn(&machine.arn)
                .status_filter(ExecutionStatus::Running)
                .max_results(self.reading.page_size)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|err| {
                    Failure::of(format!("ListExecutions of {}", machine.name), &err)
                })?;
                running.extend(
                    page.executions()
                        .iter()
                        // A peer that ignored the filter must not make a finished
                        // execution look like it waits.
                        .filter(|item| item.status() == &ExecutionStatus::Running)
                        .map(|item| Running {
                            arn: item.execution_arn().to_owned(),
                            name: item.name().to_owned(),
                            machine: Arc::clone(&machine),
                        }),
                );
                self.progress.page(
                    &format!("{} running executions", running.len()),
                    page.next_token().is_some(),
                );
            }
        }
        Ok(running)
    }

    /// The open waits of each execution, in the order of `executions`: each
    /// history is read whole (at most `reading.concurrency` at once) and reduced to its
    /// waits at once, so a scan of many executions keeps only the waits.
    ///
    /// A history refused for good (the execution deleted mid-scan, say) loses
    /// only that execution: it is skipped with a warning and has no waits. A
    /// failure that outlasted the client's retries fails the scan.
    pub async fn waits(&mut self, executions: &[Running]) -> Result<Vec<Vec<OpenWait>>, Failure> {
        let page_size = self.reading.page_size;
        let permits = Arc::new(Semaphore::new(self.reading.concurrency.max(1)));
        let mut reads = JoinSet::new();
        for (n, execution) in executions.iter().enumerate() {
            let sfn = self.sfn.clone();
            let arn = execution.arn.clone();
            let permits = Arc::clone(&permits);
            reads.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let waits = history(&sfn, &arn, page_size)
                    .await
                    .map(|events| open_waits(&events));
                (n, waits)
            });
        }
        let mut found = vec![Vec::new(); executions.len()];
        let mut read = 0;
        while let Some(joined) = reads.join_next().await {
            let (n, waits) =
                joined.map_err(|err| Failure::Invalid(format!("a history read stopped: {err}")))?;
            match waits {
                Ok(waits) => found[n] = waits,
                Err(failure) if failure.is_permanent() => {
                    self.progress.say(&skipped(&executions[n], &failure));
                }
                Err(failure) => return Err(failure),
            }
            read += 1;
            self.progress
                .item(&format!("{read}/{} histories read", executions.len()));
        }
        Ok(found)
    }
}

/// The Standard state machine `wanted` names: listed by that name or ARN, or
/// an ARN taken as given once DescribeStateMachine says it is not Express.
/// `None` for an Express state machine.
async fn find_named(
    sfn: &Client,
    listed: &Listing,
    wanted: &str,
) -> Result<Option<Machine>, Failure> {
    let named = |machine: &&Machine| machine.name == wanted || machine.arn == wanted;
    if let Some(machine) = listed.standard.iter().find(named) {
        return Ok(Some(machine.clone()));
    }
    if listed.express.iter().any(|machine| named(&machine)) {
        return Ok(None);
    }
    if wanted.starts_with("arn:") {
        let machine = Machine {
            arn: wanted.to_owned(),
            name: wanted.rsplit(':').next().unwrap_or(wanted).to_owned(),
        };
        return Ok((!is_express(sfn, &machine).await?).then_some(machine));
    }
    Err(Failure::Invalid(format!(
        "no state machine named {wanted} in this account and region"
    )))
}

/// The name `wanted` stands for: itself, or the listed name of its ARN.
fn name_of<'a>(wanted: &'a str, listed: &'a Listing) -> &'a str {
    listed
        .express
        .iter()
        .find(|machine| machine.arn == wanted)
        .map_or_else(
            || wanted.rsplit(':').next().unwrap_or(wanted),
            |machine| machine.name.as_str(),
        )
}

/// Whether the state machine at an ARN not listed is Express. A permanent
/// refusal (e.g. no `states:DescribeStateMachine`) counts as Standard: the
/// scan goes on, and ListExecutions gives its own answer.
async fn is_express(sfn: &Client, machine: &Machine) -> Result<bool, Failure> {
    match sfn
        .describe_state_machine()
        .state_machine_arn(&machine.arn)
        .send()
        .await
    {
        Ok(described) => Ok(described.r#type() == &StateMachineType::Express),
        Err(err) => {
            let failure = Failure::of(format!("DescribeStateMachine of {}", machine.name), &err);
            if failure.is_permanent() {
                Ok(false)
            } else {
                Err(failure)
            }
        }
    }
}

/// The warning for an execution whose history was refused.
fn skipped(execution: &Running, failure: &Failure) -> String {
    let why = match failure.code() {
        Some("ExecutionDoesNotExist") => "it no longer exists",
        Some("StateMachineDoesNotExist") => "its state machine no longer exists",
        _ => "its history was refused",
    };
    format!(
        "warning: skipped execution {} of {}: {why} ({failure})",
        execution.name, execution.machine.name
    )
}

/// One execution's events, every page.
async fn history(sfn: &Client, arn: &str, page_size: i32) -> Result<Vec<HistoryEvent>, Failure> {
    sfn.get_execution_history()
        .execution_arn(arn)
        .max_results(page_size)
        .include_execution_data(false)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|err| Failure::of(format!("GetExecutionHistory of {arn}"), &err))
}

/// A state machine's definition, for the limits a history does not record.
pub async fn definition(sfn: &Client, machine: &Machine) -> Result<String, Failure> {
    let described = sfn
        .describe_state_machine()
        .state_machine_arn(&machine.arn)
        .send()
        .await
        .map_err(|err| Failure::of(format!("DescribeStateMachine of {}", machine.name), &err))?;
    Ok(described.definition().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::primitives::DateTime;

    fn item(name: &str, kind: StateMachineType) -> StateMachineListItem {
        StateMachineListItem::builder()
            .state_machine_arn(format!(
                "arn:aws:states:us-east-1:123456789012:stateMachine:{name}"
            ))
            .name(name)
            .r#type(kind)
            .creation_date(DateTime::from_secs(0))
            .build()
            .unwrap()
    }

    #[test]
    fn express_state_machines_are_listed_apart_from_the_ones_scanned() {
        let mut listing = Listing::default();
        listing.add_page(&[
            item("callbacks", StateMachineType::Standard),
            item("fast", StateMachineType::Express),
        ]);
        listing.add_page(&[item("approvals", StateMachineType::Standard)]);

        let names = |machines: &[Machine]| -> Vec<String> {
            machines
                .iter()
                .map(|machine| machine.name.clone())
                .collect()
        };
        assert_eq!(names(&listing.standard), ["callbacks", "approvals"]);
        assert_eq!(names(&listing.express), ["fast"]);
    }
}
