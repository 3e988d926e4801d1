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

/// The crates a manifest's `[dependencies]` names.
fn dependencies(manifest: &str) -> Vec<String> {
    section(manifest, "dependencies")
        .into_iter()
        .filter_map(|(key, _)| key.split('.').next().map(str::to_owned))
        .collect()
}

/// What only the approval crate may depend on.
const APPROVAL_ONLY: [&str; 7] = [
    "lambda_http",
    "aws-sdk-sesv2",
    "aws-sdk-secretsmanager",
    "chacha20poly1305",
    "miniz_oxide",
    "base64",
    "form_urlencoded",
];

#[test]
fn the_core_library_has_no_approval_feature_and_none_of_its_dependencies() -> Result<()> {
    let manifest = std::fs::read_to_string(workspace_root().join("shared/Cargo.toml"))?;
    let features = section(&manifest, "features");
    assert!(
        features.iter().all(|(name, _)| name != "approval"),
        "{features:?}"
    );
    let core = dependencies(&manifest);
    for dependency in APPROVAL_ONLY {
        assert!(
            !core.iter().any(|name| name == dependency),
            "the core depends on {dependency}"
        );
    }
    let approval = std::fs::read_to_string(workspace_root().join("approval/Cargo.toml"))?;
    let approval = dependencies(&approval);
    for dependency in APPROVAL_ONLY {
        assert!(
            approval.iter().any(|name| name == dependency),
            "{dependency}"
        );
    }
    Ok(())
}

#[test]
fn only_the_approval_functions_and_the_cli_pay_for_the_approval_crate() -> Result<()> {
    let root = workspace_root();
    let mut packages = vec![root.join("cli")];
    for group in ["functions", "workers"] {
        for entry in std::fs::read_dir(root.join(group))? {
            packages.push(entry?.path());
        }
    }
    let mut users = Vec::new();
    for package in packages {
        let manifest = std::fs::read_to_string(package.join("Cargo.toml"))?;
        if dependencies(&manifest)
            .iter()
            .any(|name| name == "sfn-callback-approval")
        {
            users.extend(
                package
                    .file_name()
                    .map(|name| name.to_string_lossy().into_owned()),
            );
        }
    }
    users.sort();
    assert_eq!(users, ["approval-http", "approval-notifier", "cli"]);
    Ok(())
}
