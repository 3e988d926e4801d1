//! Measurement 1, cold start: from process exec to the first
//! `GET /runtime/invocation/next` on the Runtime API emulator, for every
//! function, the hello floor and the Python baseline, in interleaved rounds so
//! that the machine's noise falls on all of them alike.

use std::collections::BTreeMap;
use std::time::Duration;

use sfn_callback_tests::Result;

use crate::stats::Samples;
use crate::subjects::{FUNCTIONS, HELLO, Subject};

/// Nothing listens here: no function calls AWS during init.
const NO_ENDPOINT: &str = "http://127.0.0.1:1";

/// Cold starts and idle memory, per subject name.
#[derive(Debug, Default)]
pub struct ColdStarts {
    /// Milliseconds from exec to the first poll.
    pub millis: BTreeMap<&'static str, Samples>,
    /// Peak RSS at the first poll, in MiB.
    pub rss_mib: BTreeMap<&'static str, Samples>,
    /// Each function's cold start over hello's in the same round: the
    /// comparison, paired so that a busy moment of the machine falls on both.
    pub ratio_to_hello: BTreeMap<&'static str, Samples>,
}

impl ColdStarts {
    pub fn median_ms(&self, name: &str) -> f64 {
        self.millis.get(name).map_or(f64::NAN, Samples::median)
    }

    pub fn median_ratio_to_hello(&self, name: &str) -> f64 {
        self.ratio_to_hello
            .get(name)
            .map_or(f64::NAN, Samples::median)
    }
}

/// Runs `rounds` rounds (and `python_rounds` of them with Python, which is slow),
/// after one discarded warm-up start of each subject.
pub async fn measure(rounds: usize, python_rounds: usize) -> Result<ColdStarts> {
    let mut subjects: Vec<Subject> = vec![Subject::Binary(HELLO)];
    subjects.extend(FUNCTIONS.iter().map(|name| Subject::Binary(name)));
    subjects.push(Subject::Python);

    for subject in &subjects {
        once(*subject).await?;
    }
    let mut results = ColdStarts::default();
    for round in 0..rounds {
        let mut this_round: BTreeMap<&'static str, f64> = BTreeMap::new();
        for subject in round_order(&subjects, round, python_rounds) {
            let (elapsed, rss) = once(subject).await?;
            let ms = elapsed.as_secs_f64() * 1000.0;
            this_round.insert(subject.name(), ms);
            results.millis.entry(subject.name()).or_default().push(ms);
            results
                .rss_mib
                .entry(subject.name())
                .or_default()
                .push(mib(rss));
        }
        if let Some(hello) = this_round.get(HELLO).copied() {
            for name in FUNCTIONS {
                if let Some(ms) = this_round.get(name) {
                    results
                        .ratio_to_hello
                        .entry(name)
                        .or_default()
                        .push(ms / hello);
                }
            }
        }
    }
    Ok(results)
}

/// One cold start: spawn, wait for the first poll, read the peak RSS, stop.
async fn once(subject: Subject) -> Result<(Duration, u64)> {
    let lambda = subject.start(NO_ENDPOINT).await?;
    let first_poll = lambda
        .first_poll()
        .await
        .ok_or_else(|| format!("{} started without polling", subject.name()))?;
    let elapsed = first_poll.saturating_duration_since(lambda.spawned_at());
    let pid = lambda
        .pid()
        .ok_or_else(|| format!("{} exited after its first poll", subject.name()))?;
    let rss = crate::subjects::peak_rss(pid)?;
    crate::subjects::stop(lambda).await;
    Ok((elapsed, rss))
}

#[allow(clippy::cast_precision_loss)]
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The end-to-end view of a cold start: from exec to the answer of a first
/// one-record batch, against a peer that answers at once. Whatever a function
/// leaves out of Init (here, building the HTTPS client and its root store)
/// shows up here.
#[derive(Debug, Default)]
pub struct FirstInvocations {
    /// Milliseconds from exec to the first answer, per subject.
    pub millis: BTreeMap<&'static str, Samples>,
    /// sqs-callback over hello in the same round.
    pub ratio_to_hello: Samples,
}

/// `rounds` rounds of hello, `sqs-callback` and (for `python_rounds` of them)
/// the Python baseline, after one discarded warm-up each.
pub async fn measure_first_invocation(
    rounds: usize,
    python_rounds: usize,
) -> Result<FirstInvocations> {
    let peer = crate::endpoint::SlowSfn::start(Duration::ZERO).await?;
    let subjects = [
        Subject::Binary(HELLO),
        Subject::Binary("sqs-callback"),
        Subject::Python,
    ];
    for subject in subjects {
        first_invocation(subject, &peer.endpoint()).await?;
    }
    let mut results = FirstInvocations::default();
    for round in 0..rounds {
        let mut this_round: BTreeMap<&'static str, f64> = BTreeMap::new();
        for subject in round_order(&subjects, round, python_rounds) {
            let ms = first_invocation(subject, &peer.endpoint())
                .await?
                .as_secs_f64()
                * 1000.0;
            this_round.insert(subject.name(), ms);
            results.millis.entry(subject.name()).or_default().push(ms);
        }
        if let (Some(hello), Some(ours)) = (this_round.get(HELLO), this_round.get("sqs-callback")) {
            results.ratio_to_hello.push(ours / hello);
        }
    }
    Ok(results)
}

/// The subjects of round `round`: rotated so that no subject always runs first,
/// and without Python after its first `python_rounds` rounds (it is slow).
fn round_order(
    subjects: &[Subject],
    round: usize,
    python_rounds: usize,
) -> impl Iterator<Item = Subject> + '_ {
    (0..subjects.len())
        .map(move |k| subjects[(round + k) % subjects.len()])
        .filter(move |subject| *subject != Subject::Python || round < python_rounds)
}

async fn first_invocation(subject: Subject, endpoint: &str) -> Result<Duration> {
    let event = crate::subjects::sqs_event(&[crate::subjects::success_body(
        &crate::subjects::token("first"),
        &serde_json::json!({"ok": true}),
    )]);
    let mut lambda = subject.start(endpoint).await?;
    let answer = lambda.invoke(&event).await?;
    let elapsed = lambda.spawned_at().elapsed();
    if let sfn_callback_tests::runtime_api::Answer::Error { error_type, body } = answer {
        return Err(format!(
            "{}: first invocation failed: {error_type}: {body}",
            subject.name()
        )
        .into());
    }
    crate::subjects::stop(lambda).await;
    Ok(elapsed)
}
