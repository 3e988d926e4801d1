//! The local AWS peer: a moto server on a free loopback port, with its Step
//! Functions interpreter switched on, stopped when dropped.

use std::fs::File;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sqs::config::{Credentials, Region};

use crate::{Result, artifacts_dir, workspace_root};

/// The SDK clients the tests and the demo drive a local peer with.
#[derive(Debug, Clone)]
pub struct Clients {
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub sns: aws_sdk_sns::Client,
}

/// A running moto server. Dropping it kills the process.
#[derive(Debug)]
pub struct LocalAws {
    endpoint: String,
    child: Child,
    log: PathBuf,
}

impl LocalAws {
    /// Installs moto when missing, starts it and switches its interpreter on.
    /// Fails loudly, never skips: a test that needs the peer cannot pass without it.
    pub fn start() -> Result<Self> {
        run_install_script("scripts/ensure-venv.sh", "moto could not be installed")?;
        on_a_free_port("the local AWS peer (moto)", Self::start_once)
    }

    fn start_once(port: u16) -> Result<Self> {
        let log = artifacts_dir()?.join(format!("moto-{port}.log"));
        let log_file = File::create(&log)?;
        let moto = workspace_root().join(".venv/bin/moto_server");
        let child = Command::new(&moto)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            // Its interpreter calls SQS and SNS back on this port.
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .map_err(|err| format!("cannot run {}: {err}", moto.display()))?;
        let mut peer = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
            log,
        };
        peer.wait_ready(Duration::from_secs(30))?;
        peer.configure(
            r#"{"stepfunctions":{"execute_state_machine":true},"lambda":{"use_docker":false}}"#,
        )?;
        Ok(peer)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!("moto exited with {status}; log: {}", self.log_tail()).into());
            }
            if ureq::get(format!("{}/moto-api/data.json", self.endpoint))
                .call()
                .is_ok()
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!(
            "moto did not answer within {limit:?}; log: {}",
            self.log_tail()
        )
        .into())
    }

    fn configure(&self, config: &str) -> Result<()> {
        ureq::post(format!("{}/moto-api/config", self.endpoint))
            .header("Content-Type", "application/json")
            .send(config)?;
        Ok(())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Everything moto keeps, as JSON (SES messages live under `ses.Message`).
    pub fn data(&self) -> Result<serde_json::Value> {
        let text = ureq::get(format!("{}/moto-api/data.json", self.endpoint))
            .call()?
            .body_mut()
            .read_to_string()?;
        Ok(serde_json::from_str(&text)?)
    }

    /// Runs `tests/support/moto_setup.py COMMAND ARGUMENT` (boto3) against this peer,
    /// for set-up calls of services the Rust tests do not otherwise use.
    pub fn setup(&self, command: &str, argument: &str) -> Result<String> {
        let root = workspace_root();
        let output = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/support/moto_setup.py"))
            .args([self.endpoint.as_str(), command, argument])
            .stdin(Stdio::null())
            .output()?;
        if !output.status.success() {
            return Err(format!(
                "moto set-up {command} {argument} failed: {}",
                String::from_utf8_lossy(&output.stderr)
            )
            .into());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// An SDK config that points every client at this peer with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        local_sdk_config(&self.endpoint).await
    }

    /// Step Functions, SQS and SNS clients pointed at this peer.
    pub async fn clients(&self) -> Clients {
        let config = self.sdk_config().await;
        Clients {
            sfn: aws_sdk_sfn::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            sns: aws_sdk_sns::Client::new(&config),
        }
    }

    /// The environment a function process needs to reach this peer.
    pub fn function_env(&self) -> Vec<(String, String)> {
        local_process_env(&self.endpoint)
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log, 15)
    }
}

impl Drop for LocalAws {
    fn drop(&mut self) {
        // SIGKILL: moto takes seconds to exit on SIGTERM.
        kill_and_reap(&mut self.child);
    }
}

/// An SDK config for a local peer at `endpoint`, with test credentials.
pub async fn local_sdk_config(endpoint: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "local-peer",
        ))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// The environment a process (a function, a worker, the CLI) needs to reach a
/// local peer at `endpoint`.
pub fn local_process_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// Runs one of the project's install scripts (`scripts/ensure-*.sh`), which
/// install a peer into its git-ignored venv once; `failure` says what it means.
pub(crate) fn run_install_script(script: &str, failure: &str) -> Result<()> {
    let script = workspace_root().join(script);
    let status = Command::new("bash")
        .arg(&script)
        .stdin(Stdio::null())
        .status()
        .map_err(|err| format!("cannot run {}: {err}", script.display()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{} failed ({status}): {failure}", script.display()).into())
    }
}

/// Starts a peer with `start_once(port)` on a free loopback port, trying up to
/// three ports: one can be taken between our probe and the peer's bind.
pub(crate) fn on_a_free_port<T>(peer: &str, start_once: impl Fn(u16) -> Result<T>) -> Result<T> {
    let mut last_error = String::new();
    for _ in 0..3 {
        match start_once(free_port()?) {
            Ok(peer) => return Ok(peer),
            Err(err) => last_error = err.to_string(),
        }
    }
    Err(format!("{peer} could not start: {last_error}").into())
}

/// Stops a peer's process at once (SIGKILL) and reaps it; a process already
/// gone is no error.
pub(crate) fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `lines` lines of a peer's log, for a failed start's message.
pub(crate) fn log_tail(log: &std::path::Path, lines: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(lines).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
