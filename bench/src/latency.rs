//! Measurement 2, batch latency: the wall time of a batch of 10 SQS callback
//! records against a peer that answers SendTaskSuccess after 50 ms, as a ratio
//! to a batch of one, for `sqs-callback` and for the Python baseline.
//!
//! Measurement 3, peak RSS: `sqs-callback` handling one batch of 10 records
//! whose outputs are 256 KiB each, against the same peer (all ten calls are in
//! flight at once, the worst case for memory).

use std::time::Duration;

use serde_json::json;
use sfn_callback_tests::Result;

use crate::coldstart::mib;
use crate::endpoint::SlowSfn;
use crate::stats::Samples;
use crate::subjects::{Subject, invoke_all_done, peak_rss, sqs_event, success_body, token};

/// The injected SendTaskSuccess latency.
pub const DELAY: Duration = Duration::from_millis(50);
/// SendTaskSuccess's `output` limit: 262,144 bytes.
pub const MAX_OUTPUT_BYTES: usize = 262_144;

/// Wall times of one subject, in milliseconds.
#[derive(Debug, Default)]
pub struct BatchLatency {
    pub one: Samples,
    pub ten: Samples,
}

impl BatchLatency {
    /// Median of ten over median of one.
    pub fn ratio(&self) -> f64 {
        self.ten.median() / self.one.median()
    }
}

/// `runs` pairs of invocations (1 record, 10 records) of one warm instance,
/// the order alternating, after a warm-up pair that is not counted.
pub async fn measure(subject: Subject, runs: usize) -> Result<BatchLatency> {
    let peer = SlowSfn::start(DELAY).await?;
    let mut lambda = subject.start(&peer.endpoint()).await?;
    let mut latency = BatchLatency::default();
    let output = json!({"ok": true});
    for run in 0..=runs {
        let one = sqs_event(&[success_body(&token(&format!("one-{run}")), &output)]);
        let ten = sqs_event(
            &(0..10)
                .map(|i| success_body(&token(&format!("ten-{run}-{i}")), &output))
                .collect::<Vec<_>>(),
        );
        let (t1, t10) = if run % 2 == 0 {
            let t1 = invoke_all_done(&mut lambda, &one).await?;
            (t1, invoke_all_done(&mut lambda, &ten).await?)
        } else {
            let t10 = invoke_all_done(&mut lambda, &ten).await?;
            (invoke_all_done(&mut lambda, &one).await?, t10)
        };
        if run > 0 {
            latency.one.push_duration(t1);
            latency.ten.push_duration(t10);
        }
    }
    crate::subjects::stop(lambda).await;
    let expected = u64::try_from((runs + 1) * 11)?;
    if peer.successes() != expected || peer.refused() != 0 {
        return Err(format!(
            "{}: the peer answered {} SendTaskSuccess calls (expected {expected}) and refused {}",
            subject.name(),
            peer.successes(),
            peer.refused()
        )
        .into());
    }
    Ok(latency)
}

/// Peak RSS of fresh instances after one batch of 10 maximal outputs, in MiB,
/// and, for comparison, after init alone.
#[derive(Debug, Default)]
pub struct PeakRss {
    pub after_batch: Samples,
    pub after_init: Samples,
}

/// `runs` fresh instances of `subject`, each handling one batch of 10 records
/// with 256 KiB outputs.
pub async fn peak_rss_of(subject: Subject, runs: usize) -> Result<PeakRss> {
    let peer = SlowSfn::start(DELAY).await?;
    // `{"data":"xxx…"}`: exactly the limit once serialised.
    let filler = "x".repeat(MAX_OUTPUT_BYTES - r#"{"data":""}"#.len());
    let output = json!({ "data": filler });
    debug_assert_eq!(output.to_string().len(), MAX_OUTPUT_BYTES);
    let mut rss = PeakRss::default();
    for run in 0..runs {
        let event = sqs_event(
            &(0..10)
                .map(|i| success_body(&token(&format!("rss-{run}-{i}")), &output))
                .collect::<Vec<_>>(),
        );
        let mut lambda = subject.start(&peer.endpoint()).await?;
        let pid = lambda.pid().ok_or("the function exited")?;
        rss.after_init.push(mib(peak_rss(pid)?));
        invoke_all_done(&mut lambda, &event).await?;
        rss.after_batch.push(mib(peak_rss(pid)?));
        crate::subjects::stop(lambda).await;
    }
    if peer.largest_body() < MAX_OUTPUT_BYTES {
        return Err(format!(
            "{}: the largest SendTaskSuccess body was {} bytes; the outputs did not arrive whole",
            subject.name(),
            peer.largest_body()
        )
        .into());
    }
    Ok(rss)
}
