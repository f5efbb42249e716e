//! Shared test support: a hermetic environment for running the real binary, temp repositories
//! with a bare `origin`, output rendering for snapshots, and a parser for the runner's files.

#![allow(dead_code)]

pub mod fake_github;
pub mod github;
pub mod runner_files;
pub mod workflow_runner;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The pinned clock of every test run.
pub const NOW: &str = "2024-01-15T14:30:00Z";

/// A hermetic environment: nothing from the developer's environment reaches the binary or git,
/// git's global and system config are off, the clock and identity are pinned.
pub struct TestEnv {
    pub root: TempDir,
    pub home: PathBuf,
    vars: Vec<(String, String)>,
}

impl TestEnv {
    pub fn new() -> Self {
        let root = tempfile::Builder::new()
            .prefix("oneshot-test-")
            .tempdir()
            .unwrap();
        let home = root.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let vars = vec![
            ("PATH".into(), base_path()),
            ("HOME".into(), home.display().to_string()),
            ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
            ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
            ("GIT_AUTHOR_NAME".into(), "Test Author".into()),
            ("GIT_AUTHOR_EMAIL".into(), "author@example.com".into()),
            ("GIT_COMMITTER_NAME".into(), "Test Author".into()),
            ("GIT_COMMITTER_EMAIL".into(), "author@example.com".into()),
            ("GIT_AUTHOR_DATE".into(), "2024-01-15T14:00:00Z".into()),
            ("GIT_COMMITTER_DATE".into(), "2024-01-15T14:00:00Z".into()),
            ("ONESHOT_NOW".into(), NOW.into()),
            ("LC_ALL".into(), "C".into()),
        ];
        TestEnv { root, home, vars }
    }

    /// Sets (or replaces) a variable for every command started from this environment.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.vars.retain(|(k, _)| k != key);
        self.vars.push((key.to_string(), value.into()));
    }

    pub fn unset(&mut self, key: &str) {
        self.vars.retain(|(k, _)| k != key);
    }

    /// Puts a directory first on PATH (for fake programs).
    pub fn prepend_path(&mut self, dir: &Path) {
        let path = format!("{}:{}", dir.display(), self.var("PATH").unwrap_or_default());
        self.set("PATH", path);
    }

    /// Every variable of this environment, in the order they were set.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn var(&self, key: &str) -> Option<String> {
        self.vars
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    }

    /// A temp directory inside this environment's root.
    pub fn dir(&self, name: &str) -> PathBuf {
        let dir = self.root.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The oneshot binary under test, started in `dir` with only this environment.
    pub fn oneshot(&self, dir: &Path) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_oneshot"));
        cmd.current_dir(dir)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs git in `dir` and returns its stdout; panics with git's stderr on failure.
    pub fn git<I, S>(&self, dir: &Path, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = Command::new("git")
            .current_dir(dir)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .args(&args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "git {:?} failed: {}",
            args,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// A repository with one commit on `main`, pushed to a bare `origin` whose HEAD is `main`.
    /// `git clone` would also set `refs/remotes/origin/HEAD`; this does not, like
    /// actions/checkout, so that tests choose what the clone knows.
    pub fn repo_with_origin(&self) -> TestRepo {
        let origin = self.root.path().join(format!("origin-{}.git", unique()));
        let work = self.root.path().join(format!("work-{}", unique()));
        std::fs::create_dir_all(&work).unwrap();
        self.git(
            self.root.path(),
            [
                "init",
                "--quiet",
                "--bare",
                "-b",
                "main",
                origin.to_str().unwrap(),
            ],
        );
        self.git(&work, ["init", "--quiet", "-b", "main"]);
        std::fs::write(work.join("README.md"), "# demo\n").unwrap();
        self.git(&work, ["add", "README.md"]);
        self.git(&work, ["commit", "--quiet", "-m", "Initial commit"]);
        self.git(&work, ["remote", "add", "origin", origin.to_str().unwrap()]);
        self.git(&work, ["push", "--quiet", "origin", "main"]);
        self.git(&work, ["fetch", "--quiet", "origin"]);
        TestRepo { work, origin }
    }
}

impl Default for TestEnv {
    fn default() -> Self {
        Self::new()
    }
}

/// A work tree and its bare `origin`.
pub struct TestRepo {
    pub work: PathBuf,
    pub origin: PathBuf,
}

impl TestRepo {
    pub fn write(&self, relative: &str, content: impl AsRef<[u8]>) {
        let path = self.work.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.work.join(relative)).unwrap()
    }
}

fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    N.fetch_add(1, Ordering::Relaxed).to_string()
}

/// PATH for the hermetic environment: where git lives, plus the system directories.
fn base_path() -> String {
    let mut dirs: Vec<String> = Vec::new();
    if let Ok(git) = which_git() {
        dirs.push(git.parent().unwrap().display().to_string());
    }
    for d in ["/usr/local/bin", "/usr/bin", "/bin"] {
        if !dirs.iter().any(|x| x == d) {
            dirs.push(d.to_string());
        }
    }
    dirs.join(":")
}

fn which_git() -> Result<PathBuf, ()> {
    let path = std::env::var_os("PATH").ok_or(())?;
    std::env::split_paths(&path)
        .map(|d| d.join("git"))
        .find(|p| p.is_file())
        .ok_or(())
}

/// stdout, stderr and the exit code as one block for snapshots, with temp paths replaced.
pub fn render(output: &Output, env: &TestEnv) -> String {
    let code = output
        .status
        .code()
        .map_or("signal".to_string(), |c| c.to_string());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let text = format!("exit: {code}\n----- stdout -----\n{stdout}----- stderr -----\n{stderr}");
    filter(&text, env)
}

/// Replaces the environment's temp root with `[TEMP]` and numbered temp names with `N`.
pub fn filter(text: &str, env: &TestEnv) -> String {
    let root = env.root.path().display().to_string();
    let mut out = text.replace(&root, "[TEMP]");
    // Canonicalised temp paths (e.g. /private/var on macOS) too.
    if let Ok(canon) = env.root.path().canonicalize() {
        out = out.replace(&canon.display().to_string(), "[TEMP]");
    }
    let mut result = String::with_capacity(out.len());
    let mut rest = out.as_str();
    // "work-12" / "origin-3.git" -> "work-N" / "origin-N.git"
    while let Some(pos) = rest.find(|c: char| c.is_ascii_digit()) {
        let (head, tail) = rest.split_at(pos);
        result.push_str(head);
        let digits = tail.chars().take_while(|c| c.is_ascii_digit()).count();
        if head.ends_with("[TEMP]/work-") || head.ends_with("[TEMP]/origin-") {
            result.push('N');
        } else {
            result.push_str(&tail[..digits]);
        }
        rest = &tail[digits..];
    }
    result.push_str(rest);
    result
}

/// Runs and asserts the exit code, returning the output.
pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "command failed ({:?})\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A command's exit code, stdout and stderr, for failure messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Asserts that a oneshot command succeeded and returns its JSON result.
pub fn succeeded(out: Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "failed ({:?}):\n{}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout_json(&out)
}

/// The stdout of a command parsed as the one JSON object the contract promises.
pub fn stdout_json(output: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        text.lines().count(),
        1,
        "stdout must be exactly one JSON line, got:\n{text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{text}"))
}
