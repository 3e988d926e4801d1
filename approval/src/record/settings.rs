//! The recorded mode's settings, read once at cold start. Recorded mode is on
//! when `APPROVAL_TABLE` is set; a bad value fails init with an error that
//! names the variable.

use sfn_callback::config::ConfigError;

use super::allowed::ApproversAllowed;

/// The table's name; set, it turns recorded mode on.
pub const APPROVAL_TABLE_VAR: &str = "APPROVAL_TABLE";
/// A view this soon after the email was sent is flagged as a likely mail scanner.
pub const SCANNER_WINDOW_VAR: &str = "APPROVAL_SCANNER_WINDOW_SECONDS";
/// How long requests, votes and the ledger are kept after a request expires.
pub const RETENTION_DAYS_VAR: &str = "APPROVAL_RETENTION_DAYS";

/// Mail scanners open links within seconds to a minute of delivery.
pub const DEFAULT_SCANNER_WINDOW_SECONDS: u64 = 120;
/// A year and a month: long enough for a yearly audit.
pub const DEFAULT_RETENTION_DAYS: u64 = 400;
/// DynamoDB's TTL ignores times more than 5 years out; keep well inside it.
const MAX_RETENTION_DAYS: u64 = 3 * 365;

/// What both approval functions need in recorded mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedSettings {
    /// The DynamoDB table (`APPROVAL_TABLE`).
    pub table: String,
    /// Who may approve (`APPROVERS_ALLOWED`).
    pub approvers_allowed: ApproversAllowed,
    /// `APPROVAL_SCANNER_WINDOW_SECONDS`, default 120.
    pub scanner_window_seconds: u64,
    /// `APPROVAL_RETENTION_DAYS`, default 400.
    pub retention_days: u64,
}

impl RecordedSettings {
    /// Reads the settings from the process environment: `None` when
    /// `APPROVAL_TABLE` is unset or blank (the stateless mode).
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Only the table's name, from `APPROVAL_TABLE`: what an operator's
    /// command needs.
    pub fn table_from_env() -> Option<String> {
        table_name(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `lookup`, so tests need no real environment.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        let Some(table) = table_name(&lookup) else {
            return Ok(None);
        };
        if !is_table_name(&table) {
            return Err(ConfigError {
                name: APPROVAL_TABLE_VAR,
                value: table,
                expected: "expected a DynamoDB table name: 3 to 255 of A-Z a-z 0-9 _ - .".into(),
            });
        }
        Ok(Some(Self {
            table,
            approvers_allowed: ApproversAllowed::from_lookup(&lookup)?,
            scanner_window_seconds: seconds(
                &lookup,
                SCANNER_WINDOW_VAR,
                DEFAULT_SCANNER_WINDOW_SECONDS,
                86_400,
            )?,
            retention_days: seconds(
                &lookup,
                RETENTION_DAYS_VAR,
                DEFAULT_RETENTION_DAYS,
                MAX_RETENTION_DAYS,
            )?,
        }))
    }
}

/// `APPROVAL_TABLE`, trimmed; `None` when unset or blank.
fn table_name(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    lookup(APPROVAL_TABLE_VAR)
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
}

fn is_table_name(name: &str) -> bool {
    (3..=255).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A whole number from 0 to `max`, or `default` when unset.
fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(value) = lookup(name).filter(|value| !value.trim().is_empty()) else {
        return Ok(default);
    };
    match value.trim().parse::<u64>() {
        Ok(number) if number <= max => Ok(number),
        _ => Err(ConfigError {
            name,
            value,
            expected: format!("expected a whole number from 0 to {max}"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Option<RecordedSettings>, ConfigError> {
        RecordedSettings::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn without_a_table_the_mode_is_stateless() {
        assert_eq!(
            settings(&[("APPROVERS_ALLOWED", "a@example.com")]),
            Ok(None)
        );
        assert_eq!(settings(&[("APPROVAL_TABLE", "  ")]), Ok(None));
    }

    #[test]
    fn a_table_without_approvers_allowed_refuses_to_start_naming_the_variable() {
        let err = settings(&[("APPROVAL_TABLE", "approvals")]).unwrap_err();
        assert_eq!(err.name, "APPROVERS_ALLOWED");
    }

    #[test]
    fn defaults_apply_when_only_the_required_settings_are_given() {
        let settings = settings(&[
            ("APPROVAL_TABLE", "approvals"),
            ("APPROVERS_ALLOWED", "@example.com"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.table, "approvals");
        assert_eq!(settings.scanner_window_seconds, 120);
        assert_eq!(settings.retention_days, 400);
    }

    #[test]
    fn bad_table_names_and_numbers_are_config_errors_naming_the_variable() {
        let allowed = ("APPROVERS_ALLOWED", "@example.com");
        for (pairs, name) in [
            (vec![("APPROVAL_TABLE", "a b"), allowed], "APPROVAL_TABLE"),
            (vec![("APPROVAL_TABLE", "t1"), allowed], "APPROVAL_TABLE"),
            (
                vec![
                    ("APPROVAL_TABLE", "approvals"),
                    allowed,
                    (SCANNER_WINDOW_VAR, "-1"),
                ],
                SCANNER_WINDOW_VAR,
            ),
            (
                vec![
                    ("APPROVAL_TABLE", "approvals"),
                    allowed,
                    (RETENTION_DAYS_VAR, "5000"),
                ],
                RETENTION_DAYS_VAR,
            ),
        ] {
            assert_eq!(settings(&pairs).unwrap_err().name, name);
        }
    }
}
