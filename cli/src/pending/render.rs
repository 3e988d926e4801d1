//! `pending`'s output: an aligned table, or one JSON object per line.

use super::row::Row;
use crate::duration;

const HEADINGS: [&str; 8] = [
    "EXECUTION",
    "STATE MACHINE",
    "STATE",
    "INTEGRATION",
    "WAITING SINCE",
    "FOR",
    "TIMEOUT IN",
    "HEARTBEAT IN",
];

/// The table, headings first, columns padded to their widest cell.
pub fn table(rows: &[Row]) -> String {
    let cells: Vec<[String; 8]> = rows
        .iter()
        .map(|row| {
            [
                row.execution.clone(),
                row.state_machine.clone(),
                row.state.clone(),
                row.integration.clone(),
                row.since_text(),
                duration::format(unsigned(row.waiting_seconds)),
                limit(row.timeout_left_seconds(), row.limits_unknown),
                heartbeat(row.heartbeat_left_seconds(), row.limits_unknown),
            ]
        })
        .collect();
    crate::table::aligned(HEADINGS, &cells)
}

/// One JSON object per line.
pub fn json_lines(rows: &[Row]) -> String {
    rows.iter().fold(String::new(), |mut out, row| {
        out.push_str(&row.to_json().to_string());
        out.push('\n');
        out
    })
}

/// Time left, or `none!` for a limit that is not set (`unknown` when the
/// definition could not be read).
fn limit(left: Option<i64>, unknown: bool) -> String {
    match left {
        Some(seconds) => duration::format(unsigned(seconds)),
        None if unknown => "unknown".to_owned(),
        None => "none!".to_owned(),
    }
}

/// As [`limit`]; a wait older than its `HeartbeatSeconds` is still alive only
/// because heartbeats came, and the history does not say when the last did.
fn heartbeat(left: Option<i64>, unknown: bool) -> String {
    match left {
        Some(0) => "beating".to_owned(),
        other => limit(other, unknown),
    }
}

fn unsigned(seconds: i64) -> u64 {
    u64::try_from(seconds).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sfn::primitives::DateTime;

    fn row(execution: &str, timeout: Option<i64>) -> Row {
        Row {
            execution_arn: format!(
                "arn:aws:states:us-east-1:123456789012:execution:sm:{execution}"
            ),
            execution: execution.to_owned(),
            state_machine: "sqs-callback".to_owned(),
            state_machine_arn: "arn:aws:states:us-east-1:123456789012:stateMachine:sqs-callback"
                .to_owned(),
            state: "WaitForWorker".to_owned(),
            integration: "sqs".to_owned(),
            since: DateTime::from_secs(1_700_000_000),
            waiting_seconds: 125,
            timeout_seconds: timeout,
            heartbeat_seconds: None,
            limits_unknown: false,
        }
    }

    #[test]
    fn the_table_aligns_its_columns_and_flags_missing_limits() {
        let text = table(&[row("a", Some(3600)), row("long-execution-name", None)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let column = |line: &str| line.find("sqs-callback");
        assert_eq!(column(lines[1]), column(lines[2]));
        assert_eq!(lines[0].find("STATE MACHINE"), column(lines[1]));
        assert!(lines[1].contains("57m55s"), "{}", lines[1]);
        assert!(lines[2].contains("none!"), "{}", lines[2]);
    }

    #[test]
    fn json_lines_carry_the_documented_fields() {
        let text = json_lines(&[row("a", None)]);
        let object: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
        for field in [
            "executionArn",
            "execution",
            "stateMachine",
            "stateMachineArn",
            "state",
            "integration",
            "waitingSince",
            "waitingSeconds",
            "timeoutSeconds",
            "timeoutLeftSeconds",
            "heartbeatSeconds",
            "heartbeatLeftSeconds",
            "warnings",
        ] {
            assert!(object.get(field).is_some(), "{field} in {object}");
        }
        assert_eq!(object["waitingSince"], "2023-11-14T22:13:20Z");
        assert_eq!(object["timeoutSeconds"], serde_json::Value::Null);
    }
}
