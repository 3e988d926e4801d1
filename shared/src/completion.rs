//! What we tell Step Functions about a task, checked against the service limits
//! before any call is made.

use serde_json::value::RawValue;

/// SendTaskSuccess `output`: at most 262,144 bytes of UTF-8 JSON.
pub const MAX_OUTPUT_BYTES: usize = 262_144;
/// SendTaskFailure `error`: at most 256 characters.
pub const MAX_ERROR_CHARS: usize = 256;
/// SendTaskFailure `cause`: at most 32,768 characters.
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// The error we fail a task with when its success output breaks the limits.
pub(crate) const INVALID_OUTPUT_ERROR: &str = "sfn_callback.InvalidOutput";

/// One completion of a task token, valid to send as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// SendTaskSuccess.
    Success {
        /// The task's output: JSON text within [`MAX_OUTPUT_BYTES`].
        output: String,
    },
    /// SendTaskFailure.
    Failure {
        /// The error name the state machine's `Catch` matches, within
        /// [`MAX_ERROR_CHARS`].
        error: Option<String>,
        /// Free text about the failure, within [`MAX_CAUSE_CHARS`].
        cause: Option<String>,
    },
    /// SendTaskHeartbeat.
    Heartbeat,
    /// The sender asked for success, but its output cannot be sent: fail the task
    /// with `sfn_callback.InvalidOutput` and this cause, so the execution does not hang.
    OutputRejected {
        /// Why the output cannot be sent.
        cause: String,
    },
}

/// A completion that breaks a Step Functions limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompletionError {
    /// The output is over [`MAX_OUTPUT_BYTES`].
    #[error("output is {bytes} bytes; the limit is {MAX_OUTPUT_BYTES}")]
    OutputTooLarge {
        /// Its size in bytes.
        bytes: usize,
    },
    /// The output is not JSON text.
    #[error("output is not valid JSON: {reason}")]
    OutputNotJson {
        /// The JSON parser's complaint.
        reason: String,
    },
    /// The error name is over [`MAX_ERROR_CHARS`]; it is refused, not cut.
    #[error("error is {chars} characters; the limit is {MAX_ERROR_CHARS}")]
    ErrorTooLong {
        /// Its length in characters.
        chars: usize,
    },
}

impl Completion {
    /// A success with `output`, already-valid JSON text (as found in a message).
    /// Output over the limit becomes [`Completion::OutputRejected`].
    pub(crate) fn success_raw(output: &RawValue) -> Self {
        Self::success_checked(output.get().to_owned())
    }

    /// A success whose output is serialized from `value`.
    /// Output over the limit becomes [`Completion::OutputRejected`].
    pub fn success<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_string(value) {
            Ok(output) => Self::success_checked(output),
            Err(err) => Self::OutputRejected {
                cause: CompletionError::OutputNotJson {
                    reason: err.to_string(),
                }
                .to_string(),
            },
        }
    }

    /// A success from JSON text that has not been checked yet.
    pub fn success_json(output: String) -> Result<Self, CompletionError> {
        serde_json::from_str::<serde::de::IgnoredAny>(&output).map_err(|err| {
            CompletionError::OutputNotJson {
                reason: err.to_string(),
            }
        })?;
        Ok(Self::success_checked(output))
    }

    fn success_checked(output: String) -> Self {
        if output.len() > MAX_OUTPUT_BYTES {
            let cause = CompletionError::OutputTooLarge {
                bytes: output.len(),
            }
            .to_string();
            return Self::OutputRejected { cause };
        }
        Self::Success { output }
    }

    /// A failure. An `error` over the limit is refused, because a cut error name
    /// would no longer match the state machine's `Catch`; a long `cause` is cut to
    /// fit with a visible marker.
    pub fn failure(error: Option<String>, cause: Option<String>) -> Result<Self, CompletionError> {
        if let Some(error) = &error {
            let chars = error.chars().count();
            if chars > MAX_ERROR_CHARS {
                return Err(CompletionError::ErrorTooLong { chars });
            }
        }
        Ok(Self::Failure {
            error,
            cause: cause.map(truncate_cause),
        })
    }

    /// The name of the Step Functions call this completion makes.
    pub fn action(&self) -> &'static str {
        match self {
            Self::Success { .. } => "SendTaskSuccess",
            Self::Failure { .. } | Self::OutputRejected { .. } => "SendTaskFailure",
            Self::Heartbeat => "SendTaskHeartbeat",
        }
    }
}

/// Cuts `cause` to [`MAX_CAUSE_CHARS`] characters, ending with a marker that
/// says how long it was, so a reader knows text is missing.
pub(crate) fn truncate_cause(cause: String) -> String {
    let chars = cause.chars().count();
    if chars <= MAX_CAUSE_CHARS {
        return cause;
    }
    let marker = format!("… [truncated by sfn-callback; {chars} characters in all]");
    let keep = MAX_CAUSE_CHARS - marker.chars().count();
    let cut = cause
        .char_indices()
        .nth(keep)
        .map_or(cause.len(), |(index, _)| index);
    let mut truncated = cause;
    truncated.truncate(cut);
    truncated.push_str(&marker);
    truncated
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_of_len(bytes: usize) -> String {
        // A JSON string literal: two quotes plus the padding.
        format!("\"{}\"", "x".repeat(bytes - 2))
    }

    #[test]
    fn output_of_exactly_the_limit_is_sent() {
        let output = json_of_len(MAX_OUTPUT_BYTES);
        assert_eq!(
            Completion::success_json(output.clone()),
            Ok(Completion::Success { output })
        );
    }

    #[test]
    fn output_one_byte_over_the_limit_is_rejected_with_its_size() {
        let completion = Completion::success_json(json_of_len(MAX_OUTPUT_BYTES + 1));
        assert_eq!(
            completion,
            Ok(Completion::OutputRejected {
                cause: "output is 262145 bytes; the limit is 262144".into()
            })
        );
    }

    #[test]
    fn output_limit_counts_utf8_bytes() {
        let output = format!("\"{}\"", "é".repeat(MAX_OUTPUT_BYTES / 2));
        assert!(matches!(
            Completion::success_json(output),
            Ok(Completion::OutputRejected { .. })
        ));
    }

    #[test]
    fn non_json_output_is_an_error() {
        assert!(matches!(
            Completion::success_json("{not json".into()),
            Err(CompletionError::OutputNotJson { .. })
        ));
    }

    #[test]
    fn serialized_success_keeps_the_value() {
        let completion = Completion::success(&serde_json::json!({"a": [1, 2]}));
        assert_eq!(
            completion,
            Completion::Success {
                output: r#"{"a":[1,2]}"#.into()
            }
        );
    }

    #[test]
    fn error_of_256_characters_is_kept_and_257_is_refused() {
        assert!(Completion::failure(Some("e".repeat(256)), None).is_ok());
        assert_eq!(
            Completion::failure(Some("e".repeat(257)), None),
            Err(CompletionError::ErrorTooLong { chars: 257 })
        );
    }

    #[test]
    fn cause_of_exactly_the_limit_is_kept_whole() {
        let cause = "c".repeat(MAX_CAUSE_CHARS);
        assert_eq!(truncate_cause(cause.clone()), cause);
    }

    #[test]
    fn long_cause_is_cut_to_the_limit_with_a_marker() {
        let truncated = truncate_cause("c".repeat(MAX_CAUSE_CHARS + 1));
        assert_eq!(truncated.chars().count(), MAX_CAUSE_CHARS);
        assert!(truncated.ends_with("[truncated by sfn-callback; 32769 characters in all]"));
    }

    #[test]
    fn cause_is_cut_on_a_character_boundary() {
        let truncated = truncate_cause("ü".repeat(MAX_CAUSE_CHARS * 2));
        assert_eq!(truncated.chars().count(), MAX_CAUSE_CHARS);
        assert!(truncated.starts_with('ü'));
    }
}
