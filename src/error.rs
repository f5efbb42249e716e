//! The one error type of oneshot: a kind that decides the exit code and the JSON `error_type`,
//! a message that says what was wrong, hints that say what to do, and the chain of causes.

use std::fmt;

/// What went wrong, at the level a user or a workflow acts on. Each kind has one exit code;
/// the table in README.md ("Exit codes") is the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The step ran to its end and reports a failure of the work itself (a failed plan step,
    /// a failed implementation step). Exit 1.
    StepFailed,
    /// Malformed command line. Exit 2 (the same code clap uses).
    Usage,
    /// Input that is not acceptable: a blank prompt, an invalid plan, an unknown model. Exit 3.
    InvalidInput,
    /// The configuration file or environment is invalid. Exit 4.
    Config,
    /// git failed or the repository is not in the state the step needs. Exit 5.
    Git,
    /// The GitHub API refused or failed. Exit 6.
    GitHub,
    /// No usable credentials, or the server rejected them. Exit 7.
    Auth,
    /// The agent CLI could not be started or misbehaved. Exit 8.
    Agent,
    /// Stopped by Ctrl-C or SIGTERM. Exit 130.
    Interrupted,
    /// A bug in oneshot. Exit 70 (EX_SOFTWARE).
    Internal,
}

impl ErrorKind {
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::StepFailed => 1,
            ErrorKind::Usage => 2,
            ErrorKind::InvalidInput => 3,
            ErrorKind::Config => 4,
            ErrorKind::Git => 5,
            ErrorKind::GitHub => 6,
            ErrorKind::Auth => 7,
            ErrorKind::Agent => 8,
            ErrorKind::Interrupted => 130,
            ErrorKind::Internal => 70,
        }
    }

    /// The `error_type` of the JSON error object.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::StepFailed => "step_failed",
            ErrorKind::Usage => "usage",
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Config => "config",
            ErrorKind::Git => "git",
            ErrorKind::GitHub => "github",
            ErrorKind::Auth => "auth",
            ErrorKind::Agent => "agent",
            ErrorKind::Interrupted => "interrupted",
            ErrorKind::Internal => "internal",
        }
    }
}

/// An error with its kind, hints ("what to do") and causes ("why", outermost first).
#[derive(Debug, Clone)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
    pub hints: Vec<String>,
    pub causes: Vec<String>,
    /// Facts a machine-readable caller gets with the error, after the standard keys of the
    /// JSON error object (e.g. the branch and the failed step of a local run).
    pub details: Vec<(String, serde_json::Value)>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            hints: Vec::new(),
            causes: Vec::new(),
            details: Vec::new(),
        }
    }

    pub fn input(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidInput, message)
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub fn git(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Git, message)
    }

    pub fn github(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::GitHub, message)
    }

    pub fn auth(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Auth, message)
    }

    pub fn agent(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Agent, message)
    }

    pub fn step_failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::StepFailed, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Adds a line that tells the user what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// Adds a lower-level cause (shown as "Caused by:").
    pub fn cause(mut self, cause: impl fmt::Display) -> Self {
        self.causes.push(cause.to_string());
        self
    }

    /// Adds a fact to the JSON error object (a standard key is never replaced).
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.details.push((key.to_string(), value.into()));
        self
    }

    /// Puts `context` in front of the message: "context: message".
    pub fn context(mut self, context: impl fmt::Display) -> Self {
        self.message = format!("{context}: {}", self.message);
        self
    }

    /// The whole error as the text a person reads: message, causes, hints.
    pub fn render(&self) -> String {
        let mut out = self.message.clone();
        if !self.causes.is_empty() {
            out.push_str("\nCaused by:");
            for cause in &self.causes {
                for (i, line) in cause.lines().enumerate() {
                    out.push_str(if i == 0 { "\n  " } else { "\n    " });
                    out.push_str(line);
                }
            }
        }
        for hint in &self.hints {
            out.push_str("\nhint: ");
            out.push_str(hint);
        }
        out
    }

    /// The JSON error object of DESIGN.md §3 ("JSON on stdout").
    pub fn to_json(&self) -> serde_json::Value {
        let mut message = self.message.clone();
        if !self.causes.is_empty() {
            message.push_str(": ");
            message.push_str(&self.causes.join("; "));
        }
        let mut json = serde_json::json!({
            "success": false,
            "error_type": self.kind.as_str(),
            "message": message,
            "hints": self.hints,
        });
        if let Some(map) = json.as_object_mut() {
            for (key, value) in &self.details {
                map.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
        json
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Attaches what was being done to an I/O error: "could not read .impl/plan.md: No such file".
///
/// An I/O error is not a bug in oneshot: the kind says whose it is. [`IoContext::io_context`]
/// is for the files and streams oneshot itself uses (its workspace, the step summary, stdout):
/// content that is not text is `InvalidInput`, and anything else (a missing or unwritable
/// directory, a full disk) is the environment's, `Config`. [`IoContext::user_file`] is for a
/// file the user named (`-f FILE`, `--prompt-file`): whatever is wrong with it is
/// `InvalidInput`, with what to do.
pub trait IoContext<T> {
    fn io_context(self, what: impl FnOnce() -> String) -> Result<T>;
    /// For a file the user named; `what` says which ("the prompt file task.md").
    fn user_file(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn io_context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let message = format!("{}: {}", what(), io_reason(&e));
            if e.kind() == std::io::ErrorKind::InvalidData {
                Error::input(message)
            } else {
                Error::config(message).hint(
                    "check that the directory exists, that this user may read and write it, and that the disk has room",
                )
            }
        })
    }

    fn user_file(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "check the path: it is relative to the directory oneshot runs in"
                }
                std::io::ErrorKind::IsADirectory => "name a file, not a directory",
                std::io::ErrorKind::PermissionDenied => {
                    "make the file readable by this user, or name another one"
                }
                _ => "name a readable text file",
            };
            Error::input(format!("{}: {}", what(), io_reason(&e))).hint(hint)
        })
    }
}

/// The reason of an I/O error in words, without Rust's "(os error 2)".
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_string(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_causes_and_hints() {
        let e = Error::git("could not push")
            .cause("remote rejected\nsecond line")
            .hint("fetch first");
        assert_eq!(
            e.render(),
            "could not push\nCaused by:\n  remote rejected\n    second line\nhint: fetch first"
        );
    }

    #[test]
    fn json_has_the_contract_fields() {
        let v = Error::input("blank prompt").to_json();
        assert_eq!(v["success"], false);
        assert_eq!(v["error_type"], "invalid_input");
        assert_eq!(v["message"], "blank prompt");
        let v = Error::step_failed("step 2 failed")
            .detail("failed_step", 2)
            .detail("success", true)
            .to_json();
        assert_eq!(v["failed_step"], 2);
        assert_eq!(
            v["success"], false,
            "a detail never replaces a standard key"
        );
    }

    #[test]
    fn io_errors_are_classified_by_whose_they_are() {
        use std::io::{Error as IoError, ErrorKind as Io};
        let own = |kind| {
            Err::<(), _>(IoError::from(kind))
                .io_context(|| "could not write x".into())
                .unwrap_err()
        };
        assert_eq!(own(Io::InvalidData).kind, ErrorKind::InvalidInput);
        for kind in [
            Io::NotFound,
            Io::PermissionDenied,
            Io::StorageFull,
            Io::ReadOnlyFilesystem,
        ] {
            assert_eq!(own(kind).kind, ErrorKind::Config, "{kind:?}");
        }
        let named = |kind| {
            Err::<(), _>(IoError::from(kind))
                .user_file(|| "could not read the prompt file t.md".into())
                .unwrap_err()
        };
        for kind in [
            Io::NotFound,
            Io::PermissionDenied,
            Io::IsADirectory,
            Io::InvalidData,
        ] {
            let err = named(kind);
            assert_eq!(err.kind, ErrorKind::InvalidInput, "{kind:?}");
            assert!(!err.hints.is_empty());
        }
        let missing = Err::<(), _>(IoError::from_raw_os_error(2))
            .user_file(|| "could not read the prompt file t.md".into())
            .unwrap_err();
        assert_eq!(
            missing.message,
            "could not read the prompt file t.md: No such file or directory"
        );
    }

    #[test]
    fn exit_codes_are_distinct() {
        use ErrorKind::*;
        let kinds = [
            StepFailed,
            Usage,
            InvalidInput,
            Config,
            Git,
            GitHub,
            Auth,
            Agent,
            Interrupted,
            Internal,
        ];
        let mut codes: Vec<u8> = kinds.iter().map(|k| k.exit_code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), kinds.len());
    }
}
