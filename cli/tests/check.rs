//! `sfn-callback check` run as a process on the fixtures in
//! `tests/fixtures/check/`: every rule fired and not fired, in both query
//! languages, and the repository's own state machines.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/check")
}

/// Runs `sfn-callback check` in the fixtures folder, so origins read as file names.
fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sfn-callback"))
        .arg("check")
        .args(args)
        .current_dir(fixtures())
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Checks that stdout holds `needle`, showing it if not.
#[track_caller]
fn assert_printed(output: &Output, needle: &str) {
    let stdout = stdout(output);
    assert!(stdout.contains(needle), "{stdout}");
}

/// `(origin:path, severity, rule)` of every finding printed.
fn findings(output: &Output) -> BTreeSet<(String, String, String)> {
    stdout(output)
        .lines()
        .filter_map(|line| {
            let (place, rest) = line.split_once(": ")?;
            let (severity, rule) = rest.split_once(": ")?.0.split_once('[')?;
            Some((
                place.to_owned(),
                severity.to_owned(),
                rule.trim_end_matches(']').to_owned(),
            ))
        })
        .collect()
}

fn expected(origin: &str, rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(path, severity, rule)| {
            (
                format!("{origin}:{path}"),
                (*severity).to_owned(),
                (*rule).to_owned(),
            )
        })
        .collect()
}

/// The findings each `*-fires` fixture must give: one state per rule.
fn fired(origin: &str) -> BTreeSet<(String, String, String)> {
    expected(
        origin,
        &[
            ("$.States.NoTimeout", "error", "callback-without-timeout"),
            ("$.States.NoToken", "error", "token-not-passed"),
            // The token reference as a plain value: JSONPath without `.$` on
            // the key, JSONata outside `{% ... %}`; the literal text is sent.
            (
                "$.States.TokenSentAsLiteralText",
                "error",
                "token-not-passed",
            ),
            (
                "$.States.WorkerWithoutHeartbeat",
                "warning",
                "heartbeat-missing",
            ),
            (
                "$.States.HeartbeatNotBelowTimeout",
                "warning",
                "heartbeat-not-below-timeout",
            ),
            (
                "$.States.InParallel.Branches[0].States.Approval",
                "warning",
                "approval-rejection-not-caught",
            ),
            (
                "$.States.InParallel.Branches[0].States.Approval",
                "warning",
                "approval-decision-not-checked",
            ),
            (
                "$.States.InMap.ItemProcessor.States.TimeoutUnhandled",
                "info",
                "timeout-not-handled",
            ),
        ],
    )
}

/// Checks that `output` printed exactly the findings `want`.
#[track_caller]
fn assert_findings(output: &Output, want: &BTreeSet<(String, String, String)>) {
    assert_eq!(&findings(output), want, "{}", stdout(output));
}

/// Checks that `check FILE` finds nothing and exits 0.
#[track_caller]
fn assert_clean(file: &str) {
    let output = check(&[file]);
    assert_findings(&output, &BTreeSet::new());
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn every_jsonpath_rule_fires_on_the_state_that_breaks_it() {
    let file = "jsonpath-fires.asl.json";
    assert_findings(&check(&[file]), &fired(file));
}

#[test]
fn every_jsonata_rule_fires_on_the_state_that_breaks_it() {
    let file = "jsonata-fires.asl.json";
    assert_findings(&check(&[file]), &fired(file));
}

#[test]
fn no_jsonpath_rule_fires_on_states_done_right() {
    assert_clean("jsonpath-passes.asl.json");
}

#[test]
fn no_jsonata_rule_fires_on_states_done_right() {
    assert_clean("jsonata-passes.asl.json");
}

#[test]
fn any_error_exits_1() {
    let output = check(&["jsonpath-passes.asl.json", "jsonata-fires.asl.json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_printed(&output, "3 error(s), 4 warning(s), 1 note(s)");
}

#[test]
fn warnings_and_notes_alone_exit_0() {
    let output = check(&["--template", "template.yaml"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn a_diagnostic_names_file_state_path_severity_rule_and_a_fix() {
    let output = check(&["jsonpath-fires.asl.json"]);
    let text = stdout(&output);
    let at = text
        .find("jsonpath-fires.asl.json:$.States.NoTimeout: error[callback-without-timeout]: ")
        .unwrap();
    let next_line = text[at..].lines().nth(1).unwrap();
    assert!(
        next_line.starts_with("  help: set \"TimeoutSeconds\""),
        "{next_line}"
    );
}

#[test]
fn bare_placeholders_are_read_as_set_but_unknown_values() {
    assert_clean("placeholders.asl.json");
}

#[test]
fn a_template_s_substitutions_are_applied_before_checking() {
    let alone = check(&["template-machine.asl.json"]);
    let output = check(&["--template", "template.yaml"]);

    assert_findings(&alone, &BTreeSet::new());
    let mut want = expected(
        "template-machine.asl.json",
        &[("$.States.DoWork", "warning", "heartbeat-not-below-timeout")],
    );
    want.extend(expected(
        "template.yaml#Inline",
        &[
            ("$.States.Ask", "warning", "approval-rejection-not-caught"),
            ("$.States.Ask", "warning", "approval-decision-not-checked"),
        ],
    ));
    assert_findings(&output, &want);
}

#[test]
fn an_unreadable_definition_exits_2() {
    let output = check(&["missing.asl.json"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("missing.asl.json"));
}

#[test]
fn the_repository_state_machines_and_template_have_no_error() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("statemachines"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".asl.json"))
        .collect();
    files.sort();
    let output = Command::new(env!("CARGO_BIN_EXE_sfn-callback"))
        .arg("check")
        .args(&files)
        .arg("--template")
        .arg(root.join("template.yaml"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_printed(
        &output,
        "checked 10 state machine definition(s): 0 error(s)",
    );
}
