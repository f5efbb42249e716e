//! The files oneshot keeps in a checkout (DESIGN.md §3 "Files on the branch and in the job"):
//! `.worker-impl/` is committed on the branch by dispatch; `.impl/` is job-local and never
//! committed, which `.git/info/exclude` guarantees.

use std::path::{Path, PathBuf};

use crate::error::{IoContext, Result};
use crate::git::Git;

pub const WORKER_DIR: &str = ".worker-impl";
pub const WORKER_TASK: &str = ".worker-impl/task.md";
pub const IMPL_DIR: &str = ".impl";
pub const TASK: &str = ".impl/task.md";
pub const PLAN: &str = ".impl/plan.md";
pub const PLAN_RESULT: &str = ".impl/plan-result.json";
pub const RUNS_DIR: &str = ".impl/runs";

/// A checkout: the top of the work tree and its git handle.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub root: PathBuf,
    pub git: Git,
}

impl Workspace {
    /// The work tree that contains `dir`.
    pub fn find(dir: &Path) -> Result<Self> {
        let root = Git::new(dir).toplevel()?;
        let git = Git::new(&root);
        Ok(Workspace { root, git })
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Creates `.impl/` and makes sure git ignores it through `.git/info/exclude` (which, unlike
    /// `.gitignore`, is not part of the repository).
    pub fn ensure_impl_dir(&self) -> Result<PathBuf> {
        let dir = self.path(IMPL_DIR);
        std::fs::create_dir_all(&dir)
            .io_context(|| format!("could not create {}", dir.display()))?;
        let info = self.git.common_dir()?.join("info");
        let exclude = info.join("exclude");
        let current = std::fs::read_to_string(&exclude).unwrap_or_default();
        const PATTERN: &str = "/.impl/";
        if !current.lines().any(|l| l.trim() == PATTERN) {
            std::fs::create_dir_all(&info)
                .io_context(|| format!("could not create {}", info.display()))?;
            let mut text = current;
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("# oneshot: job-local working files, never committed\n");
            text.push_str(PATTERN);
            text.push('\n');
            std::fs::write(&exclude, text)
                .io_context(|| format!("could not write {}", exclude.display()))?;
        }
        Ok(dir)
    }
}
