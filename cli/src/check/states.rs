//! Walking every state of a definition, nested ones included (Parallel
//! branches, Map's `ItemProcessor` or older `Iterator`), each with its JSON path
//! and the query language in force for it.

use serde_json::{Map, Value};

/// The two query languages of Amazon States Language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryLanguage {
    JsonPath,
    Jsonata,
}

impl QueryLanguage {
    /// The language a `QueryLanguage` field names, or `inherited` without one.
    fn of(object: &Value, inherited: Self) -> Self {
        match object.get("QueryLanguage").and_then(Value::as_str) {
            Some("JSONata") => Self::Jsonata,
            Some("JSONPath") => Self::JsonPath,
            _ => inherited,
        }
    }
}

/// One state, where it is, and its siblings (the `States` it belongs to).
#[derive(Debug, Clone, Copy)]
pub struct StateRef<'a> {
    pub path: &'a str,
    pub state: &'a Value,
    pub language: QueryLanguage,
    pub siblings: &'a Map<String, Value>,
}

/// Calls `visit` for every state of `definition`, depth first.
pub fn walk(definition: &Value, visit: &mut dyn FnMut(StateRef<'_>)) {
    let language = QueryLanguage::of(definition, QueryLanguage::JsonPath);
    walk_machine(definition, "$", language, visit);
}

fn walk_machine(
    machine: &Value,
    path: &str,
    language: QueryLanguage,
    visit: &mut dyn FnMut(StateRef<'_>),
) {
    let Some(states) = machine.get("States").and_then(Value::as_object) else {
        return;
    };
    for (name, state) in states {
        let state_path = format!("{path}.States{}", member(name));
        let state_language = QueryLanguage::of(state, language);
        visit(StateRef {
            path: &state_path,
            state,
            language: state_language,
            siblings: states,
        });
        if let Some(branches) = state.get("Branches").and_then(Value::as_array) {
            for (n, branch) in branches.iter().enumerate() {
                let language = QueryLanguage::of(branch, state_language);
                walk_machine(
                    branch,
                    &format!("{state_path}.Branches[{n}]"),
                    language,
                    visit,
                );
            }
        }
        for field in ["ItemProcessor", "Iterator"] {
            if let Some(processor) = state.get(field) {
                let language = QueryLanguage::of(processor, state_language);
                walk_machine(processor, &format!("{state_path}.{field}"), language, visit);
            }
        }
    }
}

/// `.Name` for a plain name, `['Name with spaces']` otherwise.
fn member(name: &str) -> String {
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        format!(".{name}")
    } else {
        format!("['{}']", name.replace('\'', "\\'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_states_are_visited_with_their_paths_and_languages() {
        let definition = json!({
            "QueryLanguage": "JSONata",
            "StartAt": "P",
            "States": {
                "P": {"Type": "Parallel", "Branches": [
                    {"StartAt": "A", "States": {"A": {"Type": "Pass", "QueryLanguage": "JSONPath", "End": true}}}
                ], "Next": "M"},
                "M": {"Type": "Map", "ItemProcessor": {"StartAt": "B b", "States": {"B b": {"Type": "Succeed"}}}, "End": true}
            }
        });
        let mut seen = Vec::new();
        walk(&definition, &mut |state| {
            seen.push((state.path.to_owned(), state.language));
        });
        seen.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            seen,
            [
                ("$.States.M".to_owned(), QueryLanguage::Jsonata),
                (
                    "$.States.M.ItemProcessor.States['B b']".to_owned(),
                    QueryLanguage::Jsonata
                ),
                ("$.States.P".to_owned(), QueryLanguage::Jsonata),
                (
                    "$.States.P.Branches[0].States.A".to_owned(),
                    QueryLanguage::JsonPath
                ),
            ]
        );
    }
}
