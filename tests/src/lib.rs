//! The test harness of sfn-callback: the local AWS peer (moto), a Lambda
//! Runtime API emulator that runs the built function binaries, an SQS event
//! source loop like Lambda's, a fault-injecting proxy, function instances
//! killed mid-invocation, helpers for state machines, one world per callback
//! pattern (`sqs_pattern`, `sns_pattern`, `worker_pattern`, `activity_pattern`),
//! the operator's view of what waits (`pending_pattern`), checks on a run
//! process's output (`process_output`)
//! and the loopback HTTP server the local stand-ins share (`loopback`).
//! What the tests rely on about the local peers: `docs/local-peers.md`.
//!
//! Used by the integration tests in `e2e/`, by the demo (`make demo`) and by the bench.

pub mod activity_pattern;
pub mod approval;
pub mod bootstraps;
pub mod browser;
pub mod event_source;
pub mod fault_proxy;
pub mod function_url;
pub mod instance_kill;
pub mod localstack;
pub mod loopback;
pub mod peer;
pub mod pending_pattern;
pub mod process_output;
pub mod runtime_api;
pub mod sns;
pub mod sns_pattern;
pub mod sqs_pattern;
pub mod statemachine;
pub mod tally;
pub mod worker_pattern;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Harness errors carry a message meant for the person reading a failed test.
pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T> = std::result::Result<T, Error>;

/// A failed AWS call as a harness error: what was called, then the SDK error
/// with its whole chain of causes (its own `Display` says only "service error").
pub fn aws_error<E: std::error::Error>(call: &str, err: E) -> Error {
    format!("{call}: {}", aws_sdk_sfn::error::DisplayErrorContext(err)).into()
}

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Where logs, screenshots and other test output go (git-ignored).
pub fn artifacts_dir() -> Result<PathBuf> {
    let dir = workspace_root().join("tests/artifacts");
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// The path of a binary built by `cargo build` into the same target directory
/// and profile as the running test or demo.
pub fn built_binary(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe
        .parent()
        .ok_or("the running executable has no folder")?
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    binary_in(
        &dir,
        name,
        "run `cargo build --workspace --bins` first (make test does)",
    )
}

/// The binary `name` in `dir`, or an error that says it is not built and
/// `how_to_build` it.
pub fn binary_in(dir: &Path, name: &str, how_to_build: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!("{} is not built: {how_to_build}", path.display()).into())
    }
}

/// Reads a fixture under `tests/fixtures/`, e.g. `sqs/mixed-batch.json`.
pub fn fixture(relative: &str) -> Result<serde_json::Value> {
    let path = workspace_root().join("tests/fixtures").join(relative);
    let text =
        std::fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Lowercase hex SHA-256 of `bytes`: what the checksum workers answer, computed
/// here independently of them.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}
