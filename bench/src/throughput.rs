//! Measurement 4, throughput: callbacks completed per second by one
//! `sqs-callback` instance through the Runtime API against moto, with real
//! executions of `statemachines/sqs-callback.asl.json` waiting on their tokens,
//! in batches of 10; and, in the same run, moto's own SendTaskSuccess rate with
//! direct SDK calls at the same concurrency (10 in flight, batch by batch).
//!
//! The two alternate batch by batch (the order swapping each pair), so both see
//! moto in the same state: as many executions waiting, as much history behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;
use sfn_callback_tests::peer::LocalAws;
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::{Result, event_source, statemachine};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::stats::Samples;
use crate::subjects::{Subject, invoke_all_done, sqs_event, success_body};

/// Records per batch, and calls in flight at once on the direct side.
pub const BATCH: usize = 10;
const START_CONCURRENCY: usize = 4;
const LIMIT: Duration = Duration::from_mins(1);

/// Rates per round, in callbacks per second.
#[derive(Debug, Default)]
pub struct Throughput {
    pub ours: Samples,
    pub direct: Samples,
    /// ours / direct, per round.
    pub ratio: Samples,
    pub callbacks_per_side: usize,
}

/// `rounds` rounds of `pairs` batch pairs each.
pub async fn measure(rounds: usize, pairs: usize) -> Result<Throughput> {
    let peer = tokio::task::spawn_blocking(LocalAws::start).await??;
    let config = peer.sdk_config().await;
    let sfn = aws_sdk_sfn::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let mut lambda = Subject::Binary("sqs-callback")
        .start(peer.endpoint())
        .await?;
    let mut result = Throughput {
        callbacks_per_side: rounds * pairs * BATCH,
        ..Throughput::default()
    };
    for round in 0..rounds {
        let (ours, direct) = one_round(&sfn, &sqs, &mut lambda, round, pairs).await?;
        result.ours.push(ours);
        result.direct.push(direct);
        result.ratio.push(ours / direct);
    }
    crate::subjects::stop(lambda).await;
    Ok(result)
}

/// One round: fresh state machine and queue, `2 × pairs × BATCH` executions
/// started and waiting, then the timed pairs. Returns (ours, direct) rates.
async fn one_round(
    sfn: &aws_sdk_sfn::Client,
    sqs: &aws_sdk_sqs::Client,
    lambda: &mut Lambda,
    round: usize,
    pairs: usize,
) -> Result<(f64, f64)> {
    let work_queue = event_source::create_queue(sqs, &format!("bench-work-{round}"), &[]).await?;
    let definition = statemachine::definition("sqs-callback", &[("WorkQueueUrl", &work_queue)])?;
    let state_machine =
        statemachine::create(sfn, &format!("bench-throughput-{round}"), &definition).await?;
    let count = 2 * pairs * BATCH;
    start_executions(sfn, &state_machine, round, count).await?;
    let tokens: Vec<String> = event_source::receive_exactly(sqs, &work_queue, count, LIMIT)
        .await?
        .iter()
        .map(|message| event_source::task_token(message.body().unwrap_or_default()))
        .collect::<Result<_>>()?;

    let (mut ours, mut direct) = (Duration::ZERO, Duration::ZERO);
    for (pair, chunk) in tokens.chunks(2 * BATCH).enumerate() {
        let (for_ours, for_direct) = chunk.split_at(BATCH);
        if pair % 2 == 0 {
            ours += via_function(lambda, for_ours, pair).await?;
            direct += via_sdk(sfn, for_direct, pair).await?;
        } else {
            direct += via_sdk(sfn, for_direct, pair).await?;
            ours += via_function(lambda, for_ours, pair).await?;
        }
    }
    wait_all_succeeded(sfn, &state_machine, count).await?;
    let per_side = f64::from(u32::try_from(pairs * BATCH)?);
    Ok((
        per_side / ours.as_secs_f64(),
        per_side / direct.as_secs_f64(),
    ))
}

async fn start_executions(
    sfn: &aws_sdk_sfn::Client,
    state_machine: &str,
    round: usize,
    count: usize,
) -> Result<()> {
    let permits = Arc::new(Semaphore::new(START_CONCURRENCY));
    let mut starting = JoinSet::new();
    for n in 0..count {
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let (sfn, state_machine) = (sfn.clone(), state_machine.to_owned());
        starting.spawn(async move {
            let _permit = permit;
            statemachine::start(
                &sfn,
                &state_machine,
                &format!("r{round}-{n}"),
                &json!({"n": n}),
            )
            .await
        });
    }
    while let Some(started) = starting.join_next().await {
        started??;
    }
    Ok(())
}

/// One batch through the function and the Runtime API.
async fn via_function(lambda: &mut Lambda, tokens: &[String], pair: usize) -> Result<Duration> {
    let bodies: Vec<String> = tokens
        .iter()
        .enumerate()
        .map(|(i, token)| success_body(token, &json!({"pair": pair, "i": i})))
        .collect();
    invoke_all_done(lambda, &sqs_event(&bodies)).await
}

/// The same work as direct SDK calls, all in flight at once.
async fn via_sdk(sfn: &aws_sdk_sfn::Client, tokens: &[String], pair: usize) -> Result<Duration> {
    let started = Instant::now();
    let mut calls = JoinSet::new();
    for (i, token) in tokens.iter().enumerate() {
        let call = sfn
            .send_task_success()
            .task_token(token)
            .output(json!({"pair": pair, "i": i}).to_string());
        calls.spawn(call.send());
    }
    while let Some(sent) = calls.join_next().await {
        sent?.map_err(|err| {
            format!(
                "SendTaskSuccess: {}",
                aws_sdk_sfn::error::DisplayErrorContext(err)
            )
        })?;
    }
    Ok(started.elapsed())
}

/// Proves the callbacks really completed: every execution of the round SUCCEEDED.
async fn wait_all_succeeded(
    sfn: &aws_sdk_sfn::Client,
    state_machine: &str,
    count: usize,
) -> Result<()> {
    let started = Instant::now();
    loop {
        let succeeded = sfn
            .list_executions()
            .state_machine_arn(state_machine)
            .status_filter(ExecutionStatus::Succeeded)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await?
            .len();
        if succeeded == count {
            return Ok(());
        }
        if started.elapsed() > LIMIT {
            return Err(format!(
                "only {succeeded} of {count} executions SUCCEEDED within {LIMIT:?}"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
