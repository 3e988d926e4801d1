//! Static checks of the workspace that guard deployed behaviour.

use sfn_callback_tests::{Result, workspace_root};

/// The `key = value` lines of one `[section]` of a TOML file.
fn section(text: &str, name: &str) -> Vec<(String, String)> {
    let header = format!("[{name}]");
    text.lines()
        .skip_while(|line| line.trim() != header)
        .skip(1)
        .take_while(|line| !line.trim_start().starts_with('['))
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
        .collect()
}

#[test]
fn release_profile_keeps_unwinding_so_a_panicking_record_fails_alone() -> Result<()> {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))?;
    let release = section(&manifest, "profile.release");
    // cargo-lambda's release defaults switch to abort; the profile must name unwind.
    assert!(
        release.contains(&("panic".to_owned(), "unwind".to_owned())),
        "{release:?}"
    );
    // And the library refuses to compile with abort, whatever a build tool sets.
    let lib = std::fs::read_to_string(workspace_root().join("shared/src/lib.rs"))?;
    assert!(lib.contains("#[cfg(not(panic = \"unwind\"))]\ncompile_error!"));
    Ok(())
}

#[test]
fn only_the_approval_functions_pay_for_the_approval_dependencies() -> Result<()> {
    for function in ["sqs-callback", "sns-callback", "sqs-worker"] {
        let manifest = std::fs::read_to_string(
            workspace_root().join(format!("functions/{function}/Cargo.toml")),
        )?;
        assert!(
            !manifest.contains("approval"),
            "{function} enables the approval feature"
        );
    }
    Ok(())
}
