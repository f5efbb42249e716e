//! The only place that runs git.
//!
//! git is found on `PATH` once, started with a clean environment (nothing inherited that could
//! point it at another repository or index), `LC_ALL=C` so that messages can be matched, no
//! terminal prompts and a null stdin. Every failure names what oneshot was doing and carries the
//! arguments and git's stderr.
//!
//! Two handles, so that the push credential cannot reach a program an agent chose:
//! - [`Git`] runs local commands (`add`, `status`, `diff`, `commit`, `checkout`, …). It has no
//!   way to carry a credential. Those commands may run filters and diff drivers; git ignores the
//!   global, XDG and system config for them (where an agent could declare such programs without
//!   touching `.git/config`, which is restored after every session), and what is left runs
//!   without any credential, with the rights the agent already has.
//! - [`Remote`] runs the commands that talk to the server (`push`, `fetch`, `ls-remote`). Only it
//!   can carry the credential ([`Remote::authenticated`]), sends them to the remote's URL as it
//!   was when the handle was made (before any agent session), and runs them so that git starts no
//!   program the repository's config or an agent could name: no credential helper, askpass, ssh,
//!   `ext::` or other remote helper, no custom upload/receive-pack, no submodule recursion, no
//!   signed push, no background maintenance. Before each authenticated command, every process
//!   left over from an agent session is ended, so none can read the command's environment.

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

/// Settings oneshot gives every git command on its command line (which beats every config
/// file): hooks, fsmonitor and background maintenance are programs or daemons that the
/// repository's config would start.
const ALWAYS: &[(&str, &str)] = &[
    ("core.hooksPath", "/dev/null"),
    ("core.fsmonitor", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
];

/// The global and system settings oneshot's git still honours (git reads neither file for
/// oneshot): plain data that changes no program git runs. `safe.directory` is only honoured from
/// the protected scopes, which include the command line.
const USER_SETTINGS_KEPT: &[&str] = &[
    "user.name",
    "user.email",
    "core.excludesfile",
    "core.autocrlf",
    "core.eol",
    "safe.directory",
];

/// Git LFS keeps its filter in the global config (`git lfs install`). These exact values are
/// passed on when the user's config has them, so that LFS repositories keep their pointers; any
/// other `filter.lfs.*` value (a program an agent put there) is not.
const LFS_FILTER: &[(&str, &str)] = &[
    ("filter.lfs.clean", "git-lfs clean -- %f"),
    ("filter.lfs.smudge", "git-lfs smudge -- %f"),
    ("filter.lfs.process", "git-lfs filter-process"),
    ("filter.lfs.required", "true"),
];

/// Settings of the commands that talk to the server, on the command line: they start no
/// program the config names (an empty `credential.helper` clears every helper configured
/// before it), recurse into no submodule (whose config an agent can write), sign no push.
const NETWORK: &[(&str, &str)] = &[
    ("credential.helper", ""),
    ("push.gpgSign", "false"),
    ("push.recurseSubmodules", "no"),
    ("fetch.recurseSubmodules", "false"),
    ("submodule.recurse", "false"),
    ("core.sshCommand", "false"),
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

/// A git repository (or a directory inside one) that local commands run in. It carries no
/// credential and cannot be given one: commands that talk to the server go through [`Remote`].
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
    /// environment (an identity, say). Never a credential: see [`Remote::authenticated`].
    pub fn with_config(&self, key: &str, value: &str) -> Self {
        debug_assert!(
            !key.to_ascii_lowercase().ends_with(".extraheader"),
            "a credential goes through Remote::authenticated, never on a local command"
        );
        let mut git = self.clone();
        git.config_env.push((key.to_string(), value.to_string()));
        git
    }

    /// The commands that talk to `remote`, with the user's own credentials (their credential
    /// helper, ssh keys): for commands a person runs on their own machine. See
    /// [`Remote::authenticated`] for oneshot's token.
    pub fn remote(&self, name: &str) -> Remote {
        Remote {
            local: self.clone(),
            name: name.to_string(),
            target: name.to_string(),
            access: Access::User,
        }
    }

    fn command(&self, args: &[&str]) -> Result<Command> {
        self.command_for(args, Isolation::Local)
    }

    fn command_for(&self, args: &[&str], isolation: Isolation<'_>) -> Result<Command> {
        let mut cmd = Command::new(git_program()?);
        cmd.current_dir(&self.dir);
        for (key, value) in ALWAYS {
            cmd.arg("-c").arg(format!("{key}={value}"));
        }
        if let Isolation::Server { remote, .. } = isolation {
            for (key, value) in NETWORK {
                cmd.arg("-c").arg(format!("{key}={value}"));
            }
            // The programs the transport would run for a local or file:// remote.
            cmd.arg("-c")
                .arg(format!("remote.{remote}.uploadpack=git-upload-pack"))
                .arg("-c")
                .arg(format!("remote.{remote}.receivepack=git-receive-pack"));
        }
        cmd.args(args).stdin(Stdio::null());
        for (key, _) in crate::config::inherited_environment() {
            let name = key.to_string_lossy();
            let redirects = name.starts_with("GIT_") && !GIT_ENV_KEPT.contains(&name.as_ref());
            // No token or key reaches git: a filter driver or credential helper would see what
            // git sees. The push credential travels in GIT_CONFIG_* below, on server commands.
            if redirects || crate::agent::env::is_secret(&name) {
                cmd.env_remove(&key);
            }
        }
        cmd.env("LC_ALL", "C")
            .env("LANGUAGE", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_EDITOR", ":");
        let mut config: Vec<(String, String)> = Vec::new();
        match isolation {
            Isolation::UserConfig => {}
            Isolation::Local | Isolation::Server { .. } => {
                // The global, XDG and system config are files an agent can write (or, on a
                // runner with sudo, rewrite); oneshot's git reads neither, only the
                // repository's own config, which is restored after every session.
                cmd.env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env_remove("GIT_CONFIG_SYSTEM");
                config.extend(user_settings(&self.dir).iter().cloned());
            }
        }
        if let Isolation::Server { credential, .. } = isolation {
            // Only these transports: no ssh (whose config names programs), no `ext::` and no
            // remote helper. An empty GIT_ASKPASS turns askpass off whatever the config says.
            cmd.env("GIT_ALLOW_PROTOCOL", credential.protocol)
                .env("GIT_ASKPASS", "")
                .env_remove("SSH_ASKPASS")
                .env_remove("GIT_SSH")
                .env_remove("GIT_SSH_COMMAND");
        }
        config.extend(self.config_env.iter().cloned());
        if let Isolation::Server { credential, .. } = isolation {
            if credential.protocol != "file" {
                // A local repository's `git-receive-pack` runs its hooks on this machine.
                config.push(("protocol.file.allow".to_string(), "never".to_string()));
            }
            if let Some((key, value)) = &credential.header {
                config.push((key.clone(), value.clone()));
            }
        }
        if !config.is_empty() {
            cmd.env("GIT_CONFIG_COUNT", config.len().to_string());
            for (i, (key, value)) in config.iter().enumerate() {
                cmd.env(format!("GIT_CONFIG_KEY_{i}"), key);
                cmd.env(format!("GIT_CONFIG_VALUE_{i}"), value);
            }
        }
        Ok(cmd)
    }

    fn output(&self, purpose: &str, args: &[&str], env: &[(&str, OsString)]) -> Result<Output> {
        self.output_for(purpose, args, env, Isolation::Local)
    }

    fn output_for(
        &self,
        purpose: &str,
        args: &[&str],
        env: &[(&str, OsString)],
        isolation: Isolation<'_>,
    ) -> Result<Output> {
        let mut cmd = self.command_for(args, isolation)?;
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
        self.try_run_for(purpose, args, Isolation::Local)
    }

    fn try_run_for(
        &self,
        purpose: &str,
        args: &[&str],
        isolation: Isolation<'_>,
    ) -> Result<GitOutput> {
        let out = self.output_for(purpose, args, &[], isolation)?;
        Ok(GitOutput {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn run_for(&self, purpose: &str, args: &[&str], isolation: Isolation<'_>) -> Result<String> {
        let out = self.output_for(purpose, args, &[], isolation)?;
        if out.status.success() {
            return Ok(String::from_utf8_lossy(&out.stdout).into_owned());
        }
        Err(self.failure(purpose, args, &out))
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

    /// The ref `name` points at when it is itself a symbolic ref (one level, not followed
    /// further), else `None`.
    pub fn symbolic_ref_target(&self, name: &str) -> Result<Option<String>> {
        let out = self.try_run(
            "read a symbolic ref",
            &["symbolic-ref", "--quiet", "--no-recurse", name],
        )?;
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

    /// Whether the object database has this commit.
    pub fn has_commit(&self, sha: &str) -> Result<bool> {
        let spec = format!("{sha}^{{commit}}");
        Ok(self
            .try_run("look up a commit", &["cat-file", "-e", &spec])?
            .success)
    }

    /// A config value, if set.
    pub fn config_get(&self, key: &str) -> Result<Option<String>> {
        let out = self.try_run("read git config", &["config", "--get", key])?;
        Ok(out
            .success
            .then(|| out.stdout.trim().to_string())
            .filter(|v| !v.is_empty()))
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
        self.commit_staged(message)
    }

    /// [`Git::commit_all`], with `refuse` shown the paths actually staged against `base` right
    /// before the commit; an error from it stops the commit. Processes left over from the
    /// agent's code are ended first, so that nothing changes the work tree or the index between
    /// the look and the commit.
    pub fn commit_all_checked(
        &self,
        message: &str,
        base: &str,
        refuse: impl FnOnce(&[String]) -> Result<()>,
    ) -> Result<Option<String>> {
        crate::agent::process::end_leftover_processes();
        self.run("stage the changes", &["add", "--all"])?;
        let staged: Vec<String> = self
            .run(
                "list the staged files",
                &[
                    "diff",
                    "--cached",
                    "--name-only",
                    "-z",
                    "--no-renames",
                    base,
                ],
            )?
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect();
        refuse(&staged)?;
        self.commit_staged(message)
    }

    fn commit_staged(&self, message: &str) -> Result<Option<String>> {
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

/// How a [`Remote`]'s commands reach the server.
#[derive(Clone)]
enum Access {
    /// The user's own git setup (their config, credential helper, ssh): a person's machine.
    User,
    /// oneshot's token, on commands that start no program but git's own.
    Token(Credential),
}

/// The push credential: an `http.<server>/.extraheader` setting, present only when the
/// remote's URL is on the server. Only [`Remote`] holds one, and it is never printed.
#[derive(Clone)]
struct Credential {
    header: Option<(String, String)>,
    /// `GIT_ALLOW_PROTOCOL`: exactly the scheme of the remote's URL, so that a rewrite to
    /// another transport (`file://`, `ext::`) is refused.
    protocol: &'static str,
    /// The repository's config files as they were when the handle was made; each
    /// authenticated command first checks that they are unchanged.
    baseline: ConfigSnapshot,
}

/// How [`Git::command_for`] isolates a command.
#[derive(Clone, Copy)]
enum Isolation<'a> {
    /// A local command: no global or system config, no credential.
    Local,
    /// A command that talks to the server with the user's own git setup.
    UserConfig,
    /// A command that talks to the server with the credential.
    Server {
        remote: &'a str,
        credential: &'a Credential,
    },
}

/// The commands that talk to one remote: `push`, `fetch`, `ls-remote`. The only handle that can
/// carry the push credential; local work goes through [`Remote::local`], which cannot.
#[derive(Clone)]
pub struct Remote {
    local: Git,
    name: String,
    /// What the commands talk to: the remote's name for the user's own setup; for the token,
    /// the URL read when the handle was made (before any agent session), so that a `pushurl`,
    /// `url` or `insteadOf` an agent writes later cannot send the credential elsewhere.
    target: String,
    access: Access,
}

impl std::fmt::Debug for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let access = match self.access {
            Access::User => "user",
            Access::Token(_) => "token",
        };
        f.debug_struct("Remote")
            .field("dir", &self.local.dir)
            .field("name", &self.name)
            .field("access", &access)
            .finish()
    }
}

impl Remote {
    /// `remote` of `git`'s repository, whose HTTPS requests to `server_url` carry the token as
    /// a basic-auth header, given through the environment: never on the command line, never in
    /// `.git/config`, never on a local command.
    ///
    /// The commands go to the remote's URL as it is now (call this before any agent session),
    /// never to the remote's name, and the header is attached only when that URL is on the
    /// server (a local repository needs none).
    pub fn authenticated(git: &Git, remote: &str, server_url: &str, token: &str) -> Result<Self> {
        use base64::Engine;
        let server = server_url.trim_end_matches('/');
        let url = git
            .config_get(&format!("remote.{remote}.url"))?
            .ok_or_else(|| {
                Error::git(format!("the repository has no remote {remote}"))
                    .hint("run oneshot in a clone of the repository (actions/checkout)")
            })?;
        let protocol = url_protocol(&url).ok_or_else(|| {
            Error::git(format!(
                "the remote {remote} is not reached over https, http or a local path: {}",
                redact_args(&[&url])
            ))
            .hint("clone the repository over https (actions/checkout does)")
        })?;
        let header = url.starts_with(&format!("{server}/")).then(|| {
            let basic =
                base64::engine::general_purpose::STANDARD.encode(format!("x-access-token:{token}"));
            (
                format!("http.{server}/.extraheader"),
                format!("AUTHORIZATION: basic {basic}"),
            )
        });
        Ok(Remote {
            local: git.clone(),
            name: remote.to_string(),
            target: url,
            access: Access::Token(Credential {
                header,
                protocol,
                baseline: git.snapshot_config()?,
            }),
        })
    }

    /// The remote's name (`origin`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The repository, for local commands (which never carry the credential).
    pub fn local(&self) -> &Git {
        &self.local
    }

    fn isolation(&self) -> Isolation<'_> {
        match &self.access {
            Access::User => Isolation::UserConfig,
            Access::Token(credential) => Isolation::Server {
                remote: &self.target,
                credential,
            },
        }
    }

    /// Before a command that carries the credential, no process left from an agent session
    /// (or started since by a filter or a check, which run the agent's code) may be running:
    /// it could read the command's environment.
    /// Nor may the repository's config differ from what it was when the handle was made
    /// (a filter or a check could have written it after the last restore).
    fn prepare(&self) -> Result<()> {
        if let Access::Token(credential) = &self.access {
            crate::agent::process::end_leftover_processes();
            if let Some(path) = credential.baseline.changed_file(&self.local)? {
                return Err(Error::git(format!(
                    "{} changed since oneshot started; refusing to talk to the remote",
                    path.display()
                ))
                .hint("the agent's code (a session, the check command or a filter) wrote the repository's config; nothing was pushed"));
            }
        }
        Ok(())
    }

    fn run(&self, purpose: &str, args: &[&str]) -> Result<String> {
        self.prepare()?;
        self.local.run_for(purpose, args, self.isolation())
    }

    fn try_run(&self, purpose: &str, args: &[&str]) -> Result<GitOutput> {
        self.prepare()?;
        self.local.try_run_for(purpose, args, self.isolation())
    }

    /// The branch the remote's HEAD points at, asked from the remote itself.
    pub fn head_branch(&self) -> Result<Option<String>> {
        let out = self.run(
            "ask the remote for its default branch",
            &["ls-remote", "--symref", &self.target, "HEAD"],
        )?;
        Ok(parse_ls_remote_symref(&out))
    }

    /// The branch heads the remote has, by exact name (`refs/heads/<name>` → `<name>`).
    pub fn branches(&self, names: &[&str]) -> Result<Vec<String>> {
        let mut args = vec!["ls-remote", "--heads", &self.target];
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

    /// The commit a remote branch points at (`None` if the remote has no such branch).
    pub fn branch_commit(&self, branch: &str) -> Result<Option<String>> {
        let full = format!("refs/heads/{branch}");
        let out = self.run(
            "ask the remote for a branch",
            &["ls-remote", "--heads", &self.target, &full],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .find(|(_, r)| *r == full)
            .map(|(sha, _)| sha.to_string()))
    }

    /// Names of the remote's branches that start with `prefix` (one round trip).
    pub fn branches_with_prefix(&self, prefix: &str) -> Result<Vec<String>> {
        let pattern = format!("refs/heads/{prefix}*");
        let out = self.run(
            "list the remote's branches",
            &["ls-remote", "--heads", &self.target, &pattern],
        )?;
        Ok(out
            .lines()
            .filter_map(|l| l.split_once('\t'))
            .filter_map(|(_, r)| r.strip_prefix("refs/heads/"))
            .map(str::to_string)
            .collect())
    }

    /// Fetches a remote branch's objects without touching any ref, FETCH_HEAD included, so the
    /// user's checkout and branches stay exactly as they were.
    pub fn fetch_objects(&self, branch: &str) -> Result<()> {
        let full = format!("refs/heads/{branch}");
        self.run(
            &format!("fetch {branch} from {}", self.name),
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                &self.target,
                &full,
            ],
        )
        .map(drop)
    }

    /// Fetches `depth` more commits of a branch's history into a shallow clone.
    pub fn deepen(&self, branch: &str, depth: u32) -> Result<()> {
        self.run(
            "fetch more of the branch's history",
            &[
                "fetch",
                "--quiet",
                "--no-tags",
                "--no-write-fetch-head",
                "--no-recurse-submodules",
                &format!("--deepen={depth}"),
                &self.target,
                &format!("refs/heads/{branch}"),
            ],
        )
        .map(drop)
    }

    /// Pushes `commit` as a new branch; fails if the branch already exists (an empty lease means
    /// "must not exist"), so an existing branch is never reused or overwritten.
    pub fn push_new_branch(&self, commit: &str, branch: &str) -> Result<GitOutput> {
        let refspec = format!("{commit}:refs/heads/{branch}");
        let lease = format!("--force-with-lease=refs/heads/{branch}:");
        self.try_run(
            &format!("push the branch {branch}"),
            &[
                "push",
                "--quiet",
                "--porcelain",
                "--no-recurse-submodules",
                &lease,
                &self.target,
                &refspec,
            ],
        )
    }

    /// Deletes a remote branch.
    pub fn delete_branch(&self, branch: &str) -> Result<()> {
        self.run(
            &format!("delete the branch {branch}"),
            &["push", "--quiet", &self.target, "--delete", branch],
        )
        .map(drop)
    }

    /// Pushes HEAD to `branch`; see [`Remote::push_commit`].
    pub fn push_head(&self, branch: &str) -> Result<bool> {
        self.push_commit("HEAD", branch)
    }

    /// Pushes exactly `commit` to `branch` (no other ref, no tag the agent may have made). A
    /// rejection because the branch moved is `Ok(false)`; any other failure is an error.
    pub fn push_commit(&self, commit: &str, branch: &str) -> Result<bool> {
        let refspec = format!("{commit}:refs/heads/{branch}");
        let out = self.try_run(
            &format!("push to {branch}"),
            &[
                "push",
                "--quiet",
                "--porcelain",
                "--no-recurse-submodules",
                "--no-follow-tags",
                &self.target,
                &refspec,
            ],
        )?;
        if out.success {
            self.confirm_pushed(commit, branch)?;
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

    /// A push is done only when the remote's branch points at the commit, asked from the remote.
    fn confirm_pushed(&self, commit: &str, branch: &str) -> Result<()> {
        let expected = self.local.commit_of(commit)?;
        let actual = self.branch_commit(branch)?;
        if expected.is_some() && actual == expected {
            return Ok(());
        }
        Err(Error::git(format!(
            "the push to {branch} did not land: the remote's branch is at {}, not {}",
            actual.as_deref().unwrap_or("nothing"),
            expected.as_deref().unwrap_or(commit)
        ))
        .hint("check the remote's URL and that nothing rewrites it (pushurl, insteadOf)"))
    }

    /// Checks out a remote branch in the work tree, at the remote's commit (for a job's
    /// disposable checkout on a runner, never a person's).
    pub fn check_out_branch(&self, branch: &str) -> Result<()> {
        let sha = self
            .branch_commit(branch)?
            .ok_or_else(|| Error::git(format!("the branch {branch} is not on {}", self.name)))?;
        if !self.local.has_commit(&sha)? {
            self.fetch_objects(branch)?;
        }
        self.local
            .run(
                &format!("check out {branch}"),
                &["checkout", "--quiet", "-B", branch, &sha],
            )
            .map(drop)
    }
}

/// The allow-listed settings of the user's global and system config ([`USER_SETTINGS_KEPT`],
/// [`LFS_FILTER`]), read once, for the first repository oneshot works in. Reading config runs
/// no program.
fn user_settings(dir: &Path) -> &'static [(String, String)] {
    static SETTINGS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    SETTINGS.get_or_init(|| read_user_settings(dir).unwrap_or_default())
}

fn read_user_settings(dir: &Path) -> Option<Vec<(String, String)>> {
    let mut cmd = Command::new(git_program().ok()?);
    cmd.current_dir(dir)
        .args(["config", "--list", "--show-scope", "-z"])
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    for (key, _) in crate::config::inherited_environment() {
        let name = key.to_string_lossy();
        if (name.starts_with("GIT_") && !GIT_ENV_KEPT.contains(&name.as_ref()))
            || crate::agent::env::is_secret(&name)
        {
            cmd.env_remove(&key);
        }
    }
    let out = cmd.output().ok()?;
    let settings = parse_user_settings(&String::from_utf8_lossy(&out.stdout));
    Some(pin_lfs_filter(
        settings,
        which::which("git-lfs").ok().as_deref(),
    ))
}

/// The LFS filter names `git-lfs`, which git would look up on PATH each time it runs the
/// filter, and PATH holds directories an agent can write: the filter is given the `git-lfs`
/// found now, before any agent session; with none, the filter is not passed on at all.
fn pin_lfs_filter(
    settings: Vec<(String, String)>,
    git_lfs: Option<&Path>,
) -> Vec<(String, String)> {
    settings
        .into_iter()
        .filter_map(|(key, value)| {
            if !key.starts_with("filter.lfs.") {
                return Some((key, value));
            }
            let program = git_lfs?.to_str()?;
            match value.strip_prefix("git-lfs ") {
                Some(rest) => {
                    let quoted = format!("'{}'", program.replace('\'', "'\\''"));
                    Some((key, format!("{quoted} {rest}")))
                }
                None => Some((key, value)),
            }
        })
        .collect()
}

/// Picks the kept settings from `git config --list --show-scope -z`: `scope NUL key LF value
/// NUL` for each entry. A key the repository sets itself is left to the repository: settings
/// given through the environment would otherwise override it.
fn parse_user_settings(text: &str) -> Vec<(String, String)> {
    let fields: Vec<&str> = text.split('\0').collect();
    let entries: Vec<(&str, String, &str)> = fields
        .chunks_exact(2)
        .map(|pair| {
            let (key, value) = pair[1].split_once('\n').unwrap_or((pair[1], ""));
            (pair[0], key.to_ascii_lowercase(), value)
        })
        .collect();
    let repository_sets = |key: &str| {
        entries
            .iter()
            .any(|(scope, k, _)| matches!(*scope, "local" | "worktree") && k == key)
    };
    entries
        .iter()
        .filter(|(scope, _, _)| matches!(*scope, "system" | "global"))
        .filter(|(_, key, value)| {
            (USER_SETTINGS_KEPT.contains(&key.as_str()) && !repository_sets(key))
                || LFS_FILTER
                    .iter()
                    .any(|(k, v)| k.eq_ignore_ascii_case(key) && v == value)
        })
        .map(|(_, key, value)| (key.clone(), value.to_string()))
        .collect()
}

/// The repository's config as it was before an agent session. An agent can write `.git/config`
/// (remotes, filters, credential helpers, aliases); [`ConfigSnapshot::restore`] puts it back so
/// that nothing it set there outlives the session.
#[derive(Clone)]
pub struct ConfigSnapshot {
    /// Each config file git reads for the repository, with its content (`None`: absent).
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
    /// What each file says, for [`ConfigSnapshot::changed_file`].
    meanings: Vec<Vec<String>>,
}

impl ConfigSnapshot {
    /// Restores the config; `true` when the session had changed it.
    pub fn restore(self) -> Result<bool> {
        let mut changed = false;
        for (path, content) in &self.files {
            if std::fs::read(path).ok() == *content {
                continue;
            }
            changed = true;
            match content {
                Some(bytes) => std::fs::write(path, bytes),
                None => std::fs::remove_file(path),
            }
            .map_err(|e| Error::git(format!("could not restore {}: {e}", path.display())))?;
        }
        Ok(changed)
    }

    /// The first config file that no longer says what the snapshot's said. Git LFS records
    /// its own `lfs.*` keys when its filter first runs (during oneshot's `git add`); they
    /// matter only to git-lfs, which no authenticated command runs, and are not compared.
    pub fn changed_file(&self, git: &Git) -> Result<Option<&Path>> {
        for ((path, content), meaning) in self.files.iter().zip(&self.meanings) {
            if std::fs::read(path).ok() != *content && git.config_meaning(path)? != *meaning {
                return Ok(Some(path.as_path()));
            }
        }
        Ok(None)
    }
}

impl Git {
    /// Snapshots the repository's config files: the one shared by all worktrees and this work
    /// tree's own (`config.worktree`, which git reads under `extensions.worktreeConfig`, and
    /// which an agent could turn on).
    pub fn snapshot_config(&self) -> Result<ConfigSnapshot> {
        let mut paths = vec![self.common_dir()?.join("config")];
        let worktree = self.git_path("config.worktree")?;
        if !paths.contains(&worktree) {
            paths.push(worktree);
        }
        let mut files = Vec::new();
        let mut meanings = Vec::new();
        for path in paths {
            meanings.push(self.config_meaning(&path)?);
            files.push((std::fs::read(&path).ok(), path));
        }
        let files = files.into_iter().map(|(c, p)| (p, c)).collect();
        Ok(ConfigSnapshot { files, meanings })
    }

    /// The entries of one config file (`key=value`, includes not followed, so an
    /// `include.path` is an entry), without the `lfs.*` keys git-lfs writes itself.
    fn config_meaning(&self, path: &Path) -> Result<Vec<String>> {
        if !path.exists() {
            return Ok(Vec::new());
        }
        let file = path.to_string_lossy();
        let out = self.run(
            "read the repository's config",
            &["config", "--no-includes", "--file", &file, "--list", "-z"],
        )?;
        Ok(out
            .split('\0')
            .filter(|e| !e.is_empty() && !e.to_ascii_lowercase().starts_with("lfs."))
            .map(str::to_string)
            .collect())
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

/// The `GIT_ALLOW_PROTOCOL` value for a remote URL: its scheme, `file` for a local path; `None`
/// for any other transport (ssh, `ext::`, a remote helper).
fn url_protocol(url: &str) -> Option<&'static str> {
    if url.starts_with("https://") {
        Some("https")
    } else if url.starts_with("http://") {
        Some("http")
    } else if url.starts_with("file://") || url.starts_with('/') {
        Some("file")
    } else {
        None
    }
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
    fn only_data_settings_and_the_exact_lfs_filter_pass_from_the_user_config() {
        let listed = [
            ("system", "safe.directory\n/srv/repo"),
            ("global", "user.name\nAda"),
            ("global", "user.email\nada@example.com"),
            ("global", "filter.lfs.clean\ngit-lfs clean -- %f"),
            ("global", "filter.lfs.process\n/tmp/evil filter-process"),
            ("global", "filter.x.clean\n/tmp/evil"),
            ("global", "core.sshCommand\n/tmp/evil"),
            ("global", "credential.helper\n!/tmp/evil"),
            ("global", "include.path\n/tmp/evil.inc"),
            ("global", "core.excludesFile\n/home/ada/.gitignore"),
            ("local", "core.excludesfile\n.git/ignore"),
            ("local", "filter.lfs.smudge\ngit-lfs smudge -- %f"),
        ]
        .iter()
        .map(|(scope, entry)| format!("{scope}\0{entry}\0"))
        .collect::<String>();
        assert_eq!(
            parse_user_settings(&listed),
            [
                ("safe.directory", "/srv/repo"),
                ("user.name", "Ada"),
                ("user.email", "ada@example.com"),
                ("filter.lfs.clean", "git-lfs clean -- %f"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert!(parse_user_settings("").is_empty());
    }

    #[test]
    fn the_lfs_filter_runs_the_git_lfs_found_at_start_or_none() {
        let settings = vec![
            ("user.name".to_string(), "Ada".to_string()),
            (
                "filter.lfs.clean".to_string(),
                "git-lfs clean -- %f".to_string(),
            ),
            ("filter.lfs.required".to_string(), "true".to_string()),
        ];
        assert_eq!(
            pin_lfs_filter(settings.clone(), Some(Path::new("/usr/bin/git-lfs"))),
            [
                ("user.name", "Ada"),
                ("filter.lfs.clean", "'/usr/bin/git-lfs' clean -- %f"),
                ("filter.lfs.required", "true"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(
            pin_lfs_filter(settings, None),
            [("user.name".to_string(), "Ada".to_string())]
        );
    }

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_args(&["push", "https://x:ghp_secret@github.com/o/r", "main"]),
            "push https://***@github.com/o/r main"
        );
    }
}
