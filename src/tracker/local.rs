//! The tracker of `oneshot run`: a plan store in the repository's git directory takes the place
//! of the plan issue and the pull request.
//!
//! One directory per branch, `.git/oneshot/plans/<branch>/` (in the git directory shared by all
//! work trees, so that no checkout sees it):
//!
//! - `task.md`: the task as given;
//! - `plan.md`: the plan; a person may edit it before implementing or resuming, like the issue;
//! - `plan-result.json`: what the planner answered;
//! - `state.json`: the run's metadata and every step's state, written atomically;
//! - `failure.md`: the report of the last failed step; `summary.md`: the completion summary;
//! - `runs/`: the session reports, transcripts, prompts and partial patches, copied from the
//!   work tree's `.impl/runs/` as the run goes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Completion, FailureReport, PlanRecord, Tracker};
use crate::actions::Runner;
use crate::error::{Error, IoContext, Result};
use crate::markers::{self, StepRecord, StepState};
use crate::plan;

/// Under the git common directory.
pub const STORE_DIR: &str = "oneshot";
pub const TASK: &str = "task.md";
pub const PLAN: &str = "plan.md";
pub const PLAN_RESULT: &str = "plan-result.json";
pub const STATE: &str = "state.json";
pub const FAILURE: &str = "failure.md";
pub const SUMMARY: &str = "summary.md";
pub const RUNS: &str = "runs";

/// The version of `state.json`.
const STATE_VERSION: u32 = 1;

/// Where a local run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The planning session has not produced a valid plan yet.
    Planning,
    /// The planner rejected the task; nothing will be implemented.
    Rejected,
    /// A valid plan, nothing implemented yet.
    Planned,
    Implementing,
    /// A step failed (or the budget ran out); resumable.
    Failed,
    Done,
}

/// `state.json`: what the PR's hidden metadata holds in CI, for a local run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalState {
    pub v: u32,
    pub branch: String,
    pub phase: Phase,
    /// The commit the branch started from.
    pub base_commit: String,
    /// The branch that commit was checked out on, for the review commands (`None`: detached).
    pub base_ref: Option<String>,
    /// The work tree of the branch.
    pub worktree: PathBuf,
    /// When the run started (RFC 3339, UTC).
    pub created_at: String,
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_duration_s: Option<f64>,
    /// Why the run stopped: the rejection's reason or the last error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Whether the steps are pushed to `origin` (`--push`).
    #[serde(default)]
    pub pushed: bool,
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    /// What agent sessions did outside the run's branch (the user's refs, put back, and
    /// changes to the user's checkout), for the summary and `--json`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl LocalState {
    pub fn new(branch: &str, base_commit: &str, worktree: &Path) -> Self {
        LocalState {
            v: STATE_VERSION,
            branch: branch.to_string(),
            phase: Phase::Planning,
            base_commit: base_commit.to_string(),
            base_ref: None,
            worktree: worktree.to_path_buf(),
            created_at: String::new(),
            agent: String::new(),
            model: None,
            plan_title: None,
            plan_sha256: None,
            plan_cost_usd: None,
            plan_duration_s: None,
            reason: None,
            pushed: false,
            steps: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The first failed step.
    pub fn failed_step(&self) -> Option<u32> {
        self.steps
            .iter()
            .find(|s| s.state == StepState::Failed)
            .map(|s| s.number)
    }

    pub fn done_steps(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Done)
            .count()
    }

    /// What the one-shot has cost so far: the plan and every step as recorded.
    pub fn cost_usd(&self) -> f64 {
        self.plan_cost_usd.unwrap_or(0.0)
            + self.steps.iter().filter_map(|s| s.cost_usd).sum::<f64>()
    }

    /// The time spent in sessions and checks so far: the plan and every step as recorded.
    pub fn duration_s(&self) -> f64 {
        self.plan_duration_s.unwrap_or(0.0)
            + self.steps.iter().filter_map(|s| s.duration_s).sum::<f64>()
    }
}

/// A branch name as one path component: characters outside `[A-Za-z0-9._-]` (a `/` above all)
/// become `%XX`, so that every name maps to its own directory and none escapes the store.
pub fn path_component(branch: &str) -> String {
    let mut out = String::with_capacity(branch.len());
    for byte in branch.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => out.push(byte as char),
            // A leading dot would hide the directory, and `..` would climb out of the store.
            b'.' if !out.is_empty() => out.push('.'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The plan store of one branch.
#[derive(Debug, Clone)]
pub struct PlanStore {
    pub dir: PathBuf,
    pub branch: String,
}

impl PlanStore {
    /// `.git/oneshot/plans/<branch>` for the git common directory `common_dir`.
    pub fn dir_for(common_dir: &Path, branch: &str) -> PathBuf {
        common_dir
            .join(STORE_DIR)
            .join("plans")
            .join(path_component(branch))
    }

    /// The store of `branch`, if a local run made one.
    pub fn open(common_dir: &Path, branch: &str) -> Option<Self> {
        let dir = Self::dir_for(common_dir, branch);
        dir.join(STATE).is_file().then(|| PlanStore {
            dir,
            branch: branch.to_string(),
        })
    }

    /// Creates the store with the task and the first state.
    pub fn create(common_dir: &Path, state: &LocalState, task: &str) -> Result<Self> {
        let dir = Self::dir_for(common_dir, &state.branch);
        std::fs::create_dir_all(dir.join(RUNS))
            .io_context(|| format!("could not create the plan store {}", dir.display()))?;
        let store = PlanStore {
            dir,
            branch: state.branch.clone(),
        };
        store.write(TASK, task)?;
        store.save(state)?;
        Ok(store)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn state(&self) -> Result<LocalState> {
        let path = self.path(STATE);
        let text = std::fs::read_to_string(&path)
            .io_context(|| format!("could not read {}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            Error::input(format!("{} is not a valid run state", path.display()))
                .cause(e)
                .hint("restore it, or start the task again with `oneshot run`")
        })
    }

    pub fn save(&self, state: &LocalState) -> Result<()> {
        let text = serde_json::to_string_pretty(state)
            .map_err(|e| Error::internal(format!("could not write the run state: {e}")))?;
        self.write(STATE, &format!("{text}\n"))
    }

    /// Reads the state, changes it and writes it back.
    pub fn update(&self, change: impl FnOnce(&mut LocalState)) -> Result<LocalState> {
        let mut state = self.state()?;
        change(&mut state);
        self.save(&state)?;
        Ok(state)
    }

    /// Writes a file of the store atomically: a reader (or a crash) sees the old content or the
    /// new one, never half of it.
    pub fn write(&self, name: &str, text: &str) -> Result<()> {
        let path = self.path(name);
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)
            .io_context(|| format!("could not write {}", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .io_context(|| format!("could not write {}", path.display()))?;
        file.persist(&path)
            .map_err(|e| e.error)
            .io_context(|| format!("could not write {}", path.display()))?;
        Ok(())
    }

    /// A file of the store; `None` when it does not exist.
    pub fn read(&self, name: &str) -> Result<Option<String>> {
        let path = self.path(name);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).io_context(|| format!("could not read {}", path.display())),
        }
    }

    /// Copies what the sessions left in a work tree's `.impl/runs/` into the store's `runs/`,
    /// so that the reports outlive the work tree. Files already there with the same size are
    /// skipped (transcripts only grow while a session runs).
    pub fn keep_runs(&self, from: &Path) -> Result<()> {
        let Ok(entries) = std::fs::read_dir(from) else {
            return Ok(());
        };
        let to = self.path(RUNS);
        std::fs::create_dir_all(&to).io_context(|| format!("could not create {}", to.display()))?;
        for entry in entries.flatten() {
            let source = entry.path();
            let Ok(meta) = entry.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            let target = to.join(entry.file_name());
            let same = std::fs::metadata(&target).is_ok_and(|t| t.len() == meta.len());
            if !same {
                std::fs::copy(&source, &target).io_context(|| {
                    format!("could not copy {} into the plan store", source.display())
                })?;
            }
        }
        Ok(())
    }
}

/// Held while a command works on a local run, so that two commands never implement the same
/// branch at once.
///
/// An OS lock (`flock`) on `<store>/lock`, so that a oneshot that was killed (even by SIGKILL)
/// holds nothing. Its file descriptor is deliberately inherited by the programs oneshot starts
/// (not close-on-exec): an agent still running after its oneshot was killed keeps the lock, and
/// a second command is refused for as long as any process of the first run lives. The file
/// holds the pid of the last command that took it, and stays (removing it would let two
/// commands lock two different files).
#[derive(Debug)]
pub struct RunLock {
    _lock: nix::fcntl::Flock<std::fs::File>,
}

impl PlanStore {
    /// Takes the store's lock, or says which processes hold it.
    pub fn lock(&self) -> Result<RunLock> {
        use nix::fcntl::{FcntlArg, FdFlag, Flock, FlockArg, fcntl};
        let path = self.path("lock");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .io_context(|| format!("could not open the lock {}", path.display()))?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => lock,
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {
                let mut holders = processes_holding(&path);
                if holders.is_empty() {
                    // Not Linux, or not ours to see: the pid the file names.
                    holders.extend(
                        std::fs::read_to_string(&path)
                            .ok()
                            .and_then(|t| t.trim().parse::<i32>().ok())
                            .map(|pid| format!("process {pid}")),
                    );
                }
                let who = if holders.is_empty() {
                    "another process".to_string()
                } else {
                    holders.join(", ")
                };
                return Err(Error::input(format!(
                    "another oneshot run of {} is still working: {who} holds its lock",
                    self.branch
                ))
                .cause(format!("the lock is {}", path.display()))
                .hint("an agent keeps the lock of the oneshot that started it, even after that oneshot was killed")
                .hint("wait for it to finish, or stop it (kill PID), then try again"));
            }
            Err((_, e)) => {
                return Err(Error::internal(format!(
                    "could not lock {}: {e}",
                    path.display()
                )));
            }
        };
        fcntl(&*lock, FcntlArg::F_SETFD(FdFlag::empty()))
            .map_err(|e| Error::internal(format!("could not set up the lock: {e}")))?;
        let _ = lock.set_len(0);
        let _ = std::io::Write::write_all(&mut *lock, std::process::id().to_string().as_bytes());
        Ok(RunLock { _lock: lock })
    }
}

/// The live processes that have `path` open (`process 123 (claude)`), from `/proc/*/fd`; empty
/// where there is no `/proc`. Only processes of the same user can be seen, which is who runs
/// oneshot and its agents.
pub fn processes_holding(path: &Path) -> Vec<String> {
    let Ok(target) = path.canonicalize() else {
        return Vec::new();
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        let holds = fds
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l == target));
        if holds {
            let comm = std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
            found.push(format!("process {pid} ({})", comm.trim()));
        }
    }
    found
}

/// The tracker on a plan store. Progress is shown by the step loop itself (on stderr); this
/// records it.
pub struct LocalTracker<'a> {
    pub store: &'a PlanStore,
    pub runner: &'a Runner,
    /// The work tree's `.impl/runs/`, copied into the store whenever progress is recorded.
    pub runs: Option<PathBuf>,
}

impl LocalTracker<'_> {
    fn keep_runs(&self) -> Result<()> {
        match &self.runs {
            Some(dir) => self.store.keep_runs(dir),
            None => Ok(()),
        }
    }
}

impl Tracker for LocalTracker<'_> {
    fn plan(&mut self) -> Result<PlanRecord> {
        let path = self.store.path(PLAN);
        let Some(text) = self.store.read(PLAN)? else {
            return Err(Error::input(format!(
                "the local run of {} has no plan yet ({} does not exist)",
                self.store.branch,
                path.display()
            ))
            .hint(format!(
                "run `oneshot run --resume {}` to plan it again",
                self.store.branch
            )));
        };
        let plan = plan::parse(&text).map_err(|problems| {
            let mut err = Error::input(format!(
                "the plan in {} is not valid ({} problems)",
                path.display(),
                problems.len()
            ));
            for p in problems.iter().take(10) {
                err = err.cause(format!("line {}: {}", p.line, p.message));
            }
            err.hint(format!(
                "edit {} so that it has a `# title` and `### Step N: …` headings under `## Steps`, then run `oneshot run --resume {}`",
                path.display(),
                self.store.branch
            ))
        })?;
        let sha = plan.sha256();
        let state = self.store.state()?;
        if state.plan_sha256.as_deref().is_some_and(|s| s != sha) {
            self.runner
                .info(&format!("Using the edited plan in {}", path.display()));
        }
        if state.plan_sha256.as_deref() != Some(sha.as_str()) {
            let title = plan.title.clone();
            self.store.update(|s| {
                s.plan_sha256 = Some(sha);
                s.plan_title = Some(title);
            })?;
        }
        Ok(PlanRecord {
            text,
            plan,
            branch: Some(self.store.branch.clone()),
        })
    }

    fn recorded_steps(&mut self) -> Result<Vec<StepRecord>> {
        Ok(self.store.state()?.steps)
    }

    fn set_progress(&mut self, steps: &[StepRecord]) -> Result<()> {
        self.keep_runs()?;
        self.store.update(|s| {
            s.steps = steps.to_vec();
            s.phase = if steps.iter().any(|s| s.state == StepState::Failed) {
                Phase::Failed
            } else {
                Phase::Implementing
            };
        })?;
        Ok(())
    }

    fn report_failure(&mut self, failure: &FailureReport) -> Result<()> {
        self.keep_runs()?;
        let patch = self
            .store
            .path(RUNS)
            .join(format!("step-{}-partial.patch", failure.step));
        let text = failure_report(failure, patch.is_file().then_some(patch.as_path()));
        self.store.write(FAILURE, &text)?;
        self.store.update(|s| {
            s.phase = Phase::Failed;
            s.reason = Some(failure.cause.clone());
        })?;
        self.runner.info(&format!(
            "{}\n(kept in {})",
            text.trim_end(),
            self.store.path(FAILURE).display()
        ));
        Ok(())
    }

    fn complete(&mut self, completion: &Completion) -> Result<()> {
        self.keep_runs()?;
        let state = self.store.update(|s| {
            s.steps = completion.steps.clone();
            s.phase = Phase::Done;
            s.reason = None;
        })?;
        self.store.write(SUMMARY, &summary(&state, completion))?;
        Ok(())
    }
}

/// `failure.md`: what broke, the agent's last words, the partial work, how to resume.
pub fn failure_report(f: &FailureReport, patch: Option<&Path>) -> String {
    let mut out = format!(
        "# Step {}: {} failed\n\n{}\n\nThe steps before it are committed on the branch; this step's partial work is not.\n",
        f.step,
        markers::escape_inline(&f.step_title),
        f.cause
    );
    if let Some(text) = f.agent_output.as_deref().filter(|t| !t.trim().is_empty()) {
        out.push_str(&format!(
            "\n## The agent's last output\n\n{}\n",
            markers::code_block(text.trim_end(), "text")
        ));
    }
    if let Some(diff) = f.diff.as_deref().filter(|d| !d.trim().is_empty()) {
        out.push_str(&format!(
            "\n## The step's partial work\n\n{}\n",
            markers::code_block(diff.trim_end(), "diff")
        ));
    }
    if let Some(patch) = patch {
        out.push_str(&format!(
            "\nThe partial work is kept as {}.\n",
            patch.display()
        ));
    }
    out.push_str(&format!("\nTo resume from this step: {}\n", f.resume));
    out
}

/// `summary.md`: the plan's title, the steps, and what changed.
fn summary(state: &LocalState, c: &Completion) -> String {
    let title = state.plan_title.as_deref().unwrap_or(&state.branch);
    let mut out = format!(
        "# {}\n\nBranch `{}`: {} steps · {} files changed · {} · ${:.2}\n\n{}",
        markers::escape_inline(title),
        state.branch,
        c.steps.len(),
        c.files_changed,
        markers::format_duration(c.duration_s),
        c.cost_usd,
        markers::render_progress(&c.steps)
    );
    if !c.diffstat.trim().is_empty() {
        out.push_str(&format!("\n```\n{}\n```\n", c.diffstat.trim_end()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn branch_names_stay_one_path_component() {
        assert_eq!(
            path_component("oneshot-add-a-flag-01-15-1430"),
            "oneshot-add-a-flag-01-15-1430"
        );
        assert_eq!(path_component("feature/x"), "feature%2Fx");
        assert_eq!(path_component("../../etc"), "%2E.%2F..%2Fetc");
        assert_eq!(path_component(".hidden"), "%2Ehidden");
        assert_eq!(path_component("a b%"), "a%20b%25");
        // Distinct names, distinct directories.
        assert_ne!(path_component("a/b"), path_component("a%2Fb"));
    }

    #[test]
    fn state_is_written_atomically_and_read_back() {
        let git = tempfile::tempdir().unwrap();
        let mut state = LocalState::new("feature/x", "abc", Path::new("/wt"));
        state.steps.push(StepRecord {
            number: 1,
            title: "A".into(),
            state: StepState::Done,
            duration_s: Some(2.0),
            cost_usd: Some(0.5),
            commit: Some("c1".into()),
            note: None,
        });
        state.plan_cost_usd = Some(0.25);
        let store = PlanStore::create(git.path(), &state, "the task\n").unwrap();
        assert!(store.dir.ends_with("oneshot/plans/feature%2Fx"));
        let opened = PlanStore::open(git.path(), "feature/x").unwrap();
        assert_eq!(opened.state().unwrap(), state);
        assert_eq!(opened.read(TASK).unwrap().as_deref(), Some("the task\n"));
        assert_eq!(opened.read(PLAN).unwrap(), None);
        assert_eq!(state.cost_usd(), 0.75);
        assert_eq!(state.done_steps(), 1);
        // No temporary file is left next to the state.
        let names: Vec<String> = std::fs::read_dir(&store.dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(PlanStore::open(git.path(), "other").is_none());
    }

    #[test]
    fn one_command_at_a_time_and_stale_locks_are_taken_over() {
        let git = tempfile::tempdir().unwrap();
        let store = PlanStore::create(
            git.path(),
            &LocalState::new("b", "abc", Path::new("/wt")),
            "t",
        )
        .unwrap();
        let lock = store.lock().unwrap();
        let err = store.lock().unwrap_err();
        assert!(
            err.message
                .contains("another oneshot run of b is still working"),
            "{}",
            err.message
        );
        assert!(
            err.message
                .contains(&format!("process {}", std::process::id())),
            "the holder is named: {}",
            err.message
        );
        drop(lock);
        // The file names a process that is gone: the OS lock is free, so it is taken.
        std::fs::write(store.path("lock"), "2147483000").unwrap();
        let _lock = store.lock().unwrap();
    }

    #[test]
    fn a_broken_state_file_says_what_to_do() {
        let git = tempfile::tempdir().unwrap();
        let state = LocalState::new("b", "abc", Path::new("/wt"));
        let store = PlanStore::create(git.path(), &state, "t").unwrap();
        std::fs::write(store.path(STATE), "{").unwrap();
        let err = store.state().unwrap_err();
        assert!(
            err.message.contains("not a valid run state"),
            "{}",
            err.message
        );
    }
}
