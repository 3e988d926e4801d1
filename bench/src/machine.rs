//! The machine a run was made on, for the results file.

use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// `nproc`, `free -h`, the CPU model, the kernel and rustc, as text lines.
pub fn describe() -> Vec<String> {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let mut lines = vec![
        format!("- CPU: {cpu}"),
        format!("- `nproc`: {cores}"),
        format!("- kernel: {}", output("uname", &["-srm"])),
        format!("- rustc: {}", output("rustc", &["--version"])),
        format!("- load average at the end: {}", load_average()),
        "- `free -h`:".to_owned(),
        String::new(),
        "```".to_owned(),
    ];
    lines.extend(output_untrimmed("free", &["-h"]).lines().map(str::to_owned));
    lines.push("```".to_owned());
    lines
}

/// The 1, 5 and 15 minute load averages: the machine is shared.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// The commit measured, with `+changes` when the work tree differs from it.
pub fn commit() -> String {
    let head = output("git", &["rev-parse", "--short", "HEAD"]);
    let dirty = !output("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty();
    if dirty {
        format!("{head}+changes")
    } else {
        head
    }
}

fn output(program: &str, args: &[&str]) -> String {
    output_untrimmed(program, args).trim().to_owned()
}

fn output_untrimmed(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .current_dir(sfn_callback_tests::workspace_root())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map_or_else(
            || format!("({program} unavailable)"),
            |out| String::from_utf8_lossy(&out.stdout).into_owned(),
        )
}

/// Today's date (UTC) as `YYYY-MM-DD`.
pub fn today() -> String {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() / 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(0));
    format!("{year:04}-{month:02}-{day:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right_around_leap_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }
}
