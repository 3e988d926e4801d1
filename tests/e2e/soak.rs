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
use serde_json::{Value, json};
use sfn_callback_tests::event_source::{PollTally, drain_bodies, wait_drained};
use sfn_callback_tests::fault_proxy::{Fault, FaultCounts, FaultPlan};
use sfn_callback_tests::instance_kill::{InstanceKiller, KillSchedule, KillTally};
use sfn_callback_tests::runtime_api::Lambda;
use sfn_callback_tests::sqs_pattern::{SentCallback, SqsCallbackWorld, play_worker};
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

/// moto, the fault proxy in front of it on its seeded schedule, the queues and
/// the state machine, with the settings every function instance gets.
async fn start_world(seed: u64) -> Result<SqsCallbackWorld> {
    SqsCallbackWorld::builder("soak")
        .redrive(VISIBILITY_TIMEOUT_S, MAX_RECEIVE_COUNT)
        .through_proxy(
            FaultPlan::seeded(seed, FAULT_RATE)
                .hold_for(Duration::from_millis(1500))
                .answer_closed_tasks_like_aws(),
        )
        .setting("SFN_ATTEMPT_TIMEOUT_MS", "1000")
        .setting("SFN_MAX_ATTEMPTS", "2")
        .setting("MAX_CONCURRENCY", "10")
        .lambda_timeout(LAMBDA_TIMEOUT)
        .start()
        .await
}

/// Starts the function instances, each polling the callback queue until
/// `stop`, and each killed mid-invocation on its own seeded schedule.
async fn start_pollers(
    world: &SqsCallbackWorld,
    seed: u64,
    stop: &Arc<AtomicBool>,
    until: Instant,
) -> Result<JoinSet<Result<(PollTally, Lambda)>>> {
    let effects = world.fault_proxy()?.effects();
    let mut pollers = JoinSet::new();
    for instance in 0..INSTANCES {
        let killer = InstanceKiller::new(
            KillSchedule::seeded(seed, u64::try_from(instance)?, KILL_RATE),
            effects.clone(),
        );
        let source = world
            .event_source(world.start_function().await?)
            .with_killer(killer);
        pollers.spawn(source.run(Arc::clone(stop), until));
    }
    Ok(pollers)
}

/// Messages that are not callbacks at all: they must end in the DLQ.
async fn send_poison(world: &SqsCallbackWorld) -> Result<Vec<String>> {
    let poison: Vec<String> = (0..POISON_MESSAGES)
        .map(|k| format!("poison {k}: not a callback"))
        .collect();
    for body in &poison {
        world.send_raw(body).await?;
    }
    Ok(poison)
}

/// Starts the executions while the worker answers them, then waits until
/// the callback queue is empty. Returns the executions' ARNs and the
/// callbacks sent, by execution number.
async fn run_executions(
    world: &SqsCallbackWorld,
    executions: usize,
    until: Instant,
) -> Result<(Vec<String>, HashMap<usize, SentCallback>)> {
    let window = Arc::new(Semaphore::new(WINDOW));
    let worker = {
        let sqs = world.sqs.clone();
        let (work_queue, callbacks) = (world.work_queue.clone(), world.callbacks.url.clone());
        let window = Arc::clone(&window);
        tokio::spawn(async move {
            play_worker(
                &sqs,
                &work_queue,
                &callbacks,
                executions,
                &window,
                until,
                |input| {
                    let name = input["name"].as_str().unwrap_or_default();
                    let n = execution_number(name)
                        .ok_or_else(|| format!("unexpected input {input}"))?;
                    Ok((n, expected_output(n)))
                },
            )
            .await
        })
    };
    let named = (0..executions)
        .map(|n| {
            let name = format!("soak-{n:04}");
            let input = json!({"name": name});
            (name, input)
        })
        .collect();
    let arns = statemachine::start_windowed(
        &world.sfn,
        &world.state_machine,
        named,
        START_CONCURRENCY,
        &window,
        until,
    )
    .await?;
    let sent = worker.await??;
    wait_drained(&world.sqs, &world.callbacks.url, until).await?;
    Ok((arns, sent))
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
    let world = start_world(seed).await?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut pollers = start_pollers(&world, seed, &stop, until).await?;
    let poison = send_poison(&world).await?;

    let (arns, sent) = run_executions(&world, executions, until).await?;

    stop.store(true, Ordering::Relaxed);
    let drained_after = began.elapsed();
    let mut polled = PollTally::default();
    let mut logs = Vec::new();
    let mut duplicates_logged = 0;
    while let Some(poller) = pollers.join_next().await {
        let (tally, lambda) = poller??;
        polled += tally;
        duplicates_logged += lambda.outcomes_logged("AlreadyClosed");
        logs.push(lambda.log_text());
    }
    let dlq = drain_bodies(&world.sqs, &world.callbacks.dlq_url, until).await?;
    let by_body: HashMap<&str, usize> = sent
        .iter()
        .map(|(n, callback)| (callback.body.as_str(), *n))
        .collect();
    let dead: HashSet<usize> = dlq
        .iter()
        .filter_map(|body| by_body.get(body.as_str()).copied())
        .collect();
    let states = statemachine::settled_states(&world.sfn, &arns).await?;
    let leaked = sent
        .values()
        .filter(|callback| logs.iter().any(|log| log.contains(callback.token.as_str())))
        .count();
    let tallies = Tallies {
        executions,
        seed,
        verdict: judge(&states, &arns, &dead),
        polled,
        counts: world.fault_proxy()?.counts(),
        duplicates_logged,
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
