//! Reading a definition file as the checker sees it.
//!
//! A definition deployed with `DefinitionSubstitutions` may hold `${Name}`
//! placeholders outside any string (`"HeartbeatSeconds": ${HeartbeatSeconds}`),
//! which is not JSON until substituted. Such a placeholder is read as the string
//! `"${Name}"`: a value known only at deploy time, which the rules treat as set
//! but never compare.

use serde_json::Value;

/// A definition to check and where it came from.
#[derive(Debug, Clone)]
pub struct Definition {
    pub origin: String,
    pub value: Value,
}

/// Parses definition text, placeholders outside strings read as strings.
pub fn parse(origin: &str, text: &str) -> Result<Definition, String> {
    let value = serde_json::from_str(&quote_bare_placeholders(text))
        .map_err(|err| format!("{origin}: not a JSON state machine definition: {err}"))?;
    Ok(Definition {
        origin: origin.to_owned(),
        value,
    })
}

/// Reads and parses a definition file.
pub fn read(path: &std::path::Path) -> Result<Definition, String> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|err| format!("{origin}: {err}"))?;
    parse(&origin, &text)
}

/// Wraps every `${...}` found outside a JSON string in quotes.
fn quote_bare_placeholders(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == '$' && text[at..].starts_with("${") {
            match text[at..].find('}') {
                Some(end) => {
                    out.push('"');
                    out.push_str(&text[at..=at + end]);
                    out.push('"');
                    // Skip the placeholder's remaining characters.
                    while chars.peek().is_some_and(|(next, _)| *next <= at + end) {
                        chars.next();
                    }
                }
                None => out.push(c),
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_placeholder_is_read_as_a_string() {
        let definition = parse(
            "x",
            r#"{"HeartbeatSeconds": ${HeartbeatSeconds}, "Resource": "${Arn}"}"#,
        )
        .unwrap();
        assert_eq!(definition.value["HeartbeatSeconds"], "${HeartbeatSeconds}");
        assert_eq!(definition.value["Resource"], "${Arn}");
    }

    #[test]
    fn text_that_is_not_json_is_refused_with_its_origin() {
        let err = parse("bad.asl.json", "{").unwrap_err();
        assert!(err.starts_with("bad.asl.json: "), "{err}");
    }
}
