//! Reading the account: the state machines, their RUNNING executions (every
//! page) and each execution's whole history, a bounded number at a time.
//! Throttling is retried with backoff by the client (the core's standard
//! retry with its throttling classifier).

use std::sync::Arc;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent};
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

/// The state machines named (by name or ARN), or every one in the account.
pub async fn machines(
    sfn: &Client,
    named: &[String],
    reading: Reading,
    progress: &mut Progress,
) -> Result<Vec<Machine>, Failure> {
    let needs_list = named.is_empty() || named.iter().any(|name| !name.starts_with("arn:"));
    let listed = if needs_list {
        list_machines(sfn, reading, progress).await?
    } else {
        Vec::new()
    };
    if named.is_empty() {
        return Ok(listed);
    }
    let mut chosen: Vec<Machine> = Vec::new();
    for wanted in named {
        let machine = find_named(&listed, wanted)?;
        // Named twice (by name and by ARN): scanned once.
        if !chosen.iter().any(|known| known.arn == machine.arn) {
            chosen.push(machine);
        }
    }
    Ok(chosen)
}

/// The state machine `wanted` names: listed by that name or ARN, or an ARN
/// taken as given.
fn find_named(listed: &[Machine], wanted: &str) -> Result<Machine, Failure> {
    if let Some(machine) = listed
        .iter()
        .find(|machine| machine.name == wanted || machine.arn == wanted)
    {
        return Ok(machine.clone());
    }
    if wanted.starts_with("arn:") {
        return Ok(Machine {
            arn: wanted.to_owned(),
            name: wanted.rsplit(':').next().unwrap_or(wanted).to_owned(),
        });
    }
    Err(Failure::Invalid(format!(
        "no state machine named {wanted} in this account and region"
    )))
}

async fn list_machines(
    sfn: &Client,
    reading: Reading,
    progress: &mut Progress,
) -> Result<Vec<Machine>, Failure> {
    let mut machines = Vec::new();
    let mut pages = sfn
        .list_state_machines()
        .max_results(reading.page_size)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|err| Failure::of("ListStateMachines", &err))?;
        machines.extend(page.state_machines().iter().map(|item| Machine {
            arn: item.state_machine_arn().to_owned(),
            name: item.name().to_owned(),
        }));
        progress.page(
            &format!("{} state machines", machines.len()),
            page.next_token().is_some(),
        );
    }
    Ok(machines)
}

/// Every RUNNING execution of `machines`, every page.
pub async fn running(
    sfn: &Client,
    machines: &[Machine],
    reading: Reading,
    progress: &mut Progress,
) -> Result<Vec<Running>, Failure> {
    let mut running = Vec::new();
    for machine in machines {
        let machine = Arc::new(machine.clone());
        let mut pages = sfn
            .list_executions()
            .state_machine_arn(&machine.arn)
            .status_filter(ExecutionStatus::Running)
            .max_results(reading.page_size)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page
                .map_err(|err| Failure::of(format!("ListExecutions of {}", machine.name), &err))?;
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
            progress.page(
                &format!("{} running executions", running.len()),
                page.next_token().is_some(),
            );
        }
    }
    Ok(running)
}

/// The open waits of each execution, in the order of `executions`: each
/// history is read whole (at most `reading.concurrency` at once) and reduced to
/// its waits at once, so a scan of many executions keeps only the waits.
pub async fn waits(
    sfn: &Client,
    executions: &[Running],
    reading: Reading,
    progress: &mut Progress,
) -> Result<Vec<Vec<OpenWait>>, Failure> {
    let permits = Arc::new(Semaphore::new(reading.concurrency.max(1)));
    let mut reads = JoinSet::new();
    for (n, execution) in executions.iter().enumerate() {
        let sfn = sfn.clone();
        let arn = execution.arn.clone();
        let permits = Arc::clone(&permits);
        reads.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let waits = history(&sfn, &arn, reading.page_size)
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
        found[n] = waits?;
        read += 1;
        progress.item(&format!("{read}/{} histories read", executions.len()));
    }
    Ok(found)
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
