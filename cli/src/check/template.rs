//! The state machines of a SAM template: each `AWS::Serverless::StateMachine`'s
//! `DefinitionUri` (a file beside the template) or inline `Definition`, with its
//! `DefinitionSubstitutions` applied as SAM applies them (`${Name}` replaced).
//!
//! A substitution's value is often an intrinsic function that only
//! CloudFormation can resolve. The checker resolves what it can read from the
//! template alone: `!Ref` to a parameter gives its `Default`; `!Ref` to an
//! activity, queue or topic and `!GetAtt Function.Arn` give a stand-in ARN or
//! URL of the right shape named after the resource (so an activity is seen as
//! one, and the approval notifier by its name). Anything else is left as its
//! `${Name}` placeholder: set, but unknown.

use std::path::Path;

use serde_norway::Value as Yaml;

use super::source::{self, Definition};

const REGION: &str = "us-east-1";
const ACCOUNT: &str = "123456789012";

/// Every state machine definition of the template at `path`.
pub fn definitions(path: &Path) -> Result<Vec<Definition>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|err| format!("{shown}: {err}"))?;
    let template: Yaml =
        serde_norway::from_str(&text).map_err(|err| format!("{shown}: not YAML: {err}"))?;
    let folder = path.parent().unwrap_or_else(|| Path::new(""));
    let mut found = Vec::new();
    let Some(resources) = template.get("Resources").and_then(Yaml::as_mapping) else {
        return Ok(found);
    };
    for (id, resource) in resources {
        if resource.get("Type").and_then(Yaml::as_str) != Some("AWS::Serverless::StateMachine") {
            continue;
        }
        let id = id.as_str().unwrap_or("?");
        let properties = resource.get("Properties");
        let property = |name: &str| properties.and_then(|p| p.get(name));
        let (origin, text) = if let Some(uri) = property("DefinitionUri") {
            let uri = uri.as_str().ok_or_else(|| {
                format!("{shown}: {id}: only a local DefinitionUri (a path) can be checked")
            })?;
            let file = folder.join(uri);
            let text = std::fs::read_to_string(&file)
                .map_err(|err| format!("{shown}: {id}: {}: {err}", file.display()))?;
            (file.display().to_string(), text)
        } else if let Some(inline) = property("Definition") {
            let json = serde_json::to_string(inline)
                .map_err(|err| format!("{shown}: {id}: Definition: {err}"))?;
            (format!("{shown}#{id}"), json)
        } else {
            return Err(format!(
                "{shown}: {id}: neither DefinitionUri nor Definition"
            ));
        };
        let substituted = substitute(&text, property("DefinitionSubstitutions"), &template);
        found.push(source::parse(&origin, &substituted)?);
    }
    Ok(found)
}

/// Replaces each `${Key}` whose value the template alone resolves.
fn substitute(text: &str, substitutions: Option<&Yaml>, template: &Yaml) -> String {
    let mut text = text.to_owned();
    for (key, value) in substitutions
        .and_then(Yaml::as_mapping)
        .into_iter()
        .flatten()
    {
        if let (Some(key), Some(value)) = (key.as_str(), resolve(value, template)) {
            text = text.replace(&format!("${{{key}}}"), &value);
        }
    }
    text
}

/// What a substitution value stands for, where the template says.
fn resolve(value: &Yaml, template: &Yaml) -> Option<String> {
    match value {
        Yaml::String(text) => Some(text.clone()),
        Yaml::Number(number) => Some(number.to_string()),
        Yaml::Bool(flag) => Some(flag.to_string()),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            intrinsic(tag.trim_start_matches('!'), &tagged.value, template)
        }
        Yaml::Mapping(mapping) if mapping.len() == 1 => {
            let (name, argument) = mapping.iter().next()?;
            let name = name.as_str()?;
            intrinsic(name.trim_start_matches("Fn::"), argument, template)
        }
        _ => None,
    }
}

fn intrinsic(name: &str, argument: &Yaml, template: &Yaml) -> Option<String> {
    match name {
        "Ref" => reference(argument.as_str()?, template),
        "GetAtt" => {
            let (id, attribute) = match argument {
                Yaml::String(text) => text.split_once('.')?,
                Yaml::Sequence(items) => (items.first()?.as_str()?, items.get(1)?.as_str()?),
                _ => return None,
            };
            let kind = resource_type(id, template)?;
            match (kind, attribute) {
                ("AWS::Serverless::Function" | "AWS::Lambda::Function", "Arn") => {
                    Some(format!("arn:aws:lambda:{REGION}:{ACCOUNT}:function:{id}"))
                }
                _ => Some(format!("{id}.{attribute}")),
            }
        }
        _ => None,
    }
}

/// `!Ref`: a parameter's default, or a stand-in for a resource.
fn reference(id: &str, template: &Yaml) -> Option<String> {
    if let Some(parameter) = template.get("Parameters").and_then(|p| p.get(id)) {
        return resolve(parameter.get("Default")?, template);
    }
    Some(match resource_type(id, template)? {
        "AWS::StepFunctions::Activity" => {
            format!("arn:aws:states:{REGION}:{ACCOUNT}:activity:{id}")
        }
        "AWS::SQS::Queue" => format!("https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{id}"),
        "AWS::SNS::Topic" => format!("arn:aws:sns:{REGION}:{ACCOUNT}:{id}"),
        _ => id.to_owned(),
    })
}

fn resource_type<'a>(id: &str, template: &'a Yaml) -> Option<&'a str> {
    template.get("Resources")?.get(id)?.get("Type")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Yaml {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn short_tags_resolve_from_the_template() {
        let template = yaml(
            "Parameters:\n  Beat:\n    Type: Number\n    Default: 300\n  NoDefault:\n    Type: String\n\
             Resources:\n  WorkActivity:\n    Type: AWS::StepFunctions::Activity\n  \
             ApprovalNotifierFunction:\n    Type: AWS::Serverless::Function\n",
        );
        let text = r#"{"a": ${Beat}, "b": "${Activity}", "c": "${Notifier}", "d": "${Unknown}", "e": "${Plain}"}"#;
        let substitutions = yaml(
            "Beat: !Ref Beat\nActivity: !Ref WorkActivity\nNotifier: !GetAtt ApprovalNotifierFunction.Arn\n\
             Unknown: !Ref NoDefault\nPlain: text\n",
        );

        let substituted = substitute(text, Some(&substitutions), &template);

        assert_eq!(
            substituted,
            r#"{"a": 300, "b": "arn:aws:states:us-east-1:123456789012:activity:WorkActivity", "c": "arn:aws:lambda:us-east-1:123456789012:function:ApprovalNotifierFunction", "d": "${Unknown}", "e": "text"}"#
        );
    }
}
