//! The bootstrap runner of `make build-sam` (`run-bootstraps`), driven here with
//! the debug binaries and no wrapper: the same code that runs the arm64
//! bootstraps under qemu-user. It passes every real function and fails loudly,
//! naming the function, for a bootstrap that cannot start, never asks for an
//! event, or does not complete the callback.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use sfn_callback_tests::bootstraps::{Bootstrap, Function, prove_all};
use sfn_callback_tests::{Result, artifacts_dir, built_binary};

fn built(function: Function) -> Result<Bootstrap> {
    Ok(Bootstrap {
        function,
        path: built_binary(function.binary())?,
    })
}

/// An executable file under `tests/artifacts` with `contents`.
fn executable_file(name: &str, contents: &[u8]) -> Result<PathBuf> {
    let path = artifacts_dir()?.join(format!("{name}-{}", std::process::id()));
    std::fs::write(&path, contents)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))?;
    Ok(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_function_reaches_next_and_sqs_callback_completes_a_callback() -> Result<()> {
    let bootstraps = Function::ALL
        .into_iter()
        .map(built)
        .collect::<Result<Vec<_>>>()?;

    let results = prove_all(&bootstraps, &[]).await?;

    assert_eq!(results.len(), Function::ALL.len());
    for (bootstrap, result) in bootstraps.iter().zip(results) {
        let proof = result?;
        assert_eq!(proof.function, bootstrap.function);
        assert_eq!(
            proof.completed_callback,
            bootstrap.function == Function::SqsCallback,
            "{proof}"
        );
    }
    Ok(())
}

#[test]
fn a_file_that_is_not_a_binary_fails_the_run_naming_its_function() -> Result<()> {
    let broken = executable_file("not-a-binary", b"\x7fELF but truncated\n")?;
    let good = built_binary("sns-callback")?;

    let output = Command::new(built_binary("run-bootstraps")?)
        .arg(format!("sqs-worker={}", broken.display()))
        .arg(format!("sns-callback={}", good.display()))
        .output()?;

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("FAILED sqs-worker") && stderr.contains("cannot run"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 bootstraps failed to run"),
        "{stderr}"
    );
    assert!(
        stdout.contains("sns-callback: reached /invocation/next"),
        "the good one still ran: {stdout}"
    );
    Ok(())
}

/// What proving `bootstrap` alone fails with; an error saying `passed` when it passes.
async fn failure_of(bootstrap: Bootstrap, passed: &str) -> Result<String> {
    let results = prove_all(&[bootstrap], &[]).await?;
    Ok(results
        .into_iter()
        .next()
        .ok_or("no result")?
        .err()
        .ok_or(passed)?
        .to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_that_never_asks_for_an_event_fails() -> Result<()> {
    let silent = executable_file("never-polls", b"#!/bin/sh\nexec sleep 60\n")?;
    let bootstrap = Bootstrap {
        function: Function::SqsWorker,
        path: silent,
    };

    let err = failure_of(bootstrap, "a bootstrap that never polls passed").await?;
    assert!(
        err.starts_with("sqs-worker") && err.contains("did not ask for an event"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrap_that_does_not_complete_the_callback_fails() -> Result<()> {
    // A packaging mix-up: another function's binary in sqs-callback's place
    // starts and polls, but cannot handle an SQS batch.
    let bootstrap = Bootstrap {
        function: Function::SqsCallback,
        path: built_binary("sns-callback")?,
    };

    let err = failure_of(bootstrap, "sns-callback passed as sqs-callback").await?;
    assert!(
        err.starts_with("sqs-callback") && err.contains("did not complete a callback"),
        "{err}"
    );
    Ok(())
}
