//! The task prompt: where it is stored and what makes it acceptable.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, ErrorKind, IoContext, Result};

/// The largest prompt accepted, in bytes. It keeps the plan issue, the PR body and the
/// workflow_dispatch payload (65,535 characters) within GitHub's limits.
pub const MAX_PROMPT_BYTES: usize = 64 * 1024;

/// Checks raw prompt bytes and returns the prompt as text. `origin` says where it came from,
/// for the error message ("ONESHOT_PROMPT", ".worker-impl/task.md").
pub fn validate_prompt(bytes: &[u8], origin: &str) -> Result<String> {
    if bytes.len() > MAX_PROMPT_BYTES {
        return Err(Error::input(format!(
            "the prompt from {origin} is {} bytes; the limit is {MAX_PROMPT_BYTES} bytes (64 KiB)",
            bytes.len()
        ))
        .hint("shorten the task, or put the details in a file in the repository and refer to it"));
    }
    if let Some(pos) = bytes.iter().position(|&b| b == 0) {
        return Err(Error::input(format!(
            "the prompt from {origin} contains a NUL byte at offset {pos}"
        ))
        .hint("the prompt must be plain text"));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Error::input(format!(
            "the prompt from {origin} is not valid UTF-8 (invalid bytes at offset {})",
            e.valid_up_to()
        ))
        .hint("save the prompt as UTF-8 text")
    })?;
    if text.trim().is_empty() {
        return Err(Error::input(format!("the prompt from {origin} is empty"))
            .hint("describe the task in one line, e.g. \"Add a --verbose flag to the submit command\""));
    }
    Ok(text.to_string())
}

/// The prompt of `oneshot <command>`: the argument, or the file given with `-f` (`-` for stdin),
/// checked with [`validate_prompt`].
pub fn read_prompt(text: Option<&str>, file: Option<&Path>, command: &str) -> Result<String> {
    match (text, file) {
        (Some(_), Some(_)) => Err(Error::new(
            ErrorKind::Usage,
            "give the prompt as an argument or with --file, not both",
        )),
        (Some(text), None) => validate_prompt(text.as_bytes(), "the command line"),
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .user_file(|| "could not read the prompt from stdin".into())?;
            validate_prompt(&bytes, "stdin")
        }
        (None, Some(path)) => {
            let bytes = std::fs::read(path)
                .user_file(|| format!("could not read the prompt file {}", path.display()))?;
            validate_prompt(&bytes, &path.display().to_string())
        }
        (None, None) => Err(Error::new(ErrorKind::Usage, "no prompt given")
            .hint(format!(
                "oneshot {command} \"Add a --verbose flag to the submit command\""
            ))
            .hint(format!("or: oneshot {command} -f task.md"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_text() {
        assert_eq!(
            validate_prompt("Add a flag\n".as_bytes(), "x").unwrap(),
            "Add a flag\n"
        );
    }

    #[test]
    fn rejects_each_bad_input_with_its_reason() {
        let cases: [(&[u8], &str); 4] = [
            (b" \n\t ", "is empty"),
            (b"a\0b", "NUL byte at offset 1"),
            (b"caf\xe9", "not valid UTF-8"),
            (&[b'a'; MAX_PROMPT_BYTES + 1], "the limit is 65536 bytes"),
        ];
        for (bytes, expected) in cases {
            let err = validate_prompt(bytes, "test").unwrap_err();
            assert!(err.message.contains(expected), "{}", err.message);
        }
        assert!(validate_prompt(&[b'a'; MAX_PROMPT_BYTES], "x").is_ok());
    }
}
