//! The one table, and the results file with the machine's description.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use sfn_callback_tests::{Result, workspace_root};

use crate::approval::ApprovalLatency;
use crate::coldstart::{ColdStarts, FirstInvocations, mib};
use crate::latency::{BatchLatency, PeakRss};
use crate::size::Size;
use crate::stats::{Samples, Spread};
use crate::subjects::{FUNCTIONS, HELLO, PYTHON};
use crate::throughput::Throughput;

/// The targets of issues 7 and 13, each a bound of one row's measure.
struct Targets {
    /// sqs-callback's cold start, at most this many times hello's.
    cold_vs_hello: f64,
    /// The answer to a first one-record batch, at most this many times hello's.
    first_answer_vs_hello: f64,
    /// sqs-callback's cold start at least this many times faster than Python's.
    cold_python_factor: f64,
    /// A batch of 10 at most this many times a batch of 1.
    batch_ratio: f64,
    /// Peak RSS after a batch of 10 × 256 KiB outputs, at most this many MiB.
    rss_mib: f64,
    /// Callbacks per second, at least this share of direct SDK calls.
    throughput_share: f64,
    /// Each stripped arm64 binary, at most this many MiB.
    arm64_mib: f64,
}

const TARGETS: Targets = Targets {
    cold_vs_hello: 1.5,
    first_answer_vs_hello: 2.0,
    cold_python_factor: 10.0,
    batch_ratio: 1.3,
    rss_mib: 32.0,
    throughput_share: 0.9,
    arm64_mib: 8.0,
};

/// Everything one run measured; parts left out by `BENCH_ONLY` are `None`.
#[derive(Debug, Default)]
pub struct Results {
    pub cold: Option<ColdStarts>,
    pub first: Option<FirstInvocations>,
    pub latency: Option<(BatchLatency, BatchLatency)>,
    pub rss: Option<(PeakRss, PeakRss)>,
    pub throughput: Option<Throughput>,
    pub approval: Option<ApprovalLatency>,
    pub sizes: Option<Vec<Size>>,
    pub elapsed: Duration,
    pub quick: bool,
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**MISSED**" }
}

#[allow(clippy::cast_precision_loss)]
fn mib_of(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

impl Results {
    /// The markdown table printed and written.
    pub fn table(&self) -> String {
        let mut rows: Vec<Row> = Vec::new();
        if let Some(cold) = &self.cold {
            cold_rows(cold, &mut rows);
        }
        if let Some(first) = &self.first {
            first_rows(first, &mut rows);
        }
        if let Some((ours, python)) = &self.latency {
            latency_rows(ours, python, &mut rows);
        }
        if let Some((ours, python)) = &self.rss {
            let peak = ours.after_batch.median();
            rows.push([
                "peak RSS, 10 records × 256 KiB output: sqs-callback".into(),
                format!("{peak:.1} MiB"),
                format!(
                    "after init {:.1} MiB; Python baseline {:.1} MiB",
                    ours.after_init.median(),
                    python.after_batch.median()
                ),
                format!("{:.2}× Python", peak / python.after_batch.median()),
                format!("≤ {} MiB", TARGETS.rss_mib),
                verdict(peak <= TARGETS.rss_mib).into(),
            ]);
        }
        if let Some(throughput) = &self.throughput {
            let share = throughput.ratio.median();
            rows.push([
                "throughput against moto, batches of 10: one sqs-callback".into(),
                format!("{:.0} callbacks/s", throughput.ours.median()),
                format!(
                    "moto's own rate, direct SDK calls 10 at a time: {:.0}/s",
                    throughput.direct.median()
                ),
                format!("{:.0}%", share * 100.0),
                format!("≥ {:.0}%", TARGETS.throughput_share * 100.0),
                verdict(share >= TARGETS.throughput_share).into(),
            ]);
        }
        if let Some(approval) = &self.approval {
            approval_rows(approval, &mut rows);
        }
        if let Some(sizes) = &self.sizes {
            size_rows(sizes, &mut rows);
        }
        let mut table = String::from(
            "| measure | ours | compared with | ratio | target | verdict |\n|---|---|---|---|---|---|\n",
        );
        for row in rows {
            let _ = writeln!(table, "| {} |", row.join(" | "));
        }
        table
    }

    /// Writes `bench/results/<date>.md`; returns its path.
    pub fn write(&self, table: &str) -> Result<PathBuf> {
        let dir = workspace_root().join("bench/results");
        std::fs::create_dir_all(&dir)?;
        let date = crate::machine::today();
        let path = dir.join(format!("{date}.md"));
        let mut text = format!(
            "# Benchmark, {date}\n\nCommit `{}`. `make bench` measured for {:.0} s{}.\n\n## Results\n\n{table}\n",
            crate::machine::commit(),
            self.elapsed.as_secs_f64(),
            if self.quick {
                " with BENCH_QUICK=1 (few runs: indicative only)"
            } else {
                ""
            }
        );
        text.push_str("## Machine\n\n");
        for line in crate::machine::describe() {
            text.push_str(&line);
            text.push('\n');
        }
        text.push_str("\n## Details\n\nEach figure: median (min–max, n=runs).\n\n");
        self.details(&mut text);
        text.push_str(METHOD);
        std::fs::write(&path, text)?;
        Ok(path)
    }

    fn details(&self, text: &mut String) {
        if let Some(cold) = &self.cold {
            text.push_str(
                "Cold start, exec to first `/invocation/next` (ms), and peak RSS then (MiB):\n\n",
            );
            for (name, samples) in &cold.millis {
                let rss = cold.rss_mib.get(name).cloned().unwrap_or_default();
                let _ = write!(
                    text,
                    "- {name}: {} ms; {} MiB",
                    Spread(samples, 2),
                    Spread(&rss, 1)
                );
                match cold.ratio_to_hello.get(name) {
                    Some(ratios) => {
                        let _ = writeln!(text, "; paired ratio to hello {}", Spread(ratios, 2));
                    }
                    None => text.push('\n'),
                }
            }
            text.push('\n');
        }
        if let Some(first) = &self.first {
            text.push_str("Exec to the answer of a first one-record batch (ms):\n\n");
            for (name, samples) in &first.millis {
                let _ = writeln!(text, "- {name}: {}", Spread(samples, 2));
            }
            let _ = writeln!(
                text,
                "- sqs-callback / hello, paired: {}\n",
                Spread(&first.ratio_to_hello, 2)
            );
        }
        if let Some((ours, python)) = &self.latency {
            ours_and_python(
                text,
                "Batch wall time through the Runtime API, SendTaskSuccess answered after 50 ms (ms):",
                [ours, python],
                |latency| {
                    let (one, ten) = (Spread(&latency.one, 1), Spread(&latency.ten, 1));
                    format!("1 record {one}; 10 records {ten}")
                },
            );
        }
        if let Some((ours, python)) = &self.rss {
            ours_and_python(
                text,
                "Peak RSS, fresh instance, one batch of 10 × 256 KiB outputs (MiB):",
                [ours, python],
                |rss| {
                    let (init, batch) = (Spread(&rss.after_init, 1), Spread(&rss.after_batch, 1));
                    format!("after init {init}; after the batch {batch}")
                },
            );
        }
        if let Some(throughput) = &self.throughput {
            let _ = writeln!(
                text,
                "Throughput against moto, {} callbacks each side, per round (callbacks/s):\n\n- sqs-callback via the Runtime API: {}\n- direct SDK calls: {}\n- share: {}\n",
                throughput.callbacks_per_side,
                Spread(&throughput.ours, 0),
                Spread(&throughput.direct, 0),
                Spread(&throughput.ratio, 3)
            );
        }
        if let Some(approval) = &self.approval {
            let _ = writeln!(
                text,
                "Recorded approval page through approval-http against moto (ms):\n\n- GET, the confirmation page: {}\n- POST, the deciding vote with its SendTaskSuccess: {}\n",
                Spread(&approval.get, 1),
                Spread(&approval.post, 1)
            );
        }
        if let Some(sizes) = &self.sizes {
            text.push_str("Sizes (bytes):\n\n");
            for size in sizes {
                let _ = writeln!(
                    text,
                    "- {}: x86_64 {}, arm64 {}",
                    size.name,
                    size.x86_64
                        .map_or_else(|| "not built".into(), |b| b.to_string()),
                    size.arm64
                        .map_or_else(|| "not built".into(), |b| b.to_string())
                );
            }
            text.push('\n');
        }
    }
}

/// Appends a section: `heading`, then a line of sqs-callback's measurements and
/// one of the Python baseline's, each written by `line`.
fn ours_and_python<T>(
    text: &mut String,
    heading: &str,
    [ours, python]: [&T; 2],
    line: impl Fn(&T) -> String,
) {
    let _ = writeln!(text, "{heading}\n");
    for (name, measured) in [("sqs-callback", ours), (PYTHON, python)] {
        let _ = writeln!(text, "- {name}: {}", line(measured));
    }
    text.push('\n');
}

/// measure, ours, compared with, ratio, target, verdict.
type Row = [String; 6];

fn cold_rows(cold: &ColdStarts, rows: &mut Vec<Row>) {
    let hello = cold.median_ms(HELLO);
    rows.push([
        "cold start: hello (the floor)".into(),
        format!("{hello:.2} ms"),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
    ]);
    for name in FUNCTIONS {
        let ours = cold.median_ms(name);
        let ratio = cold.median_ratio_to_hello(name);
        rows.push([
            format!("cold start: {name}"),
            format!("{ours:.2} ms"),
            format!("hello {hello:.2} ms"),
            format!("{ratio:.2}×"),
            format!("≤ {}× hello", TARGETS.cold_vs_hello),
            verdict(ratio <= TARGETS.cold_vs_hello).into(),
        ]);
    }
    let python = cold.median_ms(PYTHON);
    let (slowest, slowest_ms) = FUNCTIONS
        .iter()
        .map(|name| (*name, cold.median_ms(name)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or(("none", f64::NAN));
    let factor = python / slowest_ms;
    rows.push([
        "cold start: Python 3 + boto3 baseline".into(),
        format!("{python:.0} ms"),
        format!("slowest of ours, {slowest}: {slowest_ms:.2} ms"),
        format!("ours {factor:.0}× faster"),
        format!("ours ≥ {}× faster", TARGETS.cold_python_factor),
        verdict(factor >= TARGETS.cold_python_factor).into(),
    ]);
}

fn first_rows(first: &FirstInvocations, rows: &mut Vec<Row>) {
    let median = |name: &str| first.millis.get(name).map_or(f64::NAN, Samples::median);
    let (hello, ours, python) = (median(HELLO), median("sqs-callback"), median(PYTHON));
    let ratio = first.ratio_to_hello.median();
    rows.push([
        "first answer: exec to the answer of a first 1-record batch: sqs-callback".into(),
        format!("{ours:.2} ms"),
        format!("hello {hello:.2} ms; Python baseline {python:.0} ms"),
        format!("{ratio:.2}× hello"),
        format!("≤ {}× hello", TARGETS.first_answer_vs_hello),
        verdict(ratio <= TARGETS.first_answer_vs_hello).into(),
    ]);
}

fn latency_rows(ours: &BatchLatency, python: &BatchLatency, rows: &mut Vec<Row>) {
    rows.push([
        "batch of 10 vs 1, SendTaskSuccess at 50 ms: sqs-callback".into(),
        format!("{:.1} ms", ours.ten.median()),
        format!("1 record {:.1} ms", ours.one.median()),
        format!("{:.2}×", ours.ratio()),
        format!("≤ {}×", TARGETS.batch_ratio),
        verdict(ours.ratio() <= TARGETS.batch_ratio).into(),
    ]);
    rows.push([
        "batch of 10 vs 1, SendTaskSuccess at 50 ms: Python baseline".into(),
        format!("{:.1} ms", python.ten.median()),
        format!("1 record {:.1} ms", python.one.median()),
        format!("{:.2}×", python.ratio()),
        "≈ 10× (sequential, as the samples)".into(),
        "reference".into(),
    ]);
}

/// Reported, with no target: moto's DynamoDB answers in milliseconds, so the
/// figures say how many calls a page makes more than how fast AWS would be.
fn approval_rows(approval: &ApprovalLatency, rows: &mut Vec<Row>) {
    for (what, samples) in [
        (
            "approval page GET (recorded mode): approval-http",
            &approval.get,
        ),
        (
            "approval vote POST, deciding, with SendTaskSuccess: approval-http",
            &approval.post,
        ),
    ] {
        rows.push([
            what.into(),
            format!("{:.1} ms median", samples.median()),
            format!(
                "p99 {:.1} ms (n={})",
                samples.percentile(99.0),
                samples.len()
            ),
            "-".into(),
            "reported".into(),
            "-".into(),
        ]);
    }
}

fn size_rows(sizes: &[Size], rows: &mut Vec<Row>) {
    for size in sizes {
        let arm64 = size.arm64.map_or_else(|| "not built".to_owned(), mib_of);
        let x86 = size.x86_64.map_or_else(|| "not built".to_owned(), mib_of);
        let (target, met) = if size.name == HELLO {
            ("(the floor)".to_owned(), String::new())
        } else {
            let met = size
                .arm64
                .is_some_and(|bytes| mib(bytes) <= TARGETS.arm64_mib && size.stripped);
            (
                format!("arm64 ≤ {} MiB", TARGETS.arm64_mib),
                verdict(met).to_owned(),
            )
        };
        rows.push([
            format!(
                "stripped bootstrap: {}{}",
                size.name,
                if size.stripped { "" } else { " (NOT stripped)" }
            ),
            format!("arm64 {arm64}"),
            format!("x86_64 {x86}"),
            String::new(),
            target,
            met,
        ]);
    }
}

const METHOD: &str = "## How each figure is measured

1. **Cold start**: the release binary is spawned behind the Runtime API emulator
   (`tests/src/runtime_api.rs`) with a clean environment, as Lambda starts it; the
   time runs from just before exec to the emulator receiving the first
   `GET /2018-06-01/runtime/invocation/next`. Rounds interleave every subject
   (order rotating), after one discarded warm-up start each; the ratio is the
   median of each round's function/hello ratio, so a busy moment of the shared
   machine falls on both sides of a comparison. `hello` is
   `bench/hello`, the smallest `lambda_runtime` function, same profile. The Python
   baseline is `bench/baseline/bootstrap.py` importing `handler.py`, which creates
   its boto3 Step Functions client at import, as Lambda's Python runtime would.
   The first-answer row runs the same starts on to the answer of a first
   one-record batch, against a stand-in endpoint that answers at once (no
   timer): work a function leaves out of Init, to do on its first call, shows
   there. The stand-in speaks plain HTTP on loopback, yet the function builds
   its whole HTTPS client on that call (connector, rustls configuration, root
   store: none depends on the endpoint's scheme); only the TLS handshake, which
   a real endpoint adds with DNS and network round trips, is left out.
2. **Batch latency**: one warm instance, invoked alternately with 1 and with 10
   callback records; a stand-in Step Functions endpoint in the bench answers each
   SendTaskSuccess `200 {}` after 50 ms. Wall time is invoke to answer through the
   Runtime API.
3. **Peak RSS**: `VmHWM` from `/proc/PID/status` of a fresh instance after one
   batch of 10 records whose outputs are exactly 262,144 bytes each, against the
   50 ms endpoint (all ten calls in flight at once).
4. **Throughput**: moto with its Step Functions interpreter on; real executions of
   `statemachines/sqs-callback.asl.json` wait on their tokens. Batch by batch,
   alternating, 10 tokens go through `sqs-callback` via the Runtime API and 10 are
   completed by direct SDK SendTaskSuccess calls, all 10 in flight (the same
   concurrency as the function's batch). Rate = callbacks / summed batch time; the
   share is ours / direct per round. Every execution is checked SUCCEEDED.
5. **Size**: the stripped release binaries: x86_64 from `make bench`'s
   `cargo build --release` of the functions, hello and the bench
   (`target/release/<bin>`), arm64 from `cargo lambda build --release --arm64` of
   the functions and hello (`target/lambda-arm64/<bin>/bootstrap`), the build a
   deployment makes. Both use the workspace release profile.
";
