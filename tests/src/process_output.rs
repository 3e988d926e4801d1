//! Checks on what a process run by a test printed and how it exited.

use std::process::Output;

/// Everything the process printed: stdout, then stderr.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Checks that the process exited with `code`, showing what it printed if not.
///
/// # Panics
/// When it did not: the test fails.
#[track_caller]
pub fn assert_exit_code(output: &Output, code: i32) {
    assert_eq!(output.status.code(), Some(code), "{}", text(output));
}

/// Checks that the process printed `needle`, showing what it printed if not.
///
/// # Panics
/// When it did not: the test fails.
#[track_caller]
pub fn assert_printed(output: &Output, needle: &str) {
    let text = text(output);
    assert!(text.contains(needle), "{text}");
}
