//! `sfn-callback check`: a static checker for state machines that can hang,
//! run before deploy. Reads definitions (files, or a SAM template's state
//! machines), walks every state and reports each rule's findings.

mod diagnostic;
mod rules;
mod source;
mod states;
mod task;
mod template;

use std::path::{Path, PathBuf};

pub use diagnostic::Diagnostic;
pub use source::Definition;

/// The definitions named on the command line: the files, then the template's.
pub fn definitions(files: &[PathBuf], template: Option<&Path>) -> Result<Vec<Definition>, String> {
    let mut found = files
        .iter()
        .map(|file| source::read(file))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(template) = template {
        found.extend(template::definitions(template)?);
    }
    Ok(found)
}

/// Every finding of every rule on one definition.
pub fn check(definition: &Definition) -> Vec<Diagnostic> {
    let mut found = Vec::new();
    states::walk(&definition.value, &mut |state| {
        if let Some(task) = task::Task::of(state) {
            found.extend(
                rules::check(&task)
                    .into_iter()
                    .map(|finding| finding.at(&definition.origin, &task)),
            );
        }
    });
    found
}

/// Checks them all and prints the findings; returns whether any is an error.
pub fn run(definitions: &[Definition]) -> bool {
    let mut counts = [0_usize; 3];
    for definition in definitions {
        for diagnostic in check(definition) {
            println!("{diagnostic}");
            counts[diagnostic.severity as usize] += 1;
        }
    }
    let [infos, warnings, errors] = counts;
    println!(
        "checked {} state machine definition(s): {errors} error(s), {warnings} warning(s), {infos} note(s)",
        definitions.len()
    );
    errors > 0
}
