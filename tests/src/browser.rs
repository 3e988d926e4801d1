//! Headless Chromium (Debian's `chromium`) driven through `chromedriver` on a
//! loopback port, for clicking through pages as a person would.

use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use tokio::process::{Child, Command};

use crate::peer::free_port;
use crate::{Result, artifacts_dir};

/// A browser session. Call [`Browser::close`] at the end; dropping it kills chromedriver.
#[derive(Debug)]
pub struct Browser {
    pub client: Client,
    _driver: Child,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile.
    pub async fn start() -> Result<Self> {
        let port = free_port()?;
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|err| format!("cannot run chromedriver ({err}); run scripts/ensure-chromium.sh (make test does)"))?;
        let url = format!("http://127.0.0.1:{port}");
        wait_for_driver(&url).await?;
        let profile = artifacts_dir()?.join(format!("chromium-profile-{port}"));
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=900,1000",
                    format!("--user-data-dir={}", profile.display()),
                ]
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            return Err("capabilities are not an object".into());
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&url)
            .await?;
        Ok(Self {
            client,
            _driver: driver,
        })
    }

    /// Saves a PNG screenshot under `tests/artifacts/`; returns its path.
    pub async fn screenshot(&self, name: &str) -> Result<std::path::PathBuf> {
        let path = artifacts_dir()?.join(name);
        std::fs::write(&path, self.client.screenshot().await?)?;
        Ok(path)
    }

    pub async fn close(self) -> Result<()> {
        self.client.close().await?;
        Ok(())
    }
}

async fn wait_for_driver(url: &str) -> Result<()> {
    let status = format!("{url}/status");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let probe = status.clone();
        if tokio::task::spawn_blocking(move || ureq::get(&probe).call().is_ok()).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("chromedriver did not answer within 20 s".into())
}
