//! Layered configuration: built-in defaults < `.github/oneshot.toml` < environment < flags.
//!
//! This module is also the one place that reads environment variables (other than the runner's
//! own `GITHUB_ACTIONS`/`GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY`, which `actions` reads): commands
//! get them from [`Environment`].

use std::ffi::OsString;

/// The environment variables oneshot reads, read once at start-up.
#[derive(Debug, Default, Clone)]
pub struct Environment {
    /// `ONESHOT_PROMPT`: the task prompt for `exec write-prompt` (set from a workflow input
    /// through `env:`, never interpolated into a script).
    pub prompt: Option<OsString>,
    /// `ONESHOT_NOW`: pins the clock (RFC 3339) for tests and reproducible dry runs.
    pub now: Option<String>,
}

impl Environment {
    pub fn from_process() -> Self {
        let var = |name: &str| std::env::var_os(name);
        Environment {
            prompt: var("ONESHOT_PROMPT"),
            now: var("ONESHOT_NOW")
                .and_then(|v| v.into_string().ok())
                .filter(|v| !v.is_empty()),
        }
    }
}
