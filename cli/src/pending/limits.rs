//! A task's `TimeoutSeconds` and `HeartbeatSeconds` from the state machine's
//! definition, for waits whose history event did not record them.

use serde_json::Value;

/// The limits a definition sets on the state `name` (nested states included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Limits {
    pub timeout_seconds: Option<i64>,
    pub heartbeat_seconds: Option<i64>,
}

/// The literal limits of the state `name`, wherever it is nested.
pub fn of_state(definition: &Value, name: &str) -> Limits {
    find(definition, name).map_or_else(Limits::default, |state| Limits {
        timeout_seconds: state.get("TimeoutSeconds").and_then(Value::as_i64),
        heartbeat_seconds: state.get("HeartbeatSeconds").and_then(Value::as_i64),
    })
}

fn find<'a>(machine: &'a Value, name: &str) -> Option<&'a Value> {
    let states = machine.get("States")?.as_object()?;
    if let Some(state) = states.get(name) {
        return Some(state);
    }
    states.values().find_map(|state| {
        let branches = state.get("Branches").and_then(Value::as_array);
        branches
            .into_iter()
            .flatten()
            .chain(state.get("ItemProcessor"))
            .chain(state.get("Iterator"))
            .find_map(|inner| find(inner, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_are_found_in_nested_states() {
        let definition = json!({"States": {
            "P": {"Type": "Parallel", "Branches": [{"States": {
                "Inner": {"Type": "Task", "TimeoutSeconds": 60, "HeartbeatSeconds": 20}
            }}]},
            "Top": {"Type": "Task"}
        }});
        assert_eq!(
            of_state(&definition, "Inner"),
            Limits {
                timeout_seconds: Some(60),
                heartbeat_seconds: Some(20)
            }
        );
        assert_eq!(of_state(&definition, "Top"), Limits::default());
    }
}
