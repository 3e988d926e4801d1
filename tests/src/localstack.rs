//! The local peer for Step Functions activities: localstack-core in host mode
//! (a Python process, no Docker) on a free loopback port, stopped when dropped.
//!
//! moto does not implement `GetActivityTask` (docs/local-peers.md); localstack's Step
//! Functions interpreter runs activity tasks and long-polls `GetActivityTask`
//! for 60 s. Only Step Functions (and `EventBridge`, which receives the
//! interpreter's status events) are loaded. Nothing reaches the network: no
//! DNS server, no analytics, no certificate download, and the gateway binds
//! 127.0.0.1 only.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::SdkConfig;

use crate::peer::{kill_and_reap, log_tail, on_a_free_port, run_install_script};
use crate::{Result, artifacts_dir, workspace_root};

/// The account localstack puts in every ARN.
pub const ACCOUNT: &str = "000000000000";
/// How long localstack may take to start (about 5–10 s here; slower under load).
const START_LIMIT: Duration = Duration::from_secs(90);

/// A running localstack. Dropping it kills the process and removes its files.
#[derive(Debug)]
pub struct LocalStack {
    endpoint: String,
    child: Child,
    log: PathBuf,
    filesystem: PathBuf,
}

impl LocalStack {
    /// Installs localstack when missing (`make localstack`), starts it and waits
    /// until Step Functions runs. Fails loudly, never skips: a test that needs
    /// the peer cannot pass without it.
    pub fn start() -> Result<Self> {
        // Installs it once (about 1.5 minutes).
        run_install_script(
            "scripts/ensure-localstack.sh",
            "localstack could not be installed (`make localstack` shows why)",
        )?;
        on_a_free_port("the activity peer (localstack)", Self::start_once)
    }

    fn start_once(port: u16) -> Result<Self> {
        let listen = format!("127.0.0.1:{port}");
        let log = artifacts_dir()?.join(format!("localstack-{port}.log"));
        let log_file = File::create(&log)?;
        let filesystem = std::env::temp_dir().join(format!(
            "sfn-callback-localstack-{}-{port}",
            std::process::id()
        ));
        std::fs::create_dir_all(&filesystem)?;
        let python = workspace_root().join(".venv-localstack/bin/python");
        let child = Command::new(&python)
            .args(["-m", "localstack.runtime.main"])
            // Nothing from the caller's environment (AWS_*, DEBUG, SERVICES, an
            // auth token) may change what runs.
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default())
            // Its own state and caches (plux's entry point index) stay in one folder.
            .env("FILESYSTEM_ROOT", &filesystem)
            .env("XDG_CACHE_HOME", filesystem.join("cache"))
            // The default server (twisted) binds 0.0.0.0 whatever GATEWAY_LISTEN
            // says; hypercorn binds the address given.
            .env("GATEWAY_SERVER", "hypercorn")
            .env("GATEWAY_LISTEN", &listen)
            .env("LOCALSTACK_HOST", &listen)
            .env("SERVICES", "stepfunctions,events")
            .env("EAGER_SERVICE_LOADING", "1")
            // No DNS server on port 53, no analytics, no certificate download.
            .env("DNS_ADDRESS", "0")
            .env("DISABLE_EVENTS", "1")
            .env("SKIP_SSL_CERT_DOWNLOAD", "1")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()
            .map_err(|err| {
                let _ = std::fs::remove_dir_all(&filesystem);
                format!(
                    "cannot run {}: {err} (remove .venv-localstack and run `make localstack`)",
                    python.display()
                )
            })?;
        let mut peer = Self {
            endpoint: format!("http://{listen}"),
            child,
            log,
            filesystem,
        };
        peer.wait_ready(START_LIMIT)?;
        Ok(peer)
    }

    /// Waits until the health endpoint reports Step Functions running.
    fn wait_ready(&mut self, limit: Duration) -> Result<()> {
        let started = Instant::now();
        let health = format!("{}/_localstack/health", self.endpoint);
        while started.elapsed() < limit {
            if let Some(status) = self.child.try_wait()? {
                return Err(format!(
                    "localstack exited with {status}; log {}:\n{}",
                    self.log.display(),
                    self.log_tail()
                )
                .into());
            }
            let running = ureq::get(&health)
                .call()
                .ok()
                .and_then(|mut answer| answer.body_mut().read_to_string().ok())
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .is_some_and(|health| health["services"]["stepfunctions"] == "running");
            if running {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err(format!(
            "localstack did not run Step Functions within {limit:?}; log {}:\n{}",
            self.log.display(),
            self.log_tail()
        )
        .into())
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// localstack's own log (requests, errors), for a failed test's message.
    pub fn log_path(&self) -> &std::path::Path {
        &self.log
    }

    /// An SDK config that points every client at this peer with test credentials.
    pub async fn sdk_config(&self) -> SdkConfig {
        crate::peer::local_sdk_config(&self.endpoint).await
    }

    /// The environment a worker or CLI process needs to reach this peer.
    pub fn process_env(&self) -> Vec<(String, String)> {
        crate::peer::local_process_env(&self.endpoint)
    }

    fn log_tail(&self) -> String {
        log_tail(&self.log, 25)
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        // SIGKILL: on SIGTERM localstack takes seconds to stop its services.
        kill_and_reap(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.filesystem);
    }
}
