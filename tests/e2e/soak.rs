//! Soak: 1,000 executions of `statemachines/sqs-callback.asl.json` through the
//! SQS callback path, with about 20% of the Step Functions calls faulted by the
//! fault proxy (`tests/src/fault_proxy.rs`), and nothing may be lost.
//!
//! The test plays the worker (task message in, callback message out, in
//! batches of 10) and Lambda's SQS event source: several pollers, each with its
//! own `sqs-callback` process behind the Runtime API emulator, receive batches
//! of 10, invoke, delete only what the function did not report failed, and let
//! the rest come back after the visibility timeout until the redrive policy
//! moves it to the DLQ. Ten poison messages ride along to prove the DLQ path.
//!
//! Instances also die mid-batch, as a Lambda instance does on a timeout, out of
//! memory or a crash: on a seeded schedule (`tests/src/instance_kill.rs`), about
//! one invocation in ten has its function process killed with SIGKILL, most
//! once some of its `SendTask*` calls took effect. The event source gets no
//! answer, a fresh process takes the instance's place, and the batch's records
//! come back after the visibility timeout, where the completed ones are
//! acknowledged as duplicates. The report counts the kills, and how many struck
//! after a call of that invocation had taken effect.
//!
//! At the end every execution must be SUCCEEDED with exactly its output, or have
//! its callback message in the DLQ; `lost` must be 0. The function runs with
//! `SFN_MAX_ATTEMPTS=2`, so that faults reach the queue layer (records handed
//! back and redelivered), not just the SDK's own retries.
//!
//! `make soak` runs it with the tallies shown; they are also written to
//! `tests/artifacts/soak-report.txt`. Settings: `SOAK_EXECUTIONS` (default
//! 1000), `SOAK_SEED` (the seed of the fault and kill schedules; default printed).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, QueueAttributeName, SendMessageBatchRequestEntry,
};
use serde_json::{Value, json};
use sfn_callback_tests::event_source::{self, EventSource, PollTally, QueuePair};
use sfn_callback_tests::fault_proxy::{Fault, FaultCounts, FaultPlan, FaultProxy};
use sfn_callback_tests::instance_kill::{InstanceKiller, KillSchedule, KillTally};
use sfn_callback_tests::peer::{Clients, LocalAws};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::SqsCallbackPattern;
use sfn_callback_tests::{Result, artifacts_dir, statemachine};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

const DEFAULT_EXECUTIONS: usize = 1000;
const DEFAULT_SEED: u64 = 20_060_006;
const FAULT_RATE: f64 = 0.2;
/// Share of invocations whose instance is killed (SIGKILL) midway.
const KILL_RATE: f64 = 0.1;
/// Concurrent function instances, each with its own poller, as Lambda runs several.
const INSTANCES: usize = 4;
/// StartExecution calls in flight at once.
const START_CONCURRENCY: usize = 4;
/// Executions started whose callback the worker has not sent yet. moto slows down
/// as waiting executions pile up (each is a Python thread, and some calls scan
/// them all), so the soak keeps a window, as a steady stream of work would.
const WINDOW: usize = 100;
const POISON_MESSAGES: usize = 10;
/// Longer than one invocation can last (the Lambda timeout), short enough that
/// handed-back records come back quickly.
const VISIBILITY_TIMEOUT_S: u32 = 5;
/// A record fails a receive about one time in ten here (a fault that outlasts the
/// retries, or its instance killed): at 3 receives, about one callback in a
/// thousand would reach the DLQ before its execution completed, which a real
/// queue would tune away too. At 6 it is about one in a million, so every
/// execution of the run must complete.
const MAX_RECEIVE_COUNT: u32 = 6;
const LAMBDA_TIMEOUT: Duration = Duration::from_secs(3);
/// Whole-run bound: every loop below also stops at this instant.
const TIME_LIMIT: Duration = Duration::from_mins(5);

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// The output the worker reports for execution `n`: nested, unicode, numbers.
fn expected_output(n: usize) -> Value {
    json!({"n": n, "result": format!("done-{n}"), "note": "ünïcödé ✓", "items": [n, n * 2], "ratio": 0.5})
}

fn execution_number(name: &str) -> Option<usize> {
    name.strip_prefix("soak-")?.parse().ok()
}

/// Starts `count` executions named `soak-NNNN`, at most `START_CONCURRENCY` at
/// once, and each only when `window` has room (the worker makes room).
async fn start_executions(
    sfn: &aws_sdk_sfn::Client,
    state_machine: &str,
    count: usize,
    window: &Semaphore,
    until: Instant,
) -> Result<Vec<String>> {
    let permits = Arc::new(Semaphore::new(START_CONCURRENCY));
    let mut starting = JoinSet::new();
    for n in 0..count {
        let room = tokio::time::timeout_at(until.into(), window.acquire())
            .await
            .map_err(|_| {
                format!("the worker did not keep up: {n} of {count} executions started")
            })??;
        room.forget();
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let sfn = sfn.clone();
        let state_machine = state_machine.to_owned();
        starting.spawn(async move {
            let _permit = permit;
            let name = format!("soak-{n:04}");
            let arn =
                statemachine::start(&sfn, &state_machine, &name, &json!({"name": name})).await;
            (n, arn)
        });
    }
    let mut arns = vec![String::new(); count];
    while let Some(started) = starting.join_next().await {
        let (n, arn) = started?;
        arns[n] = arn?;
    }
    Ok(arns)
}

/// Plays the worker: takes each task message off the work queue and sends its
/// callback, ten at a time. Returns the callback body sent for each execution.
async fn play_worker(
    sqs: &aws_sdk_sqs::Client,
    work_queue: &str,
    callbacks: &str,
    count: usize,
    window: &Semaphore,
    until: Instant,
) -> Result<HashMap<usize, (String, String)>> {
    let mut sent: HashMap<usize, (String, String)> = HashMap::new();
    while sent.len() < count {
        if Instant::now() > until {
            return Err(format!("only {} of {count} task messages arrived", sent.len()).into());
        }
        let messages = event_source::receive(sqs, work_queue, 10, 1).await?;
        if messages.is_empty() {
            continue;
        }
        let mut entries = Vec::new();
        let mut deletes = Vec::new();
        for (index, message) in messages.iter().enumerate() {
            let body: Value = serde_json::from_str(message.body().unwrap_or_default())?;
            let token = body["TaskToken"]
                .as_str()
                .ok_or("task message without TaskToken")?
                .to_owned();
            let name = body["input"]["name"].as_str().unwrap_or_default();
            let n = execution_number(name).ok_or_else(|| format!("unexpected input {body}"))?;
            let callback =
                json!({"taskToken": token, "status": "SUCCEEDED", "output": expected_output(n)})
                    .to_string();
            entries.push(
                SendMessageBatchRequestEntry::builder()
                    .id(format!("m{index}"))
                    .message_body(&callback)
                    .build()?,
            );
            deletes.push(
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{index}"))
                    .receipt_handle(message.receipt_handle().unwrap_or_default())
                    .build()?,
            );
            sent.insert(n, (token, callback));
        }
        let batch = sqs
            .send_message_batch()
            .queue_url(callbacks)
            .set_entries(Some(entries))
            .send()
            .await?;
        if !batch.failed().is_empty() {
            return Err(format!("SendMessageBatch failed: {:?}", batch.failed()).into());
        }
        window.add_permits(deletes.len());
        sqs.delete_message_batch()
            .queue_url(work_queue)
            .set_entries(Some(deletes))
            .send()
            .await?;
    }
    Ok(sent)
}

/// Messages waiting or in flight on `url`.
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<u64> {
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await?;
    let attributes = attributes.attributes().ok_or("queue has no attributes")?;
    let count = |name: &QueueAttributeName| -> u64 {
        attributes
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Ok(count(&QueueAttributeName::ApproximateNumberOfMessages)
        + count(&QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}

/// Waits until the callback queue is empty: every message deleted or dead-lettered.
async fn wait_drained(sqs: &aws_sdk_sqs::Client, url: &str, until: Instant) -> Result<()> {
    loop {
        let depth = queue_depth(sqs, url).await?;
        if depth == 0 {
            return Ok(());
        }
        if Instant::now() > until {
            return Err(format!("{depth} callback messages still queued at the time limit").into());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every body in a queue, read to the end (each receive hides what it read).
async fn drain_bodies(sqs: &aws_sdk_sqs::Client, url: &str, until: Instant) -> Result<Vec<String>> {
    let mut bodies = Vec::new();
    while Instant::now() < until {
        let batch = event_source::receive(sqs, url, 10, 0).await?;
        if batch.is_empty() {
            break;
        }
        bodies.extend(
            batch
                .iter()
                .map(|m| m.body().unwrap_or_default().to_owned()),
        );
    }
    Ok(bodies)
}

/// Each execution's status and output, described at most 8 at a time; RUNNING
/// ones are asked again for a few seconds, in case their completion is fresh.
async fn final_states(
    sfn: &aws_sdk_sfn::Client,
    arns: &[String],
) -> Result<Vec<(ExecutionStatus, Option<Value>)>> {
    let permits = Arc::new(Semaphore::new(8));
    let mut describing = JoinSet::new();
    for (n, arn) in arns.iter().enumerate() {
        let permit = Arc::clone(&permits).acquire_owned().await?;
        let sfn = sfn.clone();
        let arn = arn.clone();
        describing.spawn(async move {
            let _permit = permit;
            let settle = Instant::now() + Duration::from_secs(3);
            loop {
                let described = sfn.describe_execution().execution_arn(&arn).send().await;
                let done = match &described {
                    Ok(d) => d.status() != &ExecutionStatus::Running,
                    Err(_) => true,
                };
                if done || Instant::now() > settle {
                    return (n, described);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
    }
    let mut states = vec![(ExecutionStatus::Running, None); arns.len()];
    while let Some(described) = describing.join_next().await {
        let (n, described) = described?;
        let described = described?;
        let output = described
            .output()
            .and_then(|text| serde_json::from_str(text).ok());
        states[n] = (described.status().clone(), output);
    }
    Ok(states)
}

/// Counts log lines of the functions' JSON logs with this outcome.
fn outcomes_logged(logs: &[String], outcome: &str) -> usize {
    let needle = format!("\"outcome\":\"{outcome}\"");
    logs.iter().map(|log| log.matches(&needle).count()).sum()
}

struct Verdict {
    completed: usize,
    dead_lettered: Vec<usize>,
    wrong: Vec<String>,
    lost: Vec<String>,
    completed_and_dead_lettered: usize,
}

fn judge(
    states: &[(ExecutionStatus, Option<Value>)],
    arns: &[String],
    dead: &HashSet<usize>,
) -> Verdict {
    let mut verdict = Verdict {
        completed: 0,
        dead_lettered: Vec::new(),
        wrong: Vec::new(),
        lost: Vec::new(),
        completed_and_dead_lettered: 0,
    };
    for (n, (status, output)) in states.iter().enumerate() {
        let exact =
            *status == ExecutionStatus::Succeeded && output.as_ref() == Some(&expected_output(n));
        if exact {
            verdict.completed += 1;
            if dead.contains(&n) {
                verdict.completed_and_dead_lettered += 1;
            }
        } else if *status == ExecutionStatus::Running && dead.contains(&n) {
            verdict.dead_lettered.push(n);
        } else if *status == ExecutionStatus::Running {
            verdict.lost.push(format!("soak-{n:04} ({})", arns[n]));
        } else {
            verdict
                .wrong
                .push(format!("soak-{n:04}: {status:?} with output {output:?}"));
        }
    }
    verdict
}

/// Everything the soak runs against: moto, the proxy in front of it, the queues
/// and the state machine.
struct Rig {
    peer: LocalAws,
    proxy: FaultProxy,
    sfn: aws_sdk_sfn::Client,
    sqs: aws_sdk_sqs::Client,
    work_queue: String,
    callbacks: QueuePair,
    state_machine: String,
}

impl Rig {
    async fn start(seed: u64) -> Result<Self> {
        let peer = LocalAws::start()?;
        let Clients { sfn, sqs, .. } = peer.clients().await;
        let SqsCallbackPattern {
            work_queue,
            callbacks,
            state_machine,
        } = SqsCallbackPattern::create(&sfn, &sqs, "soak", VISIBILITY_TIMEOUT_S, MAX_RECEIVE_COUNT)
            .await?;
        let proxy = FaultProxy::start(
            peer.endpoint(),
            FaultPlan::seeded(seed, FAULT_RATE)
                .hold_for(Duration::from_millis(1500))
                .answer_closed_tasks_like_aws(),
        )
        .await?;
        Ok(Self {
            peer,
            proxy,
            sfn,
            sqs,
            work_queue,
            callbacks,
            state_machine,
        })
    }

    /// Starts the function instances, each polling the callback queue until
    /// `stop`, and each killed mid-invocation on its own seeded schedule.
    async fn start_pollers(
        &self,
        seed: u64,
        stop: &Arc<AtomicBool>,
        until: Instant,
    ) -> Result<JoinSet<Result<(PollTally, Lambda)>>> {
        let mut env = self.proxy.function_env(&self.peer);
        for (key, value) in [
            ("SFN_ATTEMPT_TIMEOUT_MS", "1000"),
            ("SFN_MAX_ATTEMPTS", "2"),
            ("MAX_CONCURRENCY", "10"),
        ] {
            env.push((key.to_owned(), value.to_owned()));
        }
        let mut pollers = JoinSet::new();
        for instance in 0..INSTANCES {
            let mut lambda = Lambda::start("sqs-callback", &env).await?;
            lambda.timeout = LAMBDA_TIMEOUT;
            let killer = InstanceKiller::new(
                KillSchedule::seeded(seed, u64::try_from(instance)?, KILL_RATE),
                self.proxy.effects(),
            );
            let source = EventSource::new(self.sqs.clone(), self.callbacks.clone(), lambda)
                .with_killer(killer);
            pollers.spawn(source.run(Arc::clone(stop), until));
        }
        Ok(pollers)
    }

    /// Messages that are not callbacks at all: they must end in the DLQ.
    async fn send_poison(&self) -> Result<Vec<String>> {
        let poison: Vec<String> = (0..POISON_MESSAGES)
            .map(|k| format!("poison {k}: not a callback"))
            .collect();
        for body in &poison {
            self.sqs
                .send_message()
                .queue_url(&self.callbacks.url)
                .message_body(body)
                .send()
                .await?;
        }
        Ok(poison)
    }

    /// Starts the executions while the worker answers them, then waits until
    /// the callback queue is empty. Returns the executions' ARNs and the
    /// callbacks sent (token and body, by execution number).
    async fn run_executions(
        &self,
        executions: usize,
        until: Instant,
    ) -> Result<(Vec<String>, HashMap<usize, (String, String)>)> {
        let window = Arc::new(Semaphore::new(WINDOW));
        let worker = {
            let sqs = self.sqs.clone();
            let (work_queue, callbacks) = (self.work_queue.clone(), self.callbacks.url.clone());
            let window = Arc::clone(&window);
            tokio::spawn(async move {
                play_worker(&sqs, &work_queue, &callbacks, executions, &window, until).await
            })
        };
        let arns =
            start_executions(&self.sfn, &self.state_machine, executions, &window, until).await?;
        let sent = worker.await??;
        wait_drained(&self.sqs, &self.callbacks.url, until).await?;
        Ok((arns, sent))
    }
}

/// What the soak counted.
struct Tallies {
    executions: usize,
    seed: u64,
    verdict: Verdict,
    polled: PollTally,
    counts: FaultCounts,
    duplicates_logged: usize,
    poison_dead: usize,
    drained_after: Duration,
    elapsed: Duration,
}

impl std::fmt::Display for Tallies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            executions,
            seed,
            verdict,
            polled,
            counts,
            duplicates_logged,
            poison_dead,
            drained_after,
            elapsed,
        } = self;
        let poison_handed_back = poison_dead * MAX_RECEIVE_COUNT as usize;
        writeln!(
            f,
            "soak report (seed {seed}, fault rate {FAULT_RATE}, kill rate {KILL_RATE})"
        )?;
        writeln!(
            f,
            "  executions            {executions} ({INSTANCES} function instances, batch 10, \
             SFN_MAX_ATTEMPTS=2, attempt timeout 1 s, visibility {VISIBILITY_TIMEOUT_S} s, \
             maxReceiveCount {MAX_RECEIVE_COUNT})"
        )?;
        writeln!(
            f,
            "  completed             {} (SUCCEEDED with exactly their output)",
            verdict.completed
        )?;
        writeln!(
            f,
            "  duplicates acked      {duplicates_logged} (records the function acknowledged as \
             already closed; the proxy answered TaskTimedOut {} times)",
            counts.task_timed_out
        )?;
        writeln!(
            f,
            "  retried               {} records handed back in batchItemFailures \
             ({poison_handed_back} of them poison), over {} invocations of {} records \
             ({} invocations failed whole)",
            polled.handed_back, polled.invocations, polled.received, polled.invoke_errors
        )?;
        writeln!(
            f,
            "  dead-lettered         {} callbacks ({} of them of completed executions) \
             + {poison_dead} of {POISON_MESSAGES} poison messages",
            verdict.dead_lettered.len() + verdict.completed_and_dead_lettered,
            verdict.completed_and_dead_lettered
        )?;
        let KillTally {
            planned,
            killed,
            after_effect,
            effects_before_kill,
            records_abandoned,
        } = polled.kills;
        writeln!(
            f,
            "  instances killed      {killed} by SIGKILL mid-invocation, {after_effect} of them after \
             at least one SendTask* call of that invocation had taken effect ({effects_before_kill} \
             such calls in all); {records_abandoned} records left unanswered to come back; \
             {} more kills planned came after the answer",
            planned - killed
        )?;
        writeln!(f, "  lost                  {}", verdict.lost.len())?;
        writeln!(f, "  wrong                 {}", verdict.wrong.len())?;
        writeln!(f, "  faults                {counts}")?;
        writeln!(
            f,
            "  time                  {:.1} s in all; queue drained after {:.1} s",
            elapsed.as_secs_f64(),
            drained_after.as_secs_f64()
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_callback_completes_exactly_once_or_reaches_the_dlq_under_injected_faults()
-> Result<()> {
    let executions = env_or("SOAK_EXECUTIONS", DEFAULT_EXECUTIONS);
    let seed = env_or("SOAK_SEED", DEFAULT_SEED);
    let began = Instant::now();
    let until = began + TIME_LIMIT;
    println!(
        "soak: {executions} executions, fault rate {FAULT_RATE}, seed {seed} (set SOAK_SEED to replay)"
    );
    let rig = Rig::start(seed).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut pollers = rig.start_pollers(seed, &stop, until).await?;
    let poison = rig.send_poison().await?;

    let (arns, sent) = rig.run_executions(executions, until).await?;

    stop.store(true, Ordering::Relaxed);
    let drained_after = began.elapsed();
    let mut polled = PollTally::default();
    let mut logs = Vec::new();
    while let Some(poller) = pollers.join_next().await {
        let (tally, lambda) = poller??;
        polled += tally;
        logs.push(lambda.log_text());
    }
    let dlq = drain_bodies(&rig.sqs, &rig.callbacks.dlq_url, until).await?;
    let by_body: HashMap<&str, usize> = sent
        .iter()
        .map(|(n, (_, body))| (body.as_str(), *n))
        .collect();
    let dead: HashSet<usize> = dlq
        .iter()
        .filter_map(|body| by_body.get(body.as_str()).copied())
        .collect();
    let states = final_states(&rig.sfn, &arns).await?;
    let leaked = sent
        .values()
        .filter(|(token, _)| logs.iter().any(|log| log.contains(token.as_str())))
        .count();
    let tallies = Tallies {
        executions,
        seed,
        verdict: judge(&states, &arns, &dead),
        polled,
        counts: rig.proxy.counts(),
        duplicates_logged: outcomes_logged(&logs, "AlreadyClosed"),
        poison_dead: dlq.iter().filter(|body| poison.contains(body)).count(),
        drained_after,
        elapsed: began.elapsed(),
    };
    print!("{tallies}");
    std::fs::write(
        artifacts_dir()?.join("soak-report.txt"),
        tallies.to_string(),
    )?;

    let verdict = &tallies.verdict;
    assert!(
        verdict.lost.is_empty(),
        "lost callbacks: {:?}",
        verdict.lost
    );
    assert!(
        verdict.wrong.is_empty(),
        "executions that did not end as sent: {:?}",
        verdict.wrong
    );
    assert_eq!(
        verdict.completed + verdict.dead_lettered.len(),
        executions,
        "every execution is accounted for"
    );
    assert_eq!(
        verdict.completed, executions,
        "every execution completed; dead-lettered before completing: {:?}",
        verdict.dead_lettered
    );
    assert_eq!(
        tallies.poison_dead, POISON_MESSAGES,
        "every poison message reached the DLQ"
    );
    assert_eq!(leaked, 0, "task tokens reached the function logs");
    assert_faults_were_injected(&tallies.counts, executions);
    assert_instances_were_killed_after_calls_took_effect(&tallies.polled.kills, executions);
    assert!(
        tallies.duplicates_logged > 0,
        "calls that took effect but lost their answer came back as acknowledged duplicates"
    );
    Ok(())
}

/// The soak proves nothing unless each kind of fault really happened.
fn assert_faults_were_injected(counts: &FaultCounts, executions: usize) {
    if executions < 500 {
        return;
    }
    for kind in Fault::ALL {
        assert!(
            counts.of(kind) > 0,
            "no {kind:?} fault was injected: {counts}"
        );
    }
    let rate = f64::from(u32::try_from(counts.faults()).unwrap_or(u32::MAX))
        / f64::from(u32::try_from(counts.send_task_calls.max(1)).unwrap_or(u32::MAX));
    assert!(
        (0.15..=0.25).contains(&rate),
        "fault rate {rate:.3} is not about {FAULT_RATE}: {counts}"
    );
}

/// The kill fault proves nothing unless instances really died, and some of them
/// after calls of their invocation had taken effect.
fn assert_instances_were_killed_after_calls_took_effect(kills: &KillTally, executions: usize) {
    if executions < 500 {
        return;
    }
    assert!(kills.killed > 0, "no instance was killed: {kills:?}");
    assert!(
        kills.after_effect > 0,
        "no instance was killed after a call of its invocation took effect: {kills:?}"
    );
}
