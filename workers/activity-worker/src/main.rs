//! `activity-worker`: polls a Step Functions activity and runs the example work
//! (`sfn_callback::examples::checksum`) for each task, until SIGTERM or Ctrl-C.

use sfn_callback::activity::{ActivitySettings, ActivityWorker};
use sfn_callback::examples::checksum;
use sfn_callback::{CallbackClient, config::Config};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    sfn_callback::logging::init();
    let settings = ActivitySettings::from_env()?;
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
    Ok(())
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
