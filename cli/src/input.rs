//! Reading the token and the output from files or stdin.

use std::io::Read;
use std::path::Path;

use sfn_callback::TaskToken;

/// The token from `path` (`-` for stdin), without its trailing newline.
pub fn read_token(path: &Path) -> Result<TaskToken, String> {
    let text = read_text(path)?;
    TaskToken::new(text.trim_end_matches(['\n', '\r']))
        .map_err(|err| format!("{}: {err}", path.display()))
}

/// `--output`: JSON text, or `@path` for a file's contents.
pub fn read_output(argument: &str) -> Result<String, String> {
    match argument.strip_prefix('@') {
        Some(path) => read_text(Path::new(path)),
        None => Ok(argument.to_owned()),
    }
}

pub fn read_text(path: &Path) -> Result<String, String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|err| format!("stdin: {err}"))?;
        return Ok(text);
    }
    std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))
}
