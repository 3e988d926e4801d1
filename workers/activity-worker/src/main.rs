//! `activity-worker`: polls a Step Functions activity and runs the example work
//! (`checksum`, shared with the `sqs-worker` example) for each task, until SIGTERM or Ctrl-C.
//! Exits 0 after a shutdown, 1 when a setting is bad or Step Functions refused
//! to hand out the activity's tasks (an unknown activity, no permission).

use std::process::ExitCode;

use sfn_callback::ActivityWorker;
use sfn_callback::config::ActivitySettings;
use sfn_callback::{CallbackClient, config::Config};

// The example work is the `sqs-worker` example's: one copy, outside the library.
#[path = "../../../functions/sqs-worker/src/checksum.rs"]
mod checksum;

use crate::checksum::checksum;

#[tokio::main]
async fn main() -> Result<ExitCode, Box<dyn std::error::Error>> {
    sfn_callback::logging::init();
    let settings = ActivitySettings::from_env()?;
    let activity = settings.activity_arn.clone();
    let client = CallbackClient::from_env(Config::from_env()?.retry).await;
    let report = ActivityWorker::new(client, checksum, settings)
        .run(shutdown_signal())
        .await;
    if report.not_completed > 0 {
        eprintln!(
            "{} task(s) were not completed; see the log",
            report.not_completed
        );
    }
    if let Some(refusal) = report.refused_poll {
        eprintln!(
            "activity-worker stopped: GetActivityTask for {activity} was refused ({refusal}). \
             Check ACTIVITY_ARN, its region and account, and the worker's IAM permissions."
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// SIGTERM (ECS, systemd) or Ctrl-C.
async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending::<()>().await,
            }
        } => {}
    }
}
