//! A finding of the checker, printed in the compiler style:
//! `file:JSONPATH: severity[rule]: message`, then `  help: fix`.

use std::fmt;

/// How bad a finding is. Only an error fails the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Info => "info",
            Self::Warning => "warning",
            Self::Error => "error",
        })
    }
}

/// One finding about one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file (or template resource) the definition came from.
    pub origin: String,
    /// JSONPath of the state in the definition, e.g. `$.States.DoWork`.
    pub path: String,
    pub severity: Severity,
    /// The rule's name, stable for scripts and the README.
    pub rule: &'static str,
    pub message: String,
    pub help: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}[{}]: {}\n  help: {}",
            self.origin, self.path, self.severity, self.rule, self.message, self.help
        )
    }
}
