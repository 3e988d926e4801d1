//! Activities: `activity-worker` long-polls a Step Functions activity on
//! localstack (moto has no `GetActivityTask`), works, completes, and stops
//! cleanly on SIGTERM. Shown when localstack is installed (`make localstack`).

use std::process::Stdio;
use std::time::Duration;

use serde_json::json;
use sfn_callback_tests::activity_pattern::ActivityPattern;
use sfn_callback_tests::localstack::LocalStack;
use sfn_callback_tests::{Result, artifacts_dir, built_binary, statemachine, workspace_root};

pub async fn run() -> Result<()> {
    let installed =
        std::fs::read_dir(workspace_root().join(".venv-localstack")).is_ok_and(|entries| {
            entries
                .flatten()
                .any(|e| e.file_name().to_string_lossy().starts_with(".installed-"))
        });
    if !installed {
        println!(
            "localstack is not installed: run `make localstack` (about 1.5 minutes, once) to see this part."
        );
        return Ok(());
    }
    println!(
        "Starting localstack in host mode (loopback only), an activity and its state machine ..."
    );
    let peer = LocalStack::start()?;
    let sfn = aws_sdk_sfn::Client::new(&peer.sdk_config().await);
    let ActivityPattern {
        activity,
        state_machine,
    } = ActivityPattern::create(&sfn, "demo-activity").await?;

    let log = artifacts_dir()?.join("demo-activity-worker.log");
    let mut worker = tokio::process::Command::new(built_binary("activity-worker")?)
        .env_clear()
        .envs(peer.process_env())
        .env("ACTIVITY_ARN", &activity)
        .env("WORKER_NAME", "demo-worker")
        .env("POLLERS", "2")
        .env("GRACE_SECONDS", "5")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&log)?)
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    println!(
        "activity-worker polls with 2 pollers (log: {}) ...",
        log.display()
    );

    let mut executions = Vec::new();
    for (name, input) in [
        ("with-data", json!({"data": [1, 2, 3]})),
        ("without-data", json!({})),
    ] {
        executions.push((
            name,
            statemachine::start(&sfn, &state_machine, name, &input).await?,
        ));
    }
    for (_, execution) in &executions {
        statemachine::wait_finished(&sfn, execution, Duration::from_secs(30)).await?;
    }
    crate::print_executions(&sfn, &executions).await;

    println!(
        "SIGTERM: the worker stops polling, lets in-flight work finish, and exits once its open polls end (up to 60 s) ..."
    );
    let pid = worker.id().ok_or("the worker has no pid")?;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()?;
    let status = tokio::time::timeout(Duration::from_secs(90), worker.wait()).await??;
    println!("  activity-worker exited with {status}");
    Ok(())
}
