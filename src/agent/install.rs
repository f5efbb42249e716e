//! Installing an agent's CLI where a workflow job runs. A stock GitHub-hosted runner has Node
//! and npm but no agent CLI, so each job installs the one it needs, at the version pinned here,
//! into a prefix of its own (never a global `npm -g`, which needs root on some images).
//!
//! The pins below are the one place that says which npm package and version each agent is;
//! `scripts/install-test-tools.sh` installs the same versions for the tests (a test compares).
//!
//! Also here: the runner-side half of codex's sandbox. Codex wraps every command in bubblewrap,
//! which needs unprivileged user namespaces; Ubuntu 24.04 (GitHub's `ubuntu-latest`) gates them
//! behind `kernel.apparmor_restrict_unprivileged_userns`. [`lift_userns_gate`] opens that gate
//! (it only allows creating namespaces; codex's own sandbox still applies).

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::AgentSpec;
use crate::config::AgentInstallEnv;
use crate::error::{Error, IoContext, Result};

/// An agent CLI as npm publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    /// The agent's name (`claude`), as in `--agent`.
    pub agent: &'static str,
    /// The program the package puts in `node_modules/.bin`.
    pub program: &'static str,
    /// The npm package.
    pub package: &'static str,
    /// The version installed unless the workflow input `agent_version` or
    /// `[agent_versions]` in `.github/oneshot.toml` names another.
    pub version: &'static str,
}

/// The pinned CLI of every agent oneshot installs. Bump a version here and in
/// `scripts/install-test-tools.sh` together; the tests run against the pinned versions.
pub const PINS: [Pin; 3] = [
    Pin {
        agent: "claude",
        program: "claude",
        package: "@anthropic-ai/claude-code",
        version: "2.1.330",
    },
    Pin {
        agent: "codex",
        program: "codex",
        package: "@openai/codex",
        version: "0.169.0",
    },
    Pin {
        agent: "gemini",
        program: "gemini",
        package: "@google/gemini-cli",
        version: "0.61.0",
    },
];

/// The pin of an agent that oneshot installs; `None` for a `command:` agent.
pub fn pin(agent: &AgentSpec) -> Option<&'static Pin> {
    let name = match agent {
        AgentSpec::Command { .. } => return None,
        other => other.name(),
    };
    PINS.iter().find(|p| p.agent == name)
}

/// Where a job's agent CLIs go: `<root>/<agent>-<version>/` for each install and
/// `<root>/npm-cache/` for npm's downloads (the directory the workflow keeps with the Actions
/// cache). In Actions the root is under `RUNNER_TEMP`, which the runner empties for every job,
/// so what one job's agent could change there never reaches the next job; outside Actions it
/// is `~/.oneshot/agents`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn from_env(env: &AgentInstallEnv) -> Result<Layout> {
        if let Some(temp) = &env.runner_temp {
            return Ok(Layout {
                root: temp.join("oneshot-agents"),
            });
        }
        match &env.home {
            Some(home) => Ok(Layout {
                root: home.join(".oneshot").join("agents"),
            }),
            None => Err(Error::config(
                "neither RUNNER_TEMP nor HOME is set to an absolute path, so there is no place to install the agent's CLI",
            )
            .hint("set HOME (outside Actions) or run the step in a GitHub Actions job")),
        }
    }

    /// The prefix one version of one agent is installed into.
    pub fn prefix(&self, pin: &Pin, version: &str) -> PathBuf {
        self.root.join(format!("{}-{version}", pin.agent))
    }

    /// npm's cache (`npm install --cache`).
    pub fn npm_cache(&self) -> PathBuf {
        self.root.join("npm-cache")
    }
}

/// The directory holding the installed program: what goes on PATH.
pub fn bin_dir(prefix: &Path) -> PathBuf {
    prefix.join("node_modules").join(".bin")
}

/// The Actions cache key of npm's cache for one agent version on this kind of machine.
pub fn cache_key(pin: &Pin, version: &str) -> String {
    format!(
        "oneshot-agent-npm-{}-{}-{}-{version}",
        std::env::consts::OS,
        std::env::consts::ARCH,
        pin.agent
    )
}

/// The arguments of the npm command that installs `package@version` into `prefix`, with its
/// downloads in `cache`. `--prefer-offline` uses what the cache holds without asking the
/// registry again; audit and funding messages are noise in a job log.
pub fn npm_install_args(pin: &Pin, version: &str, prefix: &Path, cache: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["install", "--prefix"].map(OsString::from).to_vec();
    args.push(prefix.into());
    args.push("--cache".into());
    args.push(cache.into());
    for flag in [
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--no-save",
        "--loglevel=error",
    ] {
        args.push(flag.into());
    }
    args.push(format!("{}@{version}", pin.package).into());
    args
}

/// What a program printed and how it ended.
#[derive(Debug)]
pub struct Captured {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// The most of each stream kept from a helper program (npm can be chatty on failure).
const CAPTURE_LIMIT: usize = 256 * 1024;

/// Runs `cmd` with stdin closed and both streams captured, ending it after `limit`.
pub fn run_captured(mut cmd: Command, what: &str, limit: Duration) -> Result<Captured, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("could not start {what}: {e}"))?;
    let drain = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            if let Some(mut stream) = stream {
                let mut buf = [0u8; 8192];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    kept.extend_from_slice(&buf[..n]);
                    if kept.len() > CAPTURE_LIMIT {
                        kept.drain(..kept.len() - CAPTURE_LIMIT);
                    }
                }
            }
            String::from_utf8_lossy(&kept).into_owned()
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{what} did not finish within {} s and was stopped",
                    limit.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(format!("could not wait for {what}: {e}")),
        }
    };
    Ok(Captured {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

/// The last `n` non-empty lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How long `--version` may take (a first start of a CLI can unpack itself).
const VERSION_LIMIT: Duration = Duration::from_secs(60);
/// How long an npm install may take (a cold download of a large native package).
const NPM_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Runs `<program> --version` with the environment an agent session gets (no GitHub token) and
/// returns what it printed (its first line). The error says what went wrong.
pub fn program_version(
    agent: &AgentSpec,
    program: &Path,
    parent: &[(OsString, OsString)],
) -> Result<String> {
    let mut cmd = Command::new(program);
    cmd.arg("--version")
        .env_clear()
        .envs(super::env::scrubbed(agent, parent, &[]));
    let what = format!("`{} --version`", program.display());
    let out = run_captured(cmd, &what, VERSION_LIMIT).map_err(Error::agent)?;
    let first = out
        .stdout
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .to_string();
    if !out.status.success() || first.is_empty() {
        let mut err = Error::agent(format!(
            "{what} failed ({}) and reported no version",
            exit_text(out.status)
        ));
        let stderr = tail(&out.stderr, 10);
        if !stderr.is_empty() {
            err = err.cause(stderr);
        }
        return Err(err.hint(super::install_hint(agent)));
    }
    Ok(first)
}

/// Whether `reported` (a `--version` line such as `2.1.330 (Claude Code)` or
/// `codex-cli 0.169.0`) is `version`. A tag such as `latest` cannot be checked.
pub fn reports_version(reported: &str, version: &str) -> bool {
    if !version.starts_with(|c: char| c.is_ascii_digit()) {
        return true;
    }
    reported
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',')
        .any(|word| word.strip_prefix('v').unwrap_or(word) == version)
}

fn exit_text(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("ended by signal {signal}"),
        _ => "no exit status".to_string(),
    }
}

/// The environment of the helper programs oneshot starts here (npm and its package scripts,
/// sudo): the job's, minus anything named like a credential. The install step gets no secret,
/// and a package script has no business with one.
pub fn helper_env(parent: &[(OsString, OsString)]) -> Vec<(OsString, OsString)> {
    parent
        .iter()
        .filter(|(k, _)| {
            k.to_str().is_some_and(|name| {
                let npm = name.starts_with("npm_config_") || name.starts_with("NPM_CONFIG_");
                npm || !super::env::is_secret(name)
            })
        })
        .cloned()
        .collect()
}

/// Where `program` is on `path`.
pub fn find_on_path(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    let path = path?;
    which::which_in(program, Some(path), "/").ok()
}

/// What the hint for a missing Node/npm says.
pub const NODE_HINT: &str = "install Node.js (which brings npm) on the runner: GitHub-hosted runners have it; elsewhere add `uses: actions/setup-node` (with node-version: 22 or newer) before this step, or put a program of the agent's name on PATH";

/// Installs `pin` at `version` into `prefix` with npm and returns the program's path. A prefix
/// that already holds the program at that version is used as it is; anything else in it is
/// removed first, so a half-finished earlier install cannot linger.
pub fn npm_install(
    install_env: &AgentInstallEnv,
    parent: &[(OsString, OsString)],
    pin: &Pin,
    version: &str,
    layout: &Layout,
) -> Result<InstalledCli> {
    let agent = AgentSpec::parse(pin.agent)?;
    let prefix = layout.prefix(pin, version);
    let program = bin_dir(&prefix).join(pin.program);
    if program.exists()
        && let Ok(reported) = program_version(&agent, &program, parent)
        && reports_version(&reported, version)
    {
        return Ok(InstalledCli {
            program,
            reported,
            reused: true,
        });
    }

    let path = install_env.path.as_deref();
    let npm = find_on_path("npm", path);
    let node = find_on_path("node", path);
    let (Some(npm), Some(_)) = (npm, node) else {
        let missing = if find_on_path("npm", path).is_none() {
            "npm"
        } else {
            "node"
        };
        return Err(Error::agent(format!(
            "cannot install {} ({}@{version}): `{missing}` is not on PATH",
            pin.program, pin.package
        ))
        .hint(NODE_HINT));
    };

    if prefix.exists() {
        std::fs::remove_dir_all(&prefix)
            .io_context(|| format!("could not clear {}", prefix.display()))?;
    }
    std::fs::create_dir_all(&prefix)
        .io_context(|| format!("could not create {}", prefix.display()))?;
    // A package.json of its own, so that npm installs here and never into an enclosing project.
    std::fs::write(
        prefix.join("package.json"),
        "{\n  \"name\": \"oneshot-agent\",\n  \"private\": true\n}\n",
    )
    .io_context(|| format!("could not write {}/package.json", prefix.display()))?;
    let cache = layout.npm_cache();
    std::fs::create_dir_all(&cache)
        .io_context(|| format!("could not create {}", cache.display()))?;

    let args = npm_install_args(pin, version, &prefix, &cache);
    let mut cmd = Command::new(&npm);
    cmd.args(&args)
        .current_dir(&prefix)
        .env_clear()
        .envs(helper_env(parent));
    let what = format!("npm install {}@{version}", pin.package);
    let out = run_captured(cmd, &what, NPM_LIMIT).map_err(Error::agent)?;
    if !out.status.success() {
        let mut err = Error::agent(format!("{what} failed ({})", exit_text(out.status)));
        let stderr = tail(&out.stderr, 20);
        if !stderr.is_empty() {
            err = err.cause(format!("npm said:\n{stderr}"));
        }
        return Err(err.hint(
            "check that the npm registry is reachable from the runner (proxy, .npmrc) and that the version exists; \
             set the workflow input agent_version (or [agent_versions] in .github/oneshot.toml) to another version",
        ));
    }
    if !program.exists() {
        return Err(
            Error::agent(format!("{what} finished but left no {}", program.display())).hint(
                format!(
                    "check that {} is the package of `{}`",
                    pin.package, pin.program
                ),
            ),
        );
    }
    let reported = program_version(&agent, &program, parent)?;
    if !reports_version(&reported, version) {
        return Err(Error::agent(format!(
            "{} was installed as {version} but reports {reported:?}",
            program.display()
        ))
        .hint("npm may have skipped the package's install script (ignore-scripts in an .npmrc); allow it and run the step again"));
    }
    Ok(InstalledCli {
        program,
        reported,
        reused: false,
    })
}

/// A CLI that is installed and answered `--version`.
#[derive(Debug)]
pub struct InstalledCli {
    pub program: PathBuf,
    /// Its `--version` line.
    pub reported: String,
    /// It was in the prefix already, at that version.
    pub reused: bool,
}

/// The kernel setting that gates unprivileged user namespaces on Ubuntu 24.04.
pub const USERNS_GATE: &str = "kernel.apparmor_restrict_unprivileged_userns";
/// Where the kernel shows it.
pub const USERNS_GATE_FILE: &str = "/proc/sys/kernel/apparmor_restrict_unprivileged_userns";

/// What was found about user namespaces before a codex session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Userns {
    /// The setting does not exist (another kernel) or does not restrict anything.
    NotRestricted,
    /// It restricted them; `sudo -n sysctl` lifted it.
    Lifted,
    /// It restricts them and could not be changed: why.
    Restricted(String),
}

impl Userns {
    pub fn as_str(&self) -> &'static str {
        match self {
            Userns::NotRestricted => "not_restricted",
            Userns::Lifted => "lifted",
            Userns::Restricted(_) => "restricted",
        }
    }
}

/// Opens the user-namespace gate for codex's sandbox when it is closed: reads the setting (at
/// `ONESHOT_USERNS_GATE_FILE`, by default the kernel's), and when it is `1` runs
/// `<sudo> -n sysctl -w kernel.apparmor_restrict_unprivileged_userns=0` (non-interactive: a
/// runner without passwordless sudo fails at once instead of waiting for a password).
pub fn lift_userns_gate(install_env: &AgentInstallEnv, parent: &[(OsString, OsString)]) -> Userns {
    let file = install_env
        .userns_gate_file
        .clone()
        .unwrap_or_else(|| PathBuf::from(USERNS_GATE_FILE));
    let value = match std::fs::read_to_string(&file) {
        Ok(v) => v,
        Err(_) => return Userns::NotRestricted,
    };
    if value.trim() != "1" {
        return Userns::NotRestricted;
    }
    let sudo = install_env
        .sudo
        .clone()
        .unwrap_or_else(|| OsString::from("sudo"));
    let mut cmd = Command::new(&sudo);
    cmd.args(["-n", "sysctl", "-w", &format!("{USERNS_GATE}=0")])
        .env_clear()
        .envs(helper_env(parent));
    let what = format!("{} -n sysctl -w {USERNS_GATE}=0", sudo.to_string_lossy());
    match run_captured(cmd, &what, Duration::from_secs(30)) {
        Ok(out) if out.status.success() => Userns::Lifted,
        Ok(out) => {
            let said = tail(&out.stderr, 3);
            Userns::Restricted(if said.is_empty() {
                format!("`{what}` failed ({})", exit_text(out.status))
            } else {
                format!("`{what}` failed ({}): {said}", exit_text(out.status))
            })
        }
        Err(why) => Userns::Restricted(why),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests run the CLIs `scripts/install-test-tools.sh` installs; they must be the ones
    /// oneshot installs on a runner.
    #[test]
    fn the_test_tools_script_installs_the_pinned_versions() {
        let script = include_str!("../../scripts/install-test-tools.sh");
        for (variable, agent) in [
            ("CLAUDE_CODE_VERSION", "claude"),
            ("CODEX_VERSION", "codex"),
            ("GEMINI_CLI_VERSION", "gemini"),
        ] {
            let assigned = script
                .lines()
                .find_map(|l| l.trim().strip_prefix(&format!("{variable}=")))
                .unwrap_or_else(|| panic!("scripts/install-test-tools.sh does not set {variable}"));
            let pin = PINS.iter().find(|p| p.agent == agent).unwrap();
            assert_eq!(
                assigned.trim_matches('"'),
                pin.version,
                "{variable} in scripts/install-test-tools.sh"
            );
        }
    }

    #[test]
    fn every_builtin_agent_has_one_pin() {
        for name in ["claude", "codex", "gemini"] {
            let agent = AgentSpec::parse(name).unwrap();
            let pin = pin(&agent).unwrap();
            assert_eq!(pin.agent, name);
            assert_eq!(pin.program, name);
        }
        let command = AgentSpec::parse("command:my-agent").unwrap();
        assert_eq!(pin(&command), None);
    }

    #[test]
    fn the_npm_command_line_installs_into_the_prefix_with_its_own_cache() {
        let pin = &PINS[0];
        let args = npm_install_args(
            pin,
            "2.1.330",
            Path::new("/t/oneshot-agents/claude-2.1.330"),
            Path::new("/t/oneshot-agents/npm-cache"),
        );
        let args: Vec<String> = args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "install",
                "--prefix",
                "/t/oneshot-agents/claude-2.1.330",
                "--cache",
                "/t/oneshot-agents/npm-cache",
                "--prefer-offline",
                "--no-audit",
                "--no-fund",
                "--no-save",
                "--loglevel=error",
                "@anthropic-ai/claude-code@2.1.330",
            ]
        );
        assert!(!args.iter().any(|a| a == "-g" || a == "--global"));
    }

    #[test]
    fn the_layout_is_under_runner_temp_in_actions_and_home_elsewhere() {
        let actions = AgentInstallEnv {
            runner_temp: Some("/rt".into()),
            home: Some("/h".into()),
            ..Default::default()
        };
        assert_eq!(
            Layout::from_env(&actions).unwrap().root,
            Path::new("/rt/oneshot-agents")
        );
        let local = AgentInstallEnv {
            home: Some("/h".into()),
            ..Default::default()
        };
        let layout = Layout::from_env(&local).unwrap();
        assert_eq!(layout.root, Path::new("/h/.oneshot/agents"));
        assert_eq!(
            layout.prefix(&PINS[1], "0.169.0"),
            Path::new("/h/.oneshot/agents/codex-0.169.0")
        );
        assert!(Layout::from_env(&AgentInstallEnv::default()).is_err());
    }

    #[test]
    fn version_lines_of_each_cli_are_recognised() {
        assert!(reports_version("2.1.330 (Claude Code)", "2.1.330"));
        assert!(reports_version("codex-cli 0.169.0", "0.169.0"));
        assert!(reports_version("0.61.0", "0.61.0"));
        assert!(reports_version("v0.61.0", "0.61.0"));
        assert!(!reports_version("2.1.329 (Claude Code)", "2.1.330"));
        assert!(!reports_version("2.1.3300", "2.1.330"));
        assert!(reports_version("anything", "latest"));
    }

    #[test]
    fn the_cache_key_names_agent_version_and_machine() {
        let key = cache_key(&PINS[2], "0.61.0");
        assert!(key.starts_with("oneshot-agent-npm-"), "{key}");
        assert!(key.ends_with("-gemini-0.61.0"), "{key}");
        assert!(key.contains(std::env::consts::OS) && key.contains(std::env::consts::ARCH));
    }

    #[test]
    fn helpers_get_no_credential_but_npm_settings() {
        let parent: Vec<(OsString, OsString)> = [
            ("PATH", "/usr/bin"),
            ("ONESHOT_TOKEN", "t"),
            ("GITHUB_TOKEN", "t"),
            ("ANTHROPIC_API_KEY", "k"),
            ("npm_config_registry", "http://r"),
            ("HOME", "/h"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        let names: Vec<String> = helper_env(&parent)
            .into_iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["PATH", "npm_config_registry", "HOME"]);
    }

    #[test]
    fn the_gate_is_left_alone_when_it_is_open_or_absent() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gate");
        let sudo_log = dir.path().join("sudo.log");
        let sudo = dir.path().join("sudo");
        std::fs::write(
            &sudo,
            format!(
                "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\n",
                sudo_log.display()
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&sudo, std::fs::Permissions::from_mode(0o755)).unwrap();
        let env = AgentInstallEnv {
            userns_gate_file: Some(file.clone()),
            sudo: Some(sudo.into()),
            ..Default::default()
        };
        assert_eq!(lift_userns_gate(&env, &[]), Userns::NotRestricted);
        std::fs::write(&file, "0\n").unwrap();
        assert_eq!(lift_userns_gate(&env, &[]), Userns::NotRestricted);
        assert!(!sudo_log.exists(), "sudo ran though nothing was restricted");
        std::fs::write(&file, "1\n").unwrap();
        assert_eq!(lift_userns_gate(&env, &[]), Userns::Lifted);
        assert_eq!(
            std::fs::read_to_string(&sudo_log).unwrap(),
            "-n sysctl -w kernel.apparmor_restrict_unprivileged_userns=0\n"
        );
    }
}
