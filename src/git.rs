//! The only place that runs git.
//!
//! git is found on `PATH` once, started with a clean environment (nothing inherited that could
//! point it at another repository or index), `LC_ALL=C` so that messages can be matched, no
//! terminal prompts and a null stdin. Every failure names what oneshot was doing and carries the
//! arguments and git's stderr.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Environment variables that may reach git. Everything else named `GIT_*` is removed: variables
/// such as `GIT_DIR`, `GIT_WORK_TREE`, `GIT_INDEX_FILE` or `GIT_CONFIG_PARAMETERS`, set by a hook
/// or a parent git process, would silently point git at another repository or index.
const GIT_ENV_KEPT: &[&str] = &[
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_CONFIG_SYSTEM",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_SSH_VARIANT",
    "GIT_ASKPASS",
    "GIT_EXEC_PATH",
];

/// The identity of commits oneshot makes on its own (step commits, and the task commit when
/// git has no identity configured).
pub const BOT_NAME: &str = "oneshot";
pub const BOT_EMAIL: &str = "oneshot@users.noreply.github.com";

fn git_program() -> Result<&'static Path> {
    static GIT: OnceLock<Option<PathBuf>> = OnceLock::new();
    GIT.get_or_init(|| which::which("git").ok())
        .as_deref()
        .ok_or_else(|| {
            Error::git("git was not found on PATH").hint("install git and make sure it is on PATH")
        })
}

/// The result of a git command that is allowed to fail.
#[derive(Debug)]
pub struct GitOutput {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A git repository (or a directory inside one) that commands run in.
#[derive(Debug, Clone)]
pub struct Git {
    dir: PathBuf,
    /// Extra `-c` settings passed through the environment (`GIT_CONFIG_COUNT`…), so that they
    /// never show in a process list and are never written to `.git/config`.
    config_env: Vec<(String, String)>,
}

impl Git {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Git {
            dir: dir.into(),
            config_env: Vec::new(),
        }
    }

    /// A copy of this handle whose commands carry one more config setting, given through the
    /// environment (used for the push credential).
    pub fn with_config(&self, key: &str, value: &str) -> Self {
        let mut git = self.clone();
        git.config_env.push((key.to_string(), value.to_string()));
        git
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        let mut cmd = Command::new(git_program()?);
        // Hooks and fsmonitor are programs the work tree's config names; an agent can write that
        // config, so git never runs them for oneshot.
        cmd.current_dir(&self.dir)
            .args([
                "-c",
                "core.hooksPath=/dev/null",
                "-c",
                "core.fsmonitor=false",
            ])
            .args(args)
            .stdin(Stdio::null());
        for (key, _) in crate::config::inherited_environment() {
            let name = key.to_string_lossy();
            let redirects = name.starts_with("GIT_") && !GIT_ENV_KEPT.contains(&name.as_ref());
            // No token or key reaches git: a filter driver or credential helper set up by an
            // agent would see what git sees. The push credential travels in GIT_CONFIG_* below.
            if redirects || crate::agent::env::is_secret(&name) {
                cmd.env_remove(&key);
            }
        }
        cmd.env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .env("GIT_TERMINAL_PROMPT", "0");
        if !self.config_env.is_empty() {
            cmd.env("GIT_CONFIG_COUNT", self.config_env.len().to_string());
            for (i, (key, value)) in self.config_env.iter().enumerate() {
                cmd.env(format!("GIT_CONFIG_KEY_{i}"), key);
                cmd.env(format!("GIT_CONFIG_VALUE_{i}"), value);
            }
        }
        Ok(cmd)
    }

    fn output(&self, purpose: &str, args: &[&str], env: &[(&str, OsString)]) -> Result<Output> {
        let mut cmd = self.command(args)?;
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().map_err(|e| {
            Error::git(format!("could not run git to {purpose}"))
                .cause(format!("git {}: {e}", args.join(" ")))
        })
    }

    /// Runs git and returns its stdout; a non-zero exit is an error that says what failed.
    pub fn run(&self, purpose: &str, args: &[&str]) -> Result<String> {
        self.run_with_env(purpose, args, &[])
    }

    /// [`Git::run`] with extra environment variables (e.g. `GIT_INDEX_FILE` for a private index).
    pub fn run_with_env(
        &self,
        purpose: &str,
        args: &[&str],
        env: &[(&str, OsString)],
    ) -> Result<String> {
        let out = self.output(purpose, args, env)?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(self.failure(purpose, args, &out))
    }

    /// Runs git and reports how it went, without turning a non-zero exit into an error.
    pub fn try_run(&self, purpose: &str, args: &[&str]) -> Result<GitOutput> {
        let out = self.output(purpose, args, &[])?;
        Ok(GitOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn failure(&self, purpose: &str, args: &[&str], out: &Output) -> Error {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let status = match out.status.code() {
            Some(code) => format!("exit code {code}"),
            None => "killed by a signal".to_string(),
        };
        let mut err = Error::git(format!("git failed to {purpose}"))
            .cause(format!("git {} ({status})", redact_args(args)));
        if !stderr.trim().is_empty() {
            err = err.cause(stderr.trim_end());
        }
        err
    }

    /// The top directory of the work tree.
    pub fn toplevel(&self) -> Result<PathBuf> {
        let out = self.try_run("find the repository", &["rev-parse", "--show-toplevel"])?;
        if !out.success {
            return Err(Error::git(format!(
                "{} is not inside a git repository",
                self.dir.display()
            ))
            .hint("run oneshot inside a clone of your repository"));
        }
        Ok(PathBuf::from(out.stdout.trim_end_matches('\n')))
    }

    /// The directory shared by all worktrees (where `info/exclude` lives).
    pub fn common_dir(&self) -> Result<PathBuf> {
        let out = self.run(
            "find the git directory",
            &["rev-parse", "--path-format=absolute", "--git-common-dir"],
        )?;
        Ok(PathBuf::from(out.trim_end_matches('\n')))
    }

    /// Resolves a symbolic ref such as `refs/remotes/origin/HEAD`; `None` if it does not exist.
    pub fn symbolic_ref(&self, name: &str) -> Result<Option<String>> {
        let out = self.try_run("read a symbolic ref", &["symbolic-ref", "--quiet", name])?;
        Ok(out
            .success
            .then(|| out.stdout.trim().to_string())
            .filter(|s| !s.is_empty()))
    }

    /// Whether a ref exists locally (exact name, e.g. `refs/remotes/origin/main`).
    pub fn ref_exists(&self, full_name: &str) -> Result<bool> {
        let out = self.try_run(
            "look up a ref",
            &["show-ref", "--verify", "--quiet", full_name],
        )?;
        Ok(out.success)
    }

    /// The branch the remote's HEAD points at, asked from the remote itself.
    pub fn remote_head_branch(&self, remote: &str) -> Result<Option<String>> {
        let out = self.run(
            "ask the remote for its default branch",
            &["ls-remote", "--symref", remote, "HEAD"],
        )?;
        Ok(parse_ls_remote_symref(&out))
    }

    /// The branch heads the remote has, by exact name (`refs/heads/<name>` → `<name>`).
    pub fn remote_branches(&self, remote: &str, names: &[&str]) -> Result<Vec<String>> {
        let mut args = vec!["ls-remote", "--heads", remote];
        let patterns: Vec<String> = names.iter().map(|n| format!("refs/heads/{n}")).collect();
        args.extend(patterns.iter().map(String::as_str));
        let out = self.run("list the remote's branches", &args)?;
        Ok(out
            .lines()
            .filter_map(|line| line.split_once('\t'))
            .filter_map(|(_, r)| r.strip_prefix("refs/heads/"))
            .filter(|b| names.contains(b))
            .map(str::to_string)
            .collect())
    }

    /// Checks that `name` is a valid branch name (`git check-ref-format --branch`).
    pub fn check_branch_name(&self, name: &str) -> Result<()> {
        let valid = !name.is_empty()
            && !name.starts_with('-')
            && self
                .try_run(
                    "check a branch name",
                    &["check-ref-format", "--branch", name],
                )?
                .success;
        if valid {
            Ok(())
        } else {
            Err(Error::input(format!("{name:?} is not a valid branch name"))
                .hint("branch names cannot contain spaces, `..`, `~`, `^`, `:`, `?`, `*`, `[` or `\\`"))
        }
    }

    /// The checked-out branch; `None` on a detached HEAD.
    pub fn current_branch(&self) -> Result<Option<String>> {
        self.symbolic_ref("HEAD")
            .map(|r| r.and_then(|r| r.strip_prefix("refs/heads/").map(str::to_string)))
    }

    /// Runs git with `input` on stdin and returns its stdout.
    pub fn run_with_input(
        &self,
        purpose: &str,
        args: &[&str],
        input: &[u8],
        env: &[(&str, OsString)],
    ) -> Result<String> {
        use std::io::Write;
        let mut cmd = self.command(args)?;
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().map_err(|e| {
            Error::git(format!("could not run git to {purpose}"))
                .cause(format!("git {}: {e}", args.join(" ")))
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A write error shows up as git's own failure below.
            let _ = stdin.write_all(input);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| Error::git(format!("git failed to {purpose}")).cause(e))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(self.failure(purpose, args, &out))
        }
    }

    /// The commit a remote branch points at (`None` if the remote has no such branch).
    pub fn remote_branch_commit(&self, remote: &str, branch: &str) -> Result<Option<String>> {
        let full = format!("refs/heads/{branch}");
        let out = self.run(
            "ask the remote for a branch",
            &["ls-remote", "--heads", remote, &full],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(_, r)| *r == full)
            .map(|(sha, _)| sha.to_string()))
    }

    /// Names of the remote's branches that start with `prefix` (one round trip).
    pub fn remote_branches_with_prefix(&self, remote: &str, prefix: &str) -> Result<Vec<String>> {
        let pattern = format!("refs/heads/{prefix}*");
        let out = self.run(
            "list the remote's branches",
            &["ls-remote", "--heads", remote, &pattern],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(_, r)| r.strip_prefix("refs/heads/"))
            .map(str::to_string)
            .collect())
    }

    /// Whether the object database has this commit.
    pub fn has_commit(&self, sha: &str) -> Result<bool> {
        let spec = format!("{sha}^{{commit}}");
        Ok(self
            .try_run("look up a commit", &["cat-file", "-e", &spec])?
            .success)
    }

    /// Fetches a remote branch's objects without touching any ref, FETCH_HEAD included, so the
    /// user's checkout and branches stay exactly as they were.
    pub fn fetch_objects(&self, remote: &str, branch: &str) -> Result<()> {
        let full = format!("refs/heads/{branch}");
        self.run(
            &format!("fetch {branch} from {remote}"),
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                remote,
                &full,
            ],
        )
        .map(drop)
    }

    /// Pushes `commit` as a new branch; fails if the branch already exists (an empty lease means
    /// "must not exist"), so an existing branch is never reused or overwritten.
    pub fn push_new_branch(&self, remote: &str, commit: &str, branch: &str) -> Result<GitOutput> {
        let refspec = format!("{commit}:refs/heads/{branch}");
        let lease = format!("--force-with-lease=refs/heads/{branch}:");
        self.try_run(
            &format!("push the branch {branch}"),
            &["push", "--quiet", "--porcelain", &lease, remote, &refspec],
        )
    }

    /// Deletes a remote branch.
    pub fn delete_remote_branch(&self, remote: &str, branch: &str) -> Result<()> {
        self.run(
            &format!("delete the branch {branch}"),
            &["push", "--quiet", remote, "--delete", branch],
        )
        .map(drop)
    }

    /// Checks out a remote branch in this work tree, at the remote's commit (for a job's
    /// disposable checkout on a runner, never a person's).
    pub fn check_out_remote_branch(&self, remote: &str, branch: &str) -> Result<()> {
        let sha = self
            .remote_branch_commit(remote, branch)?
            .ok_or_else(|| Error::git(format!("the branch {branch} is not on {remote}")))?;
        if !self.has_commit(&sha)? {
            self.fetch_objects(remote, branch)?;
        }
        self.run(
            &format!("check out {branch}"),
            &["checkout", "--quiet", "-B", branch, &sha],
        )
        .map(drop)
    }

    /// A config value, if set.
    pub fn config_get(&self, key: &str) -> Result<Option<String>> {
        let out = self.try_run("read git config", &["config", "--get", key])?;
        Ok(out
            .success
            .then(|| out.stdout.trim().to_string())
            .filter(|v| !v.is_empty()))
    }

    /// A handle whose HTTPS requests to `server_url` carry the token as a basic-auth header,
    /// given through the environment: never on the command line, never in `.git/config`.
    pub fn with_token(&self, server_url: &str, token: &str) -> Self {
        use base64::Engine;
        let basic =
            base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
        let key = format!("http.{}/.extraheader", server_url.trim_end_matches('/'));
        self.with_config(&key, &format!("AUTHORIZATION: basic {basic}"))
    }

    /// The remote's branches as this clone last saw them (`refs/remotes/<remote>/*`), no network.
    pub fn local_remote_branches(&self, remote: &str) -> Result<Vec<String>> {
        let prefix = format!("refs/remotes/{remote}/");
        let out = self.run(
            "list remote-tracking branches",
            &["for-each-ref", "--format=%(refname)", &prefix],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter(|b| *b != "HEAD")
            .map(str::to_string)
            .collect())
    }

    /// The commit HEAD points at.
    pub fn head(&self) -> Result<String> {
        Ok(self
            .run("read HEAD", &["rev-parse", "HEAD"])?
            .trim()
            .to_string())
    }

    /// Stages everything (`.impl/` stays out through `.git/info/exclude`) and commits it as
    /// oneshot, with `trailers` (e.g. `Co-authored-by: …`). Returns the new commit, or `None`
    /// when there was nothing to commit.
    pub fn commit_all(&self, message: &str) -> Result<Option<String>> {
        self.run("stage the changes", &["add", "--all"])?;
        let staged = self.try_run("check for staged changes", &["diff", "--cached", "--quiet"])?;
        if staged.success {
            return Ok(None);
        }
        let bot = self
            .with_config("user.name", BOT_NAME)
            .with_config("user.email", BOT_EMAIL)
            .with_config("commit.gpgsign", "false");
        bot.run_with_input(
            "commit the step",
            &["commit", "--quiet", "--no-verify", "-F", "-"],
            message.as_bytes(),
            &[],
        )?;
        self.head().map(Some)
    }

    /// Files changed between two commits (`base..head`), plus what is staged or unstaged.
    pub fn files_changed_since(&self, base: &str) -> Result<Vec<String>> {
        let mut files: Vec<String> = self
            .run(
                "list changed files",
                &["diff", "--name-only", "-z", "--no-renames", base],
            )?
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        for f in self.changed_paths()? {
            if !files.contains(&f) {
                files.push(f);
            }
        }
        Ok(files)
    }

    /// Pushes HEAD to `branch` on `remote`. A rejection because the branch moved is reported
    /// as `Ok(false)`; any other failure is an error.
    pub fn push_head(&self, remote: &str, branch: &str) -> Result<bool> {
        let refspec = format!("HEAD:refs/heads/{branch}");
        let out = self.try_run(
            &format!("push to {branch}"),
            &["push", "--quiet", "--porcelain", remote, &refspec],
        )?;
        if out.success {
            return Ok(true);
        }
        let text = format!("{}{}", out.stdout, out.stderr);
        if text.contains("[rejected]")
            || text.contains("non-fast-forward")
            || text.contains("fetch first")
        {
            return Ok(false);
        }
        Err(Error::git(format!("could not push to {branch}"))
            .cause(text.trim().to_string())
            .hint("check that the token may push to the branch (contents: write) and that no branch protection forbids it"))
    }

    /// Paths that differ from HEAD or are untracked (not ignored), from `git status --porcelain`.
    pub fn changed_paths(&self) -> Result<Vec<String>> {
        let out = self.run(
            "list changed files",
            &[
                "status",
                "--porcelain=v1",
                "-z",
                "--untracked-files=all",
                "--no-renames",
            ],
        )?;
        Ok(out
            .split('\0')
            .filter(|e| e.len() > 3)
            .map(|e| e[3..].to_string())
            .collect())
    }
}

/// The repository's config as it was before an agent session. An agent can write `.git/config`
/// (remotes, filters, credential helpers, aliases); [`ConfigSnapshot::restore`] puts it back so
/// that nothing it set there outlives the session.
pub struct ConfigSnapshot {
    path: PathBuf,
    content: Option<Vec<u8>>,
}

impl ConfigSnapshot {
    /// Restores the config; `true` when the session had changed it.
    pub fn restore(self) -> Result<bool> {
        let now = std::fs::read(&self.path).ok();
        if now == self.content {
            return Ok(false);
        }
        match &self.content {
            Some(bytes) => std::fs::write(&self.path, bytes),
            None => std::fs::remove_file(&self.path),
        }
        .map_err(|e| Error::git(format!("could not restore {}: {e}", self.path.display())))?;
        Ok(true)
    }
}

impl Git {
    /// Snapshots the repository's config file (shared by all worktrees).
    pub fn snapshot_config(&self) -> Result<ConfigSnapshot> {
        let path = self.common_dir()?.join("config");
        let content = std::fs::read(&path).ok();
        Ok(ConfigSnapshot { path, content })
    }
}

/// History and refs, for checking what an agent session did to them.
impl Git {
    /// The commit a revision names (`refs/heads/x`, `HEAD`, a sha); `None` when it names none.
    pub fn commit_of(&self, rev: &str) -> Result<Option<String>> {
        let spec = format!("{rev}^{{commit}}");
        let out = self.try_run(
            "resolve a revision",
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        )?;
        Ok(out
            .success
            .then(|| out.stdout.trim().to_string())
            .filter(|s| !s.is_empty()))
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub fn is_ancestor(&self, ancestor: &str, descendant: &str) -> Result<bool> {
        let out = self.try_run(
            "compare two commits",
            &["merge-base", "--is-ancestor", ancestor, descendant],
        )?;
        // Exit code 1 without a message is "no"; a message means the question was not answered.
        if out.success {
            Ok(true)
        } else if out.stderr.trim().is_empty() {
            Ok(false)
        } else {
            Err(Error::git("git failed to compare two commits")
                .cause(out.stderr.trim().to_string()))
        }
    }

    /// The commits of `range` (`a..b`), newest first, as (short sha, subject).
    pub fn commits_in(&self, range: &str) -> Result<Vec<(String, String)>> {
        let out = self.run(
            "list commits",
            &["log", "--format=%h %s", "--end-of-options", range],
        )?;
        Ok(out
            .lines()
            .map(|l| {
                let (sha, subject) = l.split_once(' ').unwrap_or((l, ""));
                (sha.to_string(), subject.to_string())
            })
            .collect())
    }

    /// Every ref of the repository (shared by all work trees) with its commit or object, and
    /// the target of symbolic refs: `(name, object, symref target)`.
    pub fn all_refs(&self) -> Result<Vec<(String, String, String)>> {
        let out = self.run(
            "list the refs",
            &[
                "for-each-ref",
                "--format=%(refname)%00%(objectname)%00%(symref)",
            ],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| {
                let mut parts = l.split('\0');
                Some((
                    parts.next()?.to_string(),
                    parts.next()?.to_string(),
                    parts.next().unwrap_or_default().to_string(),
                ))
            })
            .collect())
    }

    /// Pushes exactly `commit` to `branch` on `remote` (no other ref, no tag). A rejection
    /// because the branch moved is `Ok(false)`; any other failure is an error.
    pub fn push_commit(&self, remote: &str, commit: &str, branch: &str) -> Result<bool> {
        let refspec = format!("{commit}:refs/heads/{branch}");
        let out = self.try_run(
            &format!("push to {branch}"),
            &[
                "push",
                "--quiet",
                "--porcelain",
                "--no-follow-tags",
                remote,
                &refspec,
            ],
        )?;
        if out.success {
            return Ok(true);
        }
        let text = format!("{}{}", out.stdout, out.stderr);
        if text.contains("[rejected]")
            || text.contains("non-fast-forward")
            || text.contains("fetch first")
        {
            return Ok(false);
        }
        Err(Error::git(format!("could not push to {branch}"))
            .cause(text.trim().to_string())
            .hint("check that the token may push to the branch (contents: write) and that no branch protection forbids it"))
    }

    /// A path inside this work tree's git directory (`git rev-parse --git-path`), absolute.
    pub fn git_path(&self, name: &str) -> Result<PathBuf> {
        let out = self.run(
            "find a file of the git directory",
            &["rev-parse", "--path-format=absolute", "--git-path", name],
        )?;
        Ok(PathBuf::from(out.trim_end_matches('\n')))
    }
}

/// Parses `git ls-remote --symref <remote> HEAD`: `ref: refs/heads/main\tHEAD`.
pub fn parse_ls_remote_symref(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix("ref: ")?;
        let (target, name) = rest.split_once('\t')?;
        (name == "HEAD").then_some(())?;
        target
            .strip_prefix("refs/heads/")
            .map(str::to_string)
            .filter(|b| !b.is_empty())
    })
}

/// Hides credentials that might sit in a URL argument (`https://user:token@host`).
fn redact_args(args: &[&str]) -> String {
    args.iter()
        .map(|a| match (a.find("://"), a.find('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}://***@{}", &a[..scheme], &a[at + 1..])
            }
            _ => (*a).to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_remote_symref_parsing() {
        let text = "ref: refs/heads/trunk\tHEAD\n0123abcd\tHEAD\n";
        assert_eq!(parse_ls_remote_symref(text).as_deref(), Some("trunk"));
        assert_eq!(parse_ls_remote_symref("0123\tHEAD\n"), None);
        assert_eq!(parse_ls_remote_symref("ref: refs/tags/v1\tHEAD\n"), None);
        assert_eq!(parse_ls_remote_symref(""), None);
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_args(&["push", "https://x:ghp_secret@github.com/o/r", "main"]),
            "push https://***@github.com/o/r main"
        );
    }
}
