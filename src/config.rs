//! Layered configuration: built-in defaults < `.github/oneshot.toml` < environment < flags.
//!
//! This module is also the one place that reads environment variables (other than the runner's
//! own `GITHUB_ACTIONS`/`GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY`, which `actions` reads): commands
//! get them from [`Environment`]. Every variable is declared once, in [`env_vars`].
//!
//! Values are checked where they enter, so an error names the file and line, the variable, or
//! the command line. Agent and model stay raw strings here: `agent` parses them.

#![allow(
    dead_code,
    reason = "the commands that read settings land separately; remove once they do"
)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};

/// The configuration file, relative to the top of the target repository.
pub const CONFIG_PATH: &str = ".github/oneshot.toml";

/// The environment variables oneshot reads: each declared once, here, with what it does.
pub mod env_vars {
    /// One environment variable oneshot reads.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct EnvVar {
        pub name: &'static str,
        pub help: &'static str,
    }

    pub const PROMPT: EnvVar = EnvVar {
        name: "ONESHOT_PROMPT",
        help: "The task prompt for `exec write-prompt` (set from a workflow input through `env:`, \
               never interpolated into a script).",
    };
    pub const NOW: EnvVar = EnvVar {
        name: "ONESHOT_NOW",
        help: "Pins the clock (RFC 3339, e.g. 2024-01-15T14:30:00Z) for tests and reproducible \
               dry runs.",
    };
    pub const AGENT: EnvVar = EnvVar {
        name: "ONESHOT_AGENT",
        help: "The agent for both sessions (`claude`, `codex`, `gemini`, `command:<program> \
               [args…]`); overrides `agent` in the configuration file.",
    };
    pub const MODEL: EnvVar = EnvVar {
        name: "ONESHOT_MODEL",
        help: "The model for both sessions; overrides `model` in the configuration file.",
    };
    pub const BUDGET_USD: EnvVar = EnvVar {
        name: "ONESHOT_BUDGET_USD",
        help: "Cost cap in US dollars for a whole one-shot; overrides `budget_usd`.",
    };
    pub const MAX_STEPS: EnvVar = EnvVar {
        name: "ONESHOT_MAX_STEPS",
        help: "The most steps a plan may have (1–20); overrides `max_steps`.",
    };
    pub const VERIFY_COMMAND: EnvVar = EnvVar {
        name: "ONESHOT_VERIFY_COMMAND",
        help: "The command (run with `sh -c`) that checks each step; overrides `verify.command`.",
    };

    pub const GH_TOKEN: EnvVar = EnvVar {
        name: "GH_TOKEN",
        help: "A GitHub token (the GitHub CLI's variable); used when ONESHOT_TOKEN is not set.",
    };
    pub const GITHUB_TOKEN: EnvVar = EnvVar {
        name: "GITHUB_TOKEN",
        help: "A GitHub token; used when neither ONESHOT_TOKEN nor GH_TOKEN is set.",
    };
    pub const GITHUB_API_URL: EnvVar = EnvVar {
        name: "GITHUB_API_URL",
        help: "The REST API base (set by Actions; `https://HOST/api/v3` on GitHub Enterprise Server).",
    };
    pub const GITHUB_GRAPHQL_URL: EnvVar = EnvVar {
        name: "GITHUB_GRAPHQL_URL",
        help: "The GraphQL endpoint (set by Actions; `https://HOST/api/graphql` on GHES).",
    };
    pub const GITHUB_SERVER_URL: EnvVar = EnvVar {
        name: "GITHUB_SERVER_URL",
        help: "The web URL, for links (set by Actions).",
    };
    pub const GITHUB_REPOSITORY: EnvVar = EnvVar {
        name: "GITHUB_REPOSITORY",
        help: "`owner/name` of the repository when --repo is not given (set by Actions).",
    };
    pub const GITHUB_RUN_ID: EnvVar = EnvVar {
        name: "GITHUB_RUN_ID",
        help: "The current workflow run, linked from issues and PRs (set by Actions).",
    };
    pub const GITHUB_ACTOR: EnvVar = EnvVar {
        name: "GITHUB_ACTOR",
        help: "Who started the workflow run (set by Actions).",
    };
    pub const TOKEN_IS_GITHUB_TOKEN: EnvVar = EnvVar {
        name: "ONESHOT_TOKEN_IS_GITHUB_TOKEN",
        help: "Set to `true` by the workflows when no ONESHOT_TOKEN secret exists and `github.token` is used.",
    };
    pub const WATCH_INTERVAL_MS: EnvVar = EnvVar {
        name: "ONESHOT_WATCH_INTERVAL_MS",
        help: "How often `dispatch --watch` polls the workflow run, in milliseconds (default 3000).",
    };
    pub const HTTP_TIMEOUT_MS: EnvVar = EnvVar {
        name: "ONESHOT_HTTP_TIMEOUT_MS",
        help: "Time allowed for one GitHub API request, in milliseconds (default 30000).",
    };
    pub const RETRY_BUDGET_MS: EnvVar = EnvVar {
        name: "ONESHOT_RETRY_BUDGET_MS",
        help: "Total time allowed for the retries of one GitHub API request, in milliseconds (default 120000).",
    };

    pub const XDG_CACHE_HOME: EnvVar = EnvVar {
        name: "XDG_CACHE_HOME",
        help: "Where `oneshot run` keeps the work trees of its branches (in `oneshot/worktrees/`); \
               default `$HOME/.cache`.",
    };
    pub const HOME: EnvVar = EnvVar {
        name: "HOME",
        help: "The home directory: `$HOME/.cache` is the cache directory when XDG_CACHE_HOME is \
               not set; `exec install-agent` installs into `$HOME/.oneshot/agents/` outside Actions.",
    };

    pub const PATH: EnvVar = EnvVar {
        name: "PATH",
        help: "Where `exec install-agent` looks for the agent's program and for npm.",
    };
    pub const RUNNER_TEMP: EnvVar = EnvVar {
        name: "RUNNER_TEMP",
        help: "The job's temporary directory (set by Actions): `exec install-agent` installs the \
               agent's CLI and keeps npm's cache under `oneshot-agents/` there.",
    };
    pub const USERNS_GATE_FILE: EnvVar = EnvVar {
        name: "ONESHOT_USERNS_GATE_FILE",
        help: "The setting that restricts unprivileged user namespaces, which codex's sandbox \
               needs (default /proc/sys/kernel/apparmor_restrict_unprivileged_userns).",
    };
    pub const SUDO: EnvVar = EnvVar {
        name: "ONESHOT_SUDO",
        help: "The program `exec install-agent` lifts that restriction with, as `<sudo> -n sysctl \
               -w …` (default sudo).",
    };

    /// Every variable above, for documentation and checks.
    pub const ALL: &[EnvVar] = &[
        PROMPT,
        NOW,
        AGENT,
        MODEL,
        BUDGET_USD,
        MAX_STEPS,
        VERIFY_COMMAND,
        GH_TOKEN,
        GITHUB_TOKEN,
        GITHUB_API_URL,
        GITHUB_GRAPHQL_URL,
        GITHUB_SERVER_URL,
        GITHUB_REPOSITORY,
        GITHUB_RUN_ID,
        GITHUB_ACTOR,
        HTTP_TIMEOUT_MS,
        RETRY_BUDGET_MS,
        WATCH_INTERVAL_MS,
        TOKEN_IS_GITHUB_TOKEN,
        XDG_CACHE_HOME,
        HOME,
        PATH,
        RUNNER_TEMP,
        USERNS_GATE_FILE,
        SUDO,
    ];
}

/// The environment variables oneshot reads, read once at start-up. Values are kept raw; [`load`]
/// and [`crate::naming::now`] check them, so an invalid one is reported by the command that uses
/// it, naming the variable.
///
/// An empty (or blank) value counts as unset: a workflow passes `${{ inputs.model }}` through
/// `env:` whether or not the input was given.
#[derive(Debug, Default, Clone)]
pub struct Environment {
    /// `ONESHOT_PROMPT`: the task prompt for `exec write-prompt` (set from a workflow input
    /// through `env:`, never interpolated into a script). Kept as given, even when empty.
    pub prompt: Option<OsString>,
    /// `ONESHOT_NOW`: pins the clock (RFC 3339) for tests and reproducible dry runs.
    pub now: Option<String>,
    /// `ONESHOT_AGENT`.
    pub agent: Option<String>,
    /// `ONESHOT_MODEL`.
    pub model: Option<String>,
    /// `ONESHOT_BUDGET_USD`, unparsed.
    pub budget_usd: Option<String>,
    /// `ONESHOT_MAX_STEPS`, unparsed.
    pub max_steps: Option<String>,
    /// `ONESHOT_VERIFY_COMMAND`.
    pub verify_command: Option<String>,
    /// Variables that were set to something that is not UTF-8 (their fields above are `None`).
    pub not_unicode: Vec<&'static str>,
    /// `ONESHOT_WATCH_INTERVAL_MS`.
    pub watch_interval_ms: Option<u64>,
    /// `ONESHOT_TOKEN_IS_GITHUB_TOKEN=true`: the workflow fell back to `github.token`, whose
    /// pushes do not trigger CI.
    pub token_is_github_token: bool,
    /// How to reach GitHub.
    pub github: GitHubEnv,
    /// Where oneshot keeps what it can make again (the work trees of `oneshot run`):
    /// `XDG_CACHE_HOME`, else `HOME/.cache`. Relative paths are ignored, as the XDG
    /// specification says.
    pub cache_dir: Option<PathBuf>,
    /// What `exec install-agent` needs to find and install an agent's CLI.
    pub agent_install: AgentInstallEnv,
}

/// The variables `exec install-agent` reads. Paths that are not absolute are ignored.
#[derive(Debug, Default, Clone)]
pub struct AgentInstallEnv {
    /// `PATH`.
    pub path: Option<OsString>,
    /// `RUNNER_TEMP`.
    pub runner_temp: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// `ONESHOT_USERNS_GATE_FILE`.
    pub userns_gate_file: Option<PathBuf>,
    /// `ONESHOT_SUDO`.
    pub sudo: Option<OsString>,
}

/// The whole environment of this process, for the two places that decide what a child process
/// inherits: `git.rs` (which drops `GIT_*` redirections) and `agent::env` (an allow-list).
pub fn inherited_environment() -> Vec<(OsString, OsString)> {
    std::env::vars_os().collect()
}

impl Environment {
    /// A variable whose name comes from the configuration (the webhook secret's name).
    pub fn lookup(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Reads the variables of [`env_vars::ALL`] through `var` (the process environment, or a
    /// table in tests).
    pub fn from_lookup(mut var: impl FnMut(&str) -> Option<OsString>) -> Self {
        use env_vars::*;
        let mut not_unicode = Vec::new();
        let mut text = |v: EnvVar| match var(v.name)?.into_string() {
            Ok(s) if s.trim().is_empty() => None,
            Ok(s) => Some(s),
            Err(_) => {
                not_unicode.push(v.name);
                None
            }
        };
        let now = text(NOW);
        let agent = text(AGENT);
        let model = text(MODEL);
        let budget_usd = text(BUDGET_USD);
        let max_steps = text(MAX_STEPS);
        let verify_command = text(VERIFY_COMMAND);
        let absolute = |v: Option<OsString>| v.map(PathBuf::from).filter(|p| p.is_absolute());
        let cache_dir = absolute(var(XDG_CACHE_HOME.name))
            .or_else(|| absolute(var(HOME.name)).map(|home| home.join(".cache")));
        Environment {
            prompt: var(PROMPT.name),
            now,
            agent,
            model,
            budget_usd,
            max_steps,
            verify_command,
            not_unicode,
            token_is_github_token: var(TOKEN_IS_GITHUB_TOKEN.name).is_some_and(|v| v == "true"),
            watch_interval_ms: var(WATCH_INTERVAL_MS.name)
                .and_then(|v| v.into_string().ok())
                .and_then(|v| v.trim().parse().ok()),
            github: GitHubEnv::from_lookup(&mut var),
            cache_dir,
            agent_install: AgentInstallEnv {
                path: var(PATH.name),
                runner_temp: absolute(var(RUNNER_TEMP.name)),
                home: absolute(var(HOME.name)),
                userns_gate_file: absolute(var(USERNS_GATE_FILE.name)),
                sudo: var(SUDO.name).filter(|v| !v.is_empty()),
            },
        }
    }
}

/// The environment variables that say how to reach GitHub. Actions sets the URLs, the
/// repository and the run id on every runner.
#[derive(Debug, Default, Clone)]
pub struct GitHubEnv {
    /// `GH_TOKEN` (the GitHub CLI's variable).
    pub gh_token: Option<String>,
    /// `GITHUB_TOKEN`.
    pub github_token: Option<String>,
    /// `GITHUB_API_URL`: the REST base (`https://HOST/api/v3` on GHES).
    pub api_url: Option<String>,
    /// `GITHUB_GRAPHQL_URL` (`https://HOST/api/graphql` on GHES).
    pub graphql_url: Option<String>,
    /// `GITHUB_SERVER_URL`: the web URL, for links.
    pub server_url: Option<String>,
    /// `GITHUB_REPOSITORY`: `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_ID`: the current workflow run, for links.
    pub run_id: Option<String>,
    /// `GITHUB_ACTOR`: who started the run.
    pub actor: Option<String>,
    /// `ONESHOT_HTTP_TIMEOUT_MS`: time allowed for one API request (default 30 s).
    pub http_timeout_ms: Option<u64>,
    /// `ONESHOT_RETRY_BUDGET_MS`: total time allowed for retries of one request (default 120 s).
    pub retry_budget_ms: Option<u64>,
}

impl GitHubEnv {
    pub fn from_lookup(var: &mut impl FnMut(&str) -> Option<OsString>) -> Self {
        use env_vars::*;
        let mut text = |v: EnvVar| var(v.name).and_then(|v| v.into_string().ok());
        let millis = |v: Option<String>| v.and_then(|v| v.trim().parse::<u64>().ok());
        GitHubEnv {
            gh_token: text(GH_TOKEN),
            github_token: text(GITHUB_TOKEN),
            api_url: text(GITHUB_API_URL),
            graphql_url: text(GITHUB_GRAPHQL_URL),
            server_url: text(GITHUB_SERVER_URL),
            repository: text(GITHUB_REPOSITORY),
            run_id: text(GITHUB_RUN_ID).filter(|v| !v.is_empty()),
            actor: text(GITHUB_ACTOR).filter(|v| !v.is_empty()),
            http_timeout_ms: millis(text(HTTP_TIMEOUT_MS)),
            retry_budget_ms: millis(text(RETRY_BUDGET_MS)),
        }
    }
}

/// The flags layer: what a command's options set. Commands fill it from their clap arguments;
/// `None` leaves the lower layers in charge, and so does an empty string (a workflow passes its
/// inputs whether or not they were given).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Overrides {
    /// The agent for both sessions (`--agent`).
    pub agent: Option<String>,
    /// The model for both sessions (`--model`).
    pub model: Option<String>,
    /// Cost cap in US dollars for the whole one-shot.
    pub budget_usd: Option<f64>,
    /// The most steps a plan may have (1–20).
    pub max_steps: Option<u32>,
    /// The command that checks each step.
    pub verify_command: Option<String>,
}

/// Built-in defaults: the bottom layer.
pub mod defaults {
    pub const AGENT: &str = "claude";
    pub const MAX_STEPS: u32 = 20;
    pub const PLAN_TIMEOUT_MINUTES: u32 = 30;
    pub const IMPLEMENT_TIMEOUT_MINUTES: u32 = 30;
    pub const STEP_TIMEOUT_MINUTES: u32 = 60;
    pub const VERIFY_TIMEOUT_MINUTES: u32 = 15;
    pub const VERIFY_RETRIES: u32 = 1;
    pub const TITLE_PREFIX: &str = "[WIP] ";
    pub const LABELS: &[&str] = &["oneshot"];
    pub const PROTECTED_PATHS: &[&str] = &[".github/workflows/**"];
}

/// Limits on values; shared by every layer so the file, the environment and the flags agree.
pub mod limits {
    /// A plan has 1 to 20 steps (DESIGN.md §3 "The plan").
    pub const MAX_STEPS: (u32, u32) = (1, 20);
    /// Timeouts in minutes: up to a day; beyond that a typo is likelier than intent.
    pub const MINUTES: (u32, u32) = (1, 1440);
    pub const MAX_TURNS: (u32, u32) = (1, 10_000);
    pub const VERIFY_RETRIES: (u32, u32) = (0, 5);
    /// GitHub's limit on a label name.
    pub const LABEL_CHARS: usize = 50;
    /// GitHub's limit on a login.
    pub const LOGIN_CHARS: usize = 39;
}

/// The resolved configuration: every layer applied, every default filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The configuration file that was read, if there was one.
    pub file: Option<PathBuf>,
    /// The planning session.
    pub plan: Phase,
    /// Each implementation session (one per step). Its `timeout` never exceeds `step_timeout`.
    pub implement: Phase,
    /// The whole of one implementation step: agent session, verify command and retries.
    pub step_timeout: Duration,
    /// The most steps a plan may have.
    pub max_steps: u32,
    /// Cost cap in US dollars for the whole one-shot; `None`: no cap.
    pub budget_usd: Option<f64>,
    pub verify: Verify,
    pub pr: Pr,
    /// Globs (relative to the repository root) of files the agent must not change.
    pub protected_paths: Vec<String>,
    pub notify: Notify,
    /// The version of each agent's CLI that `exec install-agent` installs, where the file pins
    /// one (`[agent_versions]`); `None`: the version oneshot pins.
    pub agent_versions: AgentVersions,
}

/// `[agent_versions]`: an npm version of each agent's CLI.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AgentVersions {
    pub claude: Option<String>,
    pub codex: Option<String>,
    pub gemini: Option<String>,
}

/// One agent session kind (plan or implement), with the top-level agent and model applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Phase {
    /// The raw agent spec (`claude`, `codex`, `gemini`, `command:…`), parsed by `agent`.
    pub agent: String,
    /// The raw model name; `None`: the agent's default.
    pub model: Option<String>,
    /// How long one session may run.
    pub timeout: Duration,
    /// The most agent turns in one session; `None`: the agent's default.
    pub max_turns: Option<u32>,
}

/// How each implementation step is checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Verify {
    /// Run with `sh -c` after each step; `None`: no check.
    pub command: Option<String>,
    /// How long one run of the command may take.
    pub timeout: Duration,
    /// How many more agent attempts a step gets after the command fails.
    pub retries: u32,
}

/// The pull request oneshot opens.
#[derive(Debug, Clone, PartialEq)]
pub struct Pr {
    /// Put before the title while the work is in progress, removed when it is ready.
    pub title_prefix: String,
    pub labels: Vec<String>,
    /// Logins asked for review when the pull request is ready (without `@`).
    pub reviewers: Vec<String>,
}

/// Notifications.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Notify {
    /// The NAME of the environment variable (a repository secret in Actions) that holds a
    /// Slack-compatible webhook URL. The URL itself never appears in the file.
    pub webhook_secret: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        resolve(FileConfig::default(), None, Overrides::default())
    }
}

/// Resolves the configuration of the repository at `repo_root`: built-in defaults, then
/// `.github/oneshot.toml` (a missing file is fine), then the environment, then `overrides`.
pub fn load(repo_root: &Path, env: &Environment, overrides: &Overrides) -> Result<Settings> {
    let path = repo_root.join(CONFIG_PATH);
    let file = read_file(&path)?;
    let from_env = env_layer(env)?;
    let from_flags = flag_layer(overrides)?;
    let top = from_flags.over(from_env);
    let model_from_file = top.model.is_none();
    Ok(match file {
        Some((file, text)) => {
            let settings = resolve(file, Some(path), top);
            if model_from_file {
                check_file_models(&settings, &text)?;
            }
            settings
        }
        None => resolve(FileConfig::default(), None, top),
    })
}

/// Parses the text of a configuration file; `label` names it in errors.
pub fn parse(text: &str, label: &str) -> Result<FileConfig> {
    let de = toml::Deserializer::parse(text).map_err(|e| syntax_error(label, text, e))?;
    FileConfig::deserialize(de).map_err(|e| schema_error(label, text, e))
}

/// The file, parsed, with its text (for errors found after the layers are resolved).
fn read_file(path: &Path) -> Result<Option<(FileConfig, String)>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            let why = if e.kind() == std::io::ErrorKind::InvalidData {
                "it is not valid UTF-8".to_string()
            } else {
                e.to_string()
            };
            return Err(Error::config(format!(
                "could not read {}: {why}",
                path.display()
            )));
        }
    };
    let file = parse(&text, CONFIG_PATH)?;
    Ok(Some((file, text)))
}

/// The file's contents as written: every key optional, unknown keys rejected, every value
/// checked on the way in (so errors point at its line).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    agent: Option<AgentName>,
    model: Option<NonBlank>,
    max_steps: Option<Ranged<{ limits::MAX_STEPS.0 }, { limits::MAX_STEPS.1 }>>,
    budget_usd: Option<Budget>,
    protected_paths: Option<Vec<NonBlank>>,
    plan: Option<PlanFile>,
    implement: Option<ImplementFile>,
    verify: Option<VerifyFile>,
    pr: Option<PrFile>,
    notify: Option<NotifyFile>,
    agent_versions: Option<AgentVersionsFile>,
}

type Minutes = Ranged<{ limits::MINUTES.0 }, { limits::MINUTES.1 }>;
type Turns = Ranged<{ limits::MAX_TURNS.0 }, { limits::MAX_TURNS.1 }>;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct PlanFile {
    agent: Option<AgentName>,
    model: Option<NonBlank>,
    timeout_minutes: Option<Minutes>,
    max_turns: Option<Turns>,
}

// Not `flatten`ed from `PlanFile`: serde cannot combine `flatten` with `deny_unknown_fields`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct ImplementFile {
    agent: Option<AgentName>,
    model: Option<NonBlank>,
    timeout_minutes: Option<Minutes>,
    max_turns: Option<Turns>,
    step_timeout_minutes: Option<Minutes>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct VerifyFile {
    command: Option<NonBlank>,
    timeout_minutes: Option<Minutes>,
    retries: Option<Ranged<{ limits::VERIFY_RETRIES.0 }, { limits::VERIFY_RETRIES.1 }>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct PrFile {
    title_prefix: Option<TitlePrefix>,
    labels: Option<Vec<Label>>,
    reviewers: Option<Vec<Login>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct AgentVersionsFile {
    claude: Option<AgentVersion>,
    codex: Option<AgentVersion>,
    gemini: Option<AgentVersion>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
struct NotifyFile {
    webhook_secret: Option<SecretName>,
}

/// Applies the layers. Destructures the file exhaustively, so a new key that nobody resolves
/// does not compile.
fn resolve(file: FileConfig, path: Option<PathBuf>, top: Overrides) -> Settings {
    let FileConfig {
        agent,
        model,
        max_steps,
        budget_usd,
        protected_paths,
        plan,
        implement,
        verify,
        pr,
        notify,
        agent_versions,
    } = file;
    let Overrides {
        agent: top_agent,
        model: top_model,
        budget_usd: top_budget,
        max_steps: top_max_steps,
        verify_command: top_verify_command,
    } = top;
    let agent = agent.map(|v| v.0);
    let model = model.map(|v| v.0);
    let minutes = |m: Option<Minutes>, default: u32| {
        Duration::from_secs(60 * u64::from(m.map_or(default, |m| m.0)))
    };
    // The environment and flags set the agent and model of both sessions; the file can set them
    // per session, falling back to its top-level keys.
    let phase = |phase_agent: Option<AgentName>, phase_model: Option<NonBlank>| {
        (
            top_agent
                .clone()
                .or(phase_agent.map(|v| v.0))
                .or(agent.clone())
                .unwrap_or_else(|| defaults::AGENT.to_string()),
            top_model
                .clone()
                .or(phase_model.map(|v| v.0))
                .or(model.clone()),
        )
    };

    let PlanFile {
        agent: plan_agent,
        model: plan_model,
        timeout_minutes: plan_timeout,
        max_turns: plan_turns,
    } = plan.unwrap_or_default();
    let (plan_agent, plan_model) = phase(plan_agent, plan_model);
    let plan = Phase {
        agent: plan_agent,
        model: plan_model,
        timeout: minutes(plan_timeout, defaults::PLAN_TIMEOUT_MINUTES),
        max_turns: plan_turns.map(|v| v.0),
    };

    let ImplementFile {
        agent: impl_agent,
        model: impl_model,
        timeout_minutes: impl_timeout,
        max_turns: impl_turns,
        step_timeout_minutes,
    } = implement.unwrap_or_default();
    let (impl_agent, impl_model) = phase(impl_agent, impl_model);
    let step_timeout = minutes(step_timeout_minutes, defaults::STEP_TIMEOUT_MINUTES);
    let implement = Phase {
        agent: impl_agent,
        model: impl_model,
        // A session cannot outlive the step it belongs to.
        timeout: minutes(impl_timeout, defaults::IMPLEMENT_TIMEOUT_MINUTES).min(step_timeout),
        max_turns: impl_turns.map(|v| v.0),
    };

    let VerifyFile {
        command,
        timeout_minutes: verify_timeout,
        retries,
    } = verify.unwrap_or_default();
    let verify = Verify {
        command: top_verify_command.or(command.map(|v| v.0)),
        timeout: minutes(verify_timeout, defaults::VERIFY_TIMEOUT_MINUTES),
        retries: retries.map_or(defaults::VERIFY_RETRIES, |v| v.0),
    };

    let PrFile {
        title_prefix,
        labels,
        reviewers,
    } = pr.unwrap_or_default();
    let pr = Pr {
        title_prefix: title_prefix.map_or_else(|| defaults::TITLE_PREFIX.to_string(), |v| v.0),
        labels: labels.map_or_else(
            || strings(defaults::LABELS),
            |v| v.into_iter().map(|l| l.0).collect(),
        ),
        reviewers: reviewers.map_or_else(Vec::new, |v| v.into_iter().map(|l| l.0).collect()),
    };

    let NotifyFile { webhook_secret } = notify.unwrap_or_default();

    Settings {
        file: path,
        plan,
        implement,
        step_timeout,
        max_steps: top_max_steps
            .or(max_steps.map(|v| v.0))
            .unwrap_or(defaults::MAX_STEPS),
        budget_usd: top_budget.or(budget_usd.map(|v| v.0)),
        verify,
        pr,
        protected_paths: protected_paths.map_or_else(
            || strings(defaults::PROTECTED_PATHS),
            |v| v.into_iter().map(|p| p.0).collect(),
        ),
        notify: Notify {
            webhook_secret: webhook_secret.map(|v| v.0),
        },
        agent_versions: {
            let AgentVersionsFile {
                claude,
                codex,
                gemini,
            } = agent_versions.unwrap_or_default();
            AgentVersions {
                claude: claude.map(|v| v.0),
                codex: codex.map(|v| v.0),
                gemini: gemini.map(|v| v.0),
            }
        },
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Overrides {
    /// `self`, with `lower` filling in what `self` leaves unset.
    fn over(self, lower: Overrides) -> Overrides {
        let Overrides {
            agent,
            model,
            budget_usd,
            max_steps,
            verify_command,
        } = self;
        Overrides {
            agent: agent.or(lower.agent),
            model: model.or(lower.model),
            budget_usd: budget_usd.or(lower.budget_usd),
            max_steps: max_steps.or(lower.max_steps),
            verify_command: verify_command.or(lower.verify_command),
        }
    }
}

/// The environment layer, checked.
fn env_layer(env: &Environment) -> Result<Overrides> {
    use env_vars::*;
    if let Some(name) = env
        .not_unicode
        .iter()
        .find(|n| **n != PROMPT.name && **n != NOW.name)
    {
        return Err(Error::config(format!("{name} is not valid UTF-8"))
            .hint(format!("fix or unset {name}")));
    }
    fn checked<T>(
        var: EnvVar,
        value: &Option<String>,
        check: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>> {
        value.as_deref().map(check).transpose().map_err(|why| {
            Error::config(format!("{} is invalid: {why}", var.name))
                .hint(format!("fix or unset {}", var.name))
        })
    }
    let max_steps = |raw: &str| {
        let n = raw
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{raw:?} is not a whole number"))?;
        check_range(n, limits::MAX_STEPS)
    };
    let budget = |raw: &str| {
        let n = raw
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{raw:?} is not a number"))?;
        check_budget(n)
    };
    Ok(Overrides {
        agent: checked(AGENT, &env.agent, |v| check_agent(&non_blank(v)?))?,
        model: checked(MODEL, &env.model, non_blank)?,
        budget_usd: checked(BUDGET_USD, &env.budget_usd, budget)?,
        max_steps: checked(MAX_STEPS, &env.max_steps, max_steps)?,
        verify_command: checked(VERIFY_COMMAND, &env.verify_command, non_blank)?,
    })
}

/// The flags layer, checked. Empty strings count as unset.
fn flag_layer(flags: &Overrides) -> Result<Overrides> {
    // A flag is what the user typed, not configuration: `invalid_input` (3), while the same
    // bad value in the file is `config` (4) with the file and line.
    let invalid = |what: &str, why: String| {
        Error::input(format!("invalid {what} on the command line: {why}"))
    };
    let text = |v: &Option<String>| {
        v.as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.trim().to_string())
    };
    let Overrides {
        agent,
        model,
        budget_usd,
        max_steps,
        verify_command,
    } = flags;
    Ok(Overrides {
        agent: text(agent),
        model: text(model),
        budget_usd: budget_usd
            .map(check_budget)
            .transpose()
            .map_err(|why| invalid("budget", why))?,
        max_steps: max_steps
            .map(|v| check_range(i64::from(v), limits::MAX_STEPS))
            .transpose()
            .map_err(|why| invalid("max steps", why))?,
        verify_command: verify_command.clone().filter(|s| !s.trim().is_empty()),
    })
}

// ---------------------------------------------------------------------------------------------
// Checked values. Each is checked while the file is deserialized, so the error carries the key
// and the line; the same checks serve the environment and the flags.

fn check_range(value: i64, (min, max): (u32, u32)) -> Result<u32, String> {
    if (i64::from(min)..=i64::from(max)).contains(&value) {
        Ok(value as u32)
    } else {
        Err(format!("must be between {min} and {max}, got {value}"))
    }
}

fn check_budget(value: f64) -> Result<f64, String> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(format!(
            "must be a positive number of US dollars, got {value}"
        ))
    }
}

fn non_blank(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        Err("must not be empty".to_string())
    } else {
        Ok(value.to_string())
    }
}

/// A whole number in `MIN..=MAX`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
struct Ranged<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> TryFrom<i64> for Ranged<MIN, MAX> {
    type Error = String;
    fn try_from(value: i64) -> Result<Self, String> {
        check_range(value, (MIN, MAX)).map(Ranged)
    }
}

/// A cost in US dollars, above zero. TOML integers are accepted too (`budget_usd = 5`).
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "f64")]
struct Budget(f64);

impl TryFrom<f64> for Budget {
    type Error = String;
    fn try_from(value: f64) -> Result<Self, String> {
        check_budget(value).map(Budget)
    }
}

/// A string with something other than whitespace in it (stored trimmed).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct NonBlank(String);

/// An npm version or dist-tag (`2.1.330`, `2.1.330-beta.1`, `latest`): never an option or a
/// path, because it goes into npm's command line.
#[derive(Debug, Deserialize)]
#[serde(try_from = "String")]
struct AgentVersion(String);

impl TryFrom<String> for AgentVersion {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        check_agent_version(&value).map(AgentVersion)
    }
}

/// The check behind [`AgentVersion`], for the command line too.
pub fn check_agent_version(value: &str) -> Result<String, String> {
    let v = value.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.starts_with(|c: char| c.is_ascii_alphanumeric())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(format!(
            "{value:?} is not an npm version (such as 2.1.330) or tag (such as latest)"
        ))
    }
}

impl TryFrom<String> for NonBlank {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        non_blank(&value).map(NonBlank)
    }
}

/// An agent spec that parses (`claude`, `codex`, `gemini`, `command:<program> [args…]`), kept
/// raw: checked here so that a bad one names the file and line like every other bad value.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct AgentName(String);

impl TryFrom<String> for AgentName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let value = non_blank(&value)?;
        check_agent(&value)?;
        Ok(AgentName(value))
    }
}

fn check_agent(value: &str) -> Result<String, String> {
    crate::agent::AgentSpec::parse(value)
        .map(|_| value.trim().to_string())
        .map_err(|e| match e.hints.first() {
            Some(hint) => format!("{} ({hint})", e.message),
            None => e.message,
        })
}

/// A pull request title prefix: one line, possibly empty (no prefix).
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct TitlePrefix(String);

impl TryFrom<String> for TitlePrefix {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        if value.contains(['\n', '\r']) {
            Err("must be on one line".to_string())
        } else {
            Ok(TitlePrefix(value))
        }
    }
}

/// A GitHub label name.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Label(String);

impl TryFrom<String> for Label {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let value = non_blank(&value).map_err(|_| "a label must not be empty".to_string())?;
        if value.chars().count() > limits::LABEL_CHARS {
            return Err(format!(
                "label {value:?} is longer than {} characters",
                limits::LABEL_CHARS
            ));
        }
        Ok(Label(value))
    }
}

/// A GitHub user login; a leading `@` is dropped.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Login(String);

impl TryFrom<String> for Login {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        let login = value.trim();
        let login = login.strip_prefix('@').unwrap_or(login);
        let valid = !login.is_empty()
            && login.len() <= limits::LOGIN_CHARS
            && !login.starts_with('-')
            && login
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if valid {
            Ok(Login(login.to_string()))
        } else {
            Err(format!(
                "{value:?} is not a GitHub login (letters, digits and `-`, at most {} characters)",
                limits::LOGIN_CHARS
            ))
        }
    }
}

/// The name of an environment variable or Actions secret.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct SecretName(String);

impl TryFrom<String> for SecretName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        if value.contains("://") {
            return Err(
                "this looks like a URL: store the URL in a repository secret and put the \
                        secret's NAME here (a URL in a committed file is readable by anyone who \
                        can read the repository)"
                    .to_string(),
            );
        }
        let mut bytes = value.bytes();
        let valid = bytes
            .next()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid {
            Ok(SecretName(value))
        } else {
            Err(format!(
                "{value:?} is not a secret name (letters, digits and `_`, not starting with \
                 a digit)"
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Errors from the file.

/// Where in the file an error is: `.github/oneshot.toml, line 3`.
fn location(label: &str, text: &str, err: &toml::de::Error) -> String {
    match err.span() {
        Some(span) => format!("{label}, line {}", line_of(text, span.start)),
        None => label.to_string(),
    }
}

/// The file is not TOML: toml's snippet with a caret goes along as the cause.
fn syntax_error(label: &str, text: &str, err: toml::de::Error) -> Error {
    let message = err.message().trim_end();
    Error::config(format!(
        "{}: invalid TOML: {message}",
        location(label, text, &err)
    ))
    .cause(err.to_string().trim_end())
}

/// The file is TOML but not a valid configuration: one line with the file, the line, the dotted
/// key and what is wrong.
fn schema_error(label: &str, text: &str, err: toml::de::Error) -> Error {
    let location = location(label, text, &err);
    let keys = key_path(&err);
    let message = plain(err.message().trim_end());
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (field, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let key = match &keys {
            Some(table) => format!("{table}.{field}"),
            None => field.to_string(),
        };
        let expected = expected.trim_start_matches(", ");
        let known = if expected.starts_with("there are no fields") {
            String::new()
        } else {
            format!(" ({expected})")
                .replace("expected one of", "known keys:")
                .replace("(expected", "(known key:")
        };
        return Error::config(format!("{location}: unknown key `{key}`{known}"))
            .hint("remove the key or correct its spelling; every key is optional");
    }
    match keys {
        Some(key) => Error::config(format!("{location}: invalid value for `{key}`: {message}")),
        None => Error::config(format!("{location}: invalid configuration: {message}")),
    }
}

/// Where the file sets a model. Read again only to find the line of a model that does not suit
/// its agent: that is known only once the layers are resolved.
#[derive(Default, Deserialize)]
struct ModelLines {
    model: Option<toml::Spanned<String>>,
    plan: Option<PhaseModelLine>,
    implement: Option<PhaseModelLine>,
}

#[derive(Default, Deserialize)]
struct PhaseModelLine {
    model: Option<toml::Spanned<String>>,
}

/// A model from the file that the phase's agent does not know is a configuration error with
/// the file and line, like every other bad value in it.
fn check_file_models(settings: &Settings, text: &str) -> Result<()> {
    let lines: ModelLines = toml::from_str(text).unwrap_or_default();
    let phases = [
        (&settings.plan, "plan", lines.plan),
        (&settings.implement, "implement", lines.implement),
    ];
    for (phase, table, own) in phases {
        let Some(model) = &phase.model else { continue };
        let (key, at) = match (own.and_then(|t| t.model), &lines.model) {
            (Some(own), _) => (format!("{table}.model"), own.span().start),
            (None, Some(top)) => ("model".to_string(), top.span().start),
            (None, None) => continue,
        };
        // An agent that does not parse came from a flag or the environment (the file's is
        // checked as it is read) and is reported there.
        let Ok(agent) = crate::agent::AgentSpec::parse(&phase.agent) else {
            continue;
        };
        if let Err(e) = agent.resolve_model(model) {
            let mut err = Error::config(format!(
                "{CONFIG_PATH}, line {}: invalid value for `{key}`: {}",
                line_of(text, at),
                e.message
            ));
            err.hints = e.hints;
            return Err(err);
        }
    }
    Ok(())
}

/// serde's words for TOML types, in TOML's words.
fn plain(message: &str) -> String {
    message
        .replace(" as i128", "")
        .replace("expected i64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected an array")
}

/// The 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text.as_bytes()[..at]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

/// The dotted path of the table or key an error is about (`plan.max_turns`). toml keeps it
/// private and shows it only when it renders an error without its source text, as a last line
/// "in `plan.max_turns`".
fn key_path(err: &toml::de::Error) -> Option<String> {
    let mut bare = err.clone();
    bare.set_input(None);
    let rendered = bare.to_string();
    let last = rendered.trim_end().lines().last()?;
    let path = last.strip_prefix("in `")?.strip_suffix('`')?;
    (!path.is_empty()).then(|| path.to_string())
}

/// A commented example of `.github/oneshot.toml`. As written it sets nothing (so it means the
/// defaults); every commented `key = value` line shows a default, or for keys without one an
/// example value. `oneshot init` writes it into repositories.
pub const EXAMPLE_TOML: &str = r#"# oneshot configuration. Every key is optional; uncomment a line to
# change it.
# The values shown are the defaults, except where a comment says there is none.
#
# Precedence: command-line options > environment variables > this file > defaults.
# Environment: ONESHOT_AGENT, ONESHOT_MODEL, ONESHOT_MAX_STEPS, ONESHOT_BUDGET_USD,
# ONESHOT_VERIFY_COMMAND.

# The agent that plans and implements: "claude", "codex", "gemini", or
# "command:<program> [args...]" for any program that reads the prompt on stdin.
# agent = "claude"

# The model. Shortcuts: "haiku", "sonnet", "opus" (or "h", "s", "o").
# No default: the agent's own default model.
# model = "sonnet"

# The most steps a plan may have (1 to 20).
# max_steps = 20

# Stop once the agent sessions of one task have cost this many US dollars.
# No default: no cap.
# budget_usd = 10.0

# Files the agent must not change (globs, relative to the repository root).
# A step that changes one of them fails.
# protected_paths = [".github/workflows/**"]

# The planning session. Its agent and model override the top-level ones.
# [plan]
# agent = "claude"
# model = "opus"
# Minutes before the session is stopped (1 to 1440).
# timeout_minutes = 30
# The most agent turns in the session. No default: the agent's own limit.
# max_turns = 50

# The implementation sessions, one per plan step.
# [implement]
# agent = "claude"
# model = "sonnet"
# Minutes before one session is stopped (1 to 1440).
# timeout_minutes = 30
# The most agent turns in one session. No default: the agent's own limit.
# max_turns = 100
# Minutes for a whole step: the session, the verify command and its retries.
# step_timeout_minutes = 60

# The check run after each step, in the repository root.
# [verify]
# Run with `sh -c`; a non-zero exit fails the step. No default: no check.
# command = "cargo test"
# Minutes before the command is stopped (1 to 1440).
# timeout_minutes = 15
# How many more agent attempts a step gets after the command fails (0 to 5).
# retries = 1

# The pull request.
# [pr]
# Put before the title while work is in progress; removed when the PR is ready.
# title_prefix = "[WIP] "
# labels = ["oneshot"]
# Logins asked to review once the PR is ready. No default: nobody.
# reviewers = ["octocat"]

# Notifications.
# [notify]
# The NAME of the secret (environment variable) that holds a Slack-compatible
# webhook URL. Never put the URL itself in this file. No default: no notifications.
# webhook_secret = "ONESHOT_SLACK_WEBHOOK"

# The npm version of each agent's CLI that the workflows install when the runner
# has none (the workflow input agent_version overrides it). The values shown are
# the versions this oneshot pins and is tested with.
# [agent_versions]
# claude = "2.1.330"
# codex = "0.169.0"
# gemini = "0.61.0"
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn settings(toml: &str) -> Settings {
        resolve(
            parse(toml, CONFIG_PATH).unwrap(),
            None,
            Overrides::default(),
        )
    }

    fn file_err(toml: &str) -> Error {
        let err = parse(toml, CONFIG_PATH).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        err
    }

    fn env(vars: &[(&str, &str)]) -> Environment {
        Environment::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| OsString::from(v))
        })
    }

    fn minutes(m: u64) -> Duration {
        Duration::from_secs(60 * m)
    }

    #[test]
    fn defaults() {
        let s = Settings::default();
        assert_eq!(s.file, None);
        for phase in [&s.plan, &s.implement] {
            assert_eq!(phase.agent, "claude");
            assert_eq!(phase.model, None);
            assert_eq!(phase.timeout, minutes(30));
            assert_eq!(phase.max_turns, None);
        }
        assert_eq!(s.step_timeout, minutes(60));
        assert_eq!(s.max_steps, 20);
        assert_eq!(s.budget_usd, None);
        assert_eq!(
            s.verify,
            Verify {
                command: None,
                timeout: minutes(15),
                retries: 1
            }
        );
        assert_eq!(
            s.pr,
            Pr {
                title_prefix: "[WIP] ".into(),
                labels: vec!["oneshot".into()],
                reviewers: vec![]
            }
        );
        assert_eq!(s.protected_paths, vec![".github/workflows/**".to_string()]);
        assert_eq!(s.notify.webhook_secret, None);
        assert_eq!(settings(""), s);
    }

    #[test]
    fn file_sets_every_key() {
        let s = settings(
            r#"
            agent = "codex"
            model = "gpt-5"
            max_steps = 5
            budget_usd = 2.5
            protected_paths = ["secrets/**", "Cargo.lock"]

            [plan]
            model = "o3"
            timeout_minutes = 10
            max_turns = 40

            [implement]
            agent = "command:my-agent --fast"
            timeout_minutes = 20
            max_turns = 80
            step_timeout_minutes = 45

            [verify]
            command = "make check"
            timeout_minutes = 5
            retries = 0

            [pr]
            title_prefix = ""
            labels = []
            reviewers = ["@octocat", "hubot"]

            [notify]
            webhook_secret = "SLACK_WEBHOOK_URL"
            "#,
        );
        assert_eq!(
            s.plan,
            Phase {
                agent: "codex".into(),
                model: Some("o3".into()),
                timeout: minutes(10),
                max_turns: Some(40)
            }
        );
        assert_eq!(
            s.implement,
            Phase {
                agent: "command:my-agent --fast".into(),
                model: Some("gpt-5".into()),
                timeout: minutes(20),
                max_turns: Some(80)
            }
        );
        assert_eq!(s.step_timeout, minutes(45));
        assert_eq!(s.max_steps, 5);
        assert_eq!(s.budget_usd, Some(2.5));
        assert_eq!(
            s.verify,
            Verify {
                command: Some("make check".into()),
                timeout: minutes(5),
                retries: 0
            }
        );
        assert_eq!(
            s.pr,
            Pr {
                title_prefix: String::new(),
                labels: vec![],
                reviewers: vec!["octocat".into(), "hubot".into()]
            }
        );
        assert_eq!(
            s.protected_paths,
            vec!["secrets/**".to_string(), "Cargo.lock".to_string()]
        );
        assert_eq!(
            s.notify.webhook_secret.as_deref(),
            Some("SLACK_WEBHOOK_URL")
        );
    }

    #[test]
    fn integer_budget_and_inline_tables() {
        let s =
            settings("budget_usd = 5\nplan = { timeout_minutes = 7 }\nimplement.max_turns = 3\n");
        assert_eq!(s.budget_usd, Some(5.0));
        assert_eq!(s.plan.timeout, minutes(7));
        assert_eq!(s.implement.max_turns, Some(3));
    }

    #[test]
    fn session_timeout_never_exceeds_the_step() {
        let s = settings("[implement]\nstep_timeout_minutes = 10\n");
        assert_eq!(s.implement.timeout, minutes(10));
        assert_eq!(s.step_timeout, minutes(10));
    }

    #[test]
    fn unknown_key_at_top_level_names_key_file_and_line() {
        let err = file_err("agent = \"claude\"\nmax_step = 3\n");
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message
                .starts_with(".github/oneshot.toml, line 2: unknown key `max_step`"),
            "{}",
            err.message
        );
        assert!(
            err.message.contains("max_steps"),
            "lists the known keys: {}",
            err.message
        );
    }

    #[test]
    fn unknown_key_inside_a_table_names_the_dotted_key() {
        let err = file_err("[plan]\nagent = \"claude\"\ntimeout = 5\n");
        assert!(
            err.message
                .starts_with(".github/oneshot.toml, line 3: unknown key `plan.timeout`"),
            "{}",
            err.message
        );
        assert!(err.message.contains("timeout_minutes"), "{}", err.message);

        // `step_timeout_minutes` belongs to [implement] only.
        let err = file_err("[plan]\nstep_timeout_minutes = 5\n");
        assert!(
            err.message
                .contains("unknown key `plan.step_timeout_minutes`"),
            "{}",
            err.message
        );

        // Dotted keys and inline tables too.
        let err = file_err("pr.draft = true\n");
        assert!(
            err.message.contains("line 1: unknown key `pr.draft`"),
            "{}",
            err.message
        );
        let err = file_err("\n\nverify = { cmd = \"x\" }\n");
        assert!(
            err.message.contains("line 3: unknown key `verify.cmd`"),
            "{}",
            err.message
        );

        // An unknown table is an unknown key as well.
        let err = file_err("[slack]\nurl = \"x\"\n");
        assert!(
            err.message.contains("line 1: unknown key `slack`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn wrong_types_name_the_key_in_toml_words() {
        let cases = [
            (
                "max_steps = \"20\"",
                "line 1: invalid value for `max_steps`: invalid type: string \"20\", expected a whole number",
            ),
            (
                "max_steps = 99999999999999999999",
                "`max_steps`: invalid type: integer `99999999999999999999`, expected a whole number",
            ),
            (
                "agent = 3",
                "line 1: invalid value for `agent`: invalid type: integer `3`, expected a string",
            ),
            (
                "protected_paths = \"a/**\"",
                "line 1: invalid value for `protected_paths`: invalid type: string \"a/**\", expected an array",
            ),
            (
                "\n[verify]\nretries = 1.5",
                "line 3: invalid value for `verify.retries`: invalid type: floating point `1.5`, expected a whole number",
            ),
            (
                "[pr]\nlabels = [\"a\", 2]",
                "line 2: invalid value for `pr.labels`: invalid type: integer `2`, expected a string",
            ),
            (
                "plan = 3",
                "line 1: invalid value for `plan`: invalid type: integer `3`, expected a table",
            ),
            ("notify = []", "line 1: invalid value for `notify`"),
            (
                "budget_usd = \"ten\"",
                "line 1: invalid value for `budget_usd`: invalid type: string \"ten\", expected a number",
            ),
        ];
        for (toml, want) in cases {
            let err = file_err(toml);
            assert!(err.message.contains(want), "{toml:?}: {}", err.message);
        }
    }

    #[test]
    fn out_of_range_values_name_the_key_and_the_range() {
        let cases = [
            (
                "max_steps = 0",
                "`max_steps`: must be between 1 and 20, got 0",
            ),
            (
                "max_steps = 21",
                "`max_steps`: must be between 1 and 20, got 21",
            ),
            ("max_steps = -1", "must be between 1 and 20, got -1"),
            ("budget_usd = 0", "`budget_usd`: must be a positive number"),
            (
                "budget_usd = -3.5",
                "must be a positive number of US dollars, got -3.5",
            ),
            (
                "budget_usd = nan",
                "`budget_usd`: must be a positive number",
            ),
            (
                "budget_usd = inf",
                "`budget_usd`: must be a positive number",
            ),
            (
                "[verify]\nretries = 6",
                "`verify.retries`: must be between 0 and 5, got 6",
            ),
            (
                "[plan]\ntimeout_minutes = 0",
                "`plan.timeout_minutes`: must be between 1 and 1440, got 0",
            ),
            (
                "[implement]\nstep_timeout_minutes = 99999",
                "`implement.step_timeout_minutes`",
            ),
            (
                "[implement]\nmax_turns = 0",
                "`implement.max_turns`: must be between 1 and 10000",
            ),
            ("agent = \"  \"", "`agent`: must not be empty"),
            (
                "[verify]\ncommand = \"\"",
                "`verify.command`: must not be empty",
            ),
            (
                "[pr]\nlabels = [\"\"]",
                "`pr.labels`: a label must not be empty",
            ),
            (
                "[pr]\nlabels = [\"123456789012345678901234567890123456789012345678901\"]",
                "longer than 50",
            ),
            (
                "[pr]\nreviewers = [\"not a login\"]",
                "`pr.reviewers`: \"not a login\" is not a GitHub login",
            ),
            ("[pr]\nreviewers = [\"-x\"]", "is not a GitHub login"),
            (
                "[pr]\ntitle_prefix = \"a\\nb\"",
                "`pr.title_prefix`: must be on one line",
            ),
            (
                "[notify]\nwebhook_secret = \"https://hooks.slack.com/services/T/B/X\"",
                "looks like a URL",
            ),
            (
                "[notify]\nwebhook_secret = \"1ABC\"",
                "is not a secret name",
            ),
            (
                "protected_paths = [\"\"]",
                "`protected_paths`: must not be empty",
            ),
        ];
        for (toml, want) in cases {
            let err = file_err(toml);
            assert!(err.message.contains(want), "{toml:?}: {}", err.message);
        }
    }

    #[test]
    fn syntax_errors_show_the_line() {
        let err = file_err("agent = \"claude\"\nmodel = \n");
        assert!(
            err.message
                .starts_with(".github/oneshot.toml, line 2: invalid TOML: "),
            "{}",
            err.message
        );
        assert!(
            err.render().contains("model ="),
            "snippet in the causes: {}",
            err.render()
        );

        let err = file_err("agent = \"a\"\nagent = \"b\"\n");
        assert!(
            err.message.contains("line 2"),
            "duplicate key: {}",
            err.message
        );
    }

    #[test]
    fn environment_layer_reads_every_declared_variable() {
        let all: Vec<(&str, &str)> = env_vars::ALL
            .iter()
            .map(|v| {
                (
                    v.name,
                    match v.name {
                        "ONESHOT_NOW" => "2024-01-15T14:30:00Z",
                        "ONESHOT_TOKEN_IS_GITHUB_TOKEN" => "true",
                        "XDG_CACHE_HOME" | "HOME" | "RUNNER_TEMP" | "ONESHOT_USERNS_GATE_FILE" => {
                            "/cache"
                        }
                        _ => "7",
                    },
                )
            })
            .collect();
        // Destructured so that a new field has to be added here (and to env_vars::ALL).
        let Environment {
            prompt,
            now,
            agent,
            model,
            budget_usd,
            max_steps,
            verify_command,
            not_unicode,
            watch_interval_ms,
            token_is_github_token,
            github,
            cache_dir,
            agent_install,
        } = env(&all);
        for (field, value) in [
            ("prompt", prompt.map(|p| p.into_string().unwrap())),
            ("now", now),
            ("agent", agent),
            ("model", model),
            ("budget_usd", budget_usd),
            ("max_steps", max_steps),
            ("verify_command", verify_command),
            ("gh_token", github.gh_token),
            ("github_token", github.github_token),
            ("api_url", github.api_url),
            ("graphql_url", github.graphql_url),
            ("server_url", github.server_url),
            ("repository", github.repository),
            ("run_id", github.run_id),
            ("actor", github.actor),
            (
                "http_timeout_ms",
                github.http_timeout_ms.map(|v| v.to_string()),
            ),
            (
                "retry_budget_ms",
                github.retry_budget_ms.map(|v| v.to_string()),
            ),
            (
                "watch_interval_ms",
                watch_interval_ms.map(|v| v.to_string()),
            ),
            (
                "token_is_github_token",
                token_is_github_token.then(String::new),
            ),
            ("cache_dir", cache_dir.map(|d| d.display().to_string())),
            ("path", agent_install.path.map(|p| p.into_string().unwrap())),
            (
                "runner_temp",
                agent_install.runner_temp.map(|d| d.display().to_string()),
            ),
            (
                "userns_gate_file",
                agent_install
                    .userns_gate_file
                    .map(|d| d.display().to_string()),
            ),
            ("sudo", agent_install.sudo.map(|p| p.into_string().unwrap())),
            ("home", agent_install.home.map(|d| d.display().to_string())),
        ] {
            assert!(value.is_some(), "{field} is not read from its variable");
        }
        assert!(not_unicode.is_empty());
        // XDG_CACHE_HOME and HOME make one field, cache_dir (HOME is read for agent_install too).
        assert_eq!(env_vars::ALL.len(), 25, "one variable per field");
    }

    #[test]
    fn environment_variables_are_declared_once() {
        let mut names: Vec<&str> = env_vars::ALL.iter().map(|v| v.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), env_vars::ALL.len());
        for v in env_vars::ALL {
            assert!(
                v.name.starts_with("ONESHOT_")
                    || v.name.starts_with("GITHUB_")
                    || ["GH_TOKEN", "XDG_CACHE_HOME", "HOME", "PATH", "RUNNER_TEMP"]
                        .contains(&v.name),
                "{}",
                v.name
            );
            assert!(!v.help.is_empty(), "{}", v.name);
        }
    }

    #[test]
    fn the_cache_directory_follows_xdg() {
        let dir = |vars: &[(&str, &str)]| env(vars).cache_dir;
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]),
            Some(PathBuf::from("/x"))
        );
        assert_eq!(
            dir(&[("XDG_CACHE_HOME", "relative"), ("HOME", "/h")]),
            Some(PathBuf::from("/h/.cache"))
        );
        assert_eq!(dir(&[("HOME", "")]), None);
    }

    #[test]
    fn empty_environment_values_are_unset() {
        let e = env(&[
            ("ONESHOT_AGENT", ""),
            ("ONESHOT_MODEL", "  "),
            ("ONESHOT_MAX_STEPS", ""),
            ("ONESHOT_NOW", ""),
        ]);
        assert_eq!(
            (e.agent, e.model, e.max_steps, e.now),
            (None, None, None, None)
        );
        // The prompt is kept as given: write-prompt reports an empty one itself.
        let e = env(&[("ONESHOT_PROMPT", "")]);
        assert_eq!(e.prompt, Some(OsString::new()));
    }

    #[test]
    fn non_unicode_values_are_reported_by_name() {
        use std::os::unix::ffi::OsStringExt;
        let e = Environment::from_lookup(|name| {
            (name == "ONESHOT_VERIFY_COMMAND").then(|| OsString::from_vec(vec![b'm', 0xff]))
        });
        assert_eq!(e.verify_command, None);
        assert_eq!(e.not_unicode, vec!["ONESHOT_VERIFY_COMMAND"]);
        let err = env_layer(&e).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.contains("ONESHOT_VERIFY_COMMAND"),
            "{}",
            err.message
        );
    }

    #[test]
    fn environment_layer_values() {
        let layer = env_layer(&env(&[
            ("ONESHOT_AGENT", " codex "),
            ("ONESHOT_MODEL", "o3"),
            ("ONESHOT_BUDGET_USD", "12.5"),
            ("ONESHOT_MAX_STEPS", "8"),
            ("ONESHOT_VERIFY_COMMAND", "npm test"),
        ]))
        .unwrap();
        assert_eq!(
            layer,
            Overrides {
                agent: Some("codex".into()),
                model: Some("o3".into()),
                budget_usd: Some(12.5),
                max_steps: Some(8),
                verify_command: Some("npm test".into()),
            }
        );
    }

    #[test]
    fn invalid_environment_numbers_name_the_variable() {
        let cases = [
            (
                "ONESHOT_MAX_STEPS",
                "many",
                "\"many\" is not a whole number",
            ),
            ("ONESHOT_MAX_STEPS", "0", "must be between 1 and 20, got 0"),
            (
                "ONESHOT_MAX_STEPS",
                "21",
                "must be between 1 and 20, got 21",
            ),
            ("ONESHOT_MAX_STEPS", "2.5", "not a whole number"),
            ("ONESHOT_BUDGET_USD", "$5", "\"$5\" is not a number"),
            ("ONESHOT_BUDGET_USD", "-1", "must be a positive number"),
            ("ONESHOT_BUDGET_USD", "inf", "must be a positive number"),
            ("ONESHOT_BUDGET_USD", "NaN", "must be a positive number"),
        ];
        for (name, value, want) in cases {
            let err = env_layer(&env(&[(name, value)])).unwrap_err();
            assert_eq!(err.kind, ErrorKind::Config);
            assert!(
                err.message.starts_with(&format!("{name} is invalid: ")),
                "{}",
                err.message
            );
            assert!(
                err.message.contains(want),
                "{name}={value}: {}",
                err.message
            );
        }
    }

    #[test]
    fn an_invalid_agent_names_the_file_and_line_or_the_variable() {
        let cases = [
            (
                "agent = \"command:\"",
                "line 1: invalid value for `agent`: the agent `command:` names no program",
            ),
            (
                "model = \"opus\"\nagent = 'command:my-agent \"two words'",
                "line 2: invalid value for `agent`: invalid agent command",
            ),
            (
                "[plan]\nagent = \"gpt\"",
                "line 2: invalid value for `plan.agent`: unknown agent \"gpt\" (valid agents:",
            ),
            (
                "[implement]\n\nagent = \"command:  \"",
                "line 3: invalid value for `implement.agent`: the agent `command:` names no program",
            ),
        ];
        for (toml, want) in cases {
            let err = file_err(toml);
            assert_eq!(err.kind, ErrorKind::Config, "{toml}");
            assert!(
                err.message.starts_with(".github/oneshot.toml, ") && err.message.contains(want),
                "{toml}: {}",
                err.message
            );
        }
        let err = env_layer(&env(&[("ONESHOT_AGENT", "command:x 'open")])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message
                .starts_with("ONESHOT_AGENT is invalid: invalid agent command"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_model_the_agent_does_not_know_names_the_file_and_line() {
        let none = Overrides::default();
        let load_err = |toml: &str| {
            let dir = repo(Some(toml));
            load(dir.path(), &Environment::default(), &none).unwrap_err()
        };
        let err = load_err("max_steps = 3\nmodel = \"gpt-5\"\n");
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.starts_with(
                ".github/oneshot.toml, line 2: invalid value for `model`: unknown model \"gpt-5\" for the agent claude"
            ),
            "{}",
            err.message
        );
        assert!(!err.hints.is_empty());
        let err = load_err("agent = \"codex\"\nmodel = \"gpt-5\"\n[plan]\nagent = \"claude\"\n");
        assert!(
            err.message
                .starts_with(".github/oneshot.toml, line 2: invalid value for `model`"),
            "the plan's claude gets the top-level model: {}",
            err.message
        );
        let err = load_err("[implement]\nagent = \"claude\"\nmodel = \"two words\"\n");
        assert!(
            err.message
                .starts_with(".github/oneshot.toml, line 3: invalid value for `implement.model`"),
            "{}",
            err.message
        );
        // Valid for its agent, or replaced by a flag: no error from the file.
        let dir = repo(Some("agent = \"codex\"\nmodel = \"gpt-5\"\n"));
        assert!(load(dir.path(), &Environment::default(), &none).is_ok());
        let dir = repo(Some("model = \"gpt-5\"\n"));
        let flag = Overrides {
            model: Some("opus".into()),
            ..Default::default()
        };
        assert!(load(dir.path(), &Environment::default(), &flag).is_ok());
    }

    #[test]
    fn flag_layer_checks_ranges_and_ignores_empty_strings() {
        let layer = flag_layer(&Overrides {
            agent: Some("".into()),
            model: Some(" opus ".into()),
            verify_command: Some("  ".into()),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            layer,
            Overrides {
                model: Some("opus".into()),
                ..Default::default()
            }
        );

        let err = flag_layer(&Overrides {
            max_steps: Some(0),
            ..Default::default()
        })
        .unwrap_err();
        // What the user typed is input (3); the same value in the file is config (4).
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert!(
            err.message
                .contains("max steps on the command line: must be between 1 and 20"),
            "{}",
            err.message
        );
        let err = flag_layer(&Overrides {
            budget_usd: Some(f64::NAN),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            err.message.contains("budget on the command line"),
            "{}",
            err.message
        );
    }

    /// A repository with `toml` as its configuration file.
    fn repo(toml: Option<&str>) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        if let Some(toml) = toml {
            std::fs::create_dir_all(dir.path().join(".github")).unwrap();
            std::fs::write(dir.path().join(CONFIG_PATH), toml).unwrap();
        }
        dir
    }

    #[test]
    fn precedence_flag_beats_env_beats_file_beats_default() {
        let file = "agent = \"gemini\"\nmodel = \"file-model\"\nmax_steps = 5\nbudget_usd = 1\n\
                    [plan]\nagent = \"codex\"\n[verify]\ncommand = \"file-check\"\n";
        let dir = repo(Some(file));

        // Default only.
        let bare = repo(None);
        let s = load(bare.path(), &Environment::default(), &Overrides::default()).unwrap();
        assert_eq!(s, Settings::default());

        // The file beats the defaults; its [plan] agent beats its top-level agent.
        let s = load(dir.path(), &Environment::default(), &Overrides::default()).unwrap();
        assert_eq!(s.file, Some(dir.path().join(CONFIG_PATH)));
        assert_eq!(
            (s.plan.agent.as_str(), s.implement.agent.as_str()),
            ("codex", "gemini")
        );
        assert_eq!(s.plan.model.as_deref(), Some("file-model"));
        assert_eq!((s.max_steps, s.budget_usd), (5, Some(1.0)));
        assert_eq!(s.verify.command.as_deref(), Some("file-check"));

        // The environment beats the file, including its per-session keys.
        let e = env(&[
            ("ONESHOT_AGENT", "command:env-agent"),
            ("ONESHOT_MODEL", "env-model"),
            ("ONESHOT_MAX_STEPS", "6"),
            ("ONESHOT_BUDGET_USD", "2"),
            ("ONESHOT_VERIFY_COMMAND", "env-check"),
        ]);
        let s = load(dir.path(), &e, &Overrides::default()).unwrap();
        assert_eq!(
            (s.plan.agent.as_str(), s.implement.agent.as_str()),
            ("command:env-agent", "command:env-agent")
        );
        assert_eq!(s.implement.model.as_deref(), Some("env-model"));
        assert_eq!((s.max_steps, s.budget_usd), (6, Some(2.0)));
        assert_eq!(s.verify.command.as_deref(), Some("env-check"));

        // Flags beat the environment.
        let flags = Overrides {
            agent: Some("flag-agent".into()),
            model: Some("flag-model".into()),
            budget_usd: Some(3.0),
            max_steps: Some(7),
            verify_command: Some("flag-check".into()),
        };
        let s = load(dir.path(), &e, &flags).unwrap();
        assert_eq!(
            (s.plan.agent.as_str(), s.implement.agent.as_str()),
            ("flag-agent", "flag-agent")
        );
        assert_eq!(s.plan.model.as_deref(), Some("flag-model"));
        assert_eq!((s.max_steps, s.budget_usd), (7, Some(3.0)));
        assert_eq!(s.verify.command.as_deref(), Some("flag-check"));

        // A flag left unset leaves the environment in charge.
        let s = load(
            dir.path(),
            &e,
            &Overrides {
                max_steps: Some(9),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            (s.max_steps, s.plan.agent.as_str()),
            (9, "command:env-agent")
        );
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = repo(Some("[plan]\nmax_turn = 3\n"));
        let err = load(dir.path(), &Environment::default(), &Overrides::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message
                .starts_with(".github/oneshot.toml, line 2: unknown key `plan.max_turn`"),
            "{}",
            err.message
        );

        // Not UTF-8.
        let dir = repo(None);
        std::fs::create_dir_all(dir.path().join(".github")).unwrap();
        std::fs::write(dir.path().join(CONFIG_PATH), b"agent = \"\xff\"\n").unwrap();
        let err = load(dir.path(), &Environment::default(), &Overrides::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.contains("oneshot.toml") && err.message.contains("UTF-8"),
            "{}",
            err.message
        );

        // Unreadable: a directory where the file should be.
        let dir = repo(None);
        std::fs::create_dir_all(dir.path().join(CONFIG_PATH)).unwrap();
        let err = load(dir.path(), &Environment::default(), &Overrides::default()).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Config);
        assert!(
            err.message.starts_with("could not read ") && err.message.contains("oneshot.toml"),
            "{}",
            err.message
        );

        // The environment is checked even without a file.
        let err = load(
            repo(None).path(),
            &env(&[("ONESHOT_MAX_STEPS", "x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(err.message.contains("ONESHOT_MAX_STEPS"), "{}", err.message);
    }

    #[test]
    fn example_as_written_means_the_defaults() {
        assert_eq!(settings(EXAMPLE_TOML), Settings::default());
    }

    /// The example with every `# key = value` and `# [table]` line uncommented.
    fn uncommented_example() -> String {
        EXAMPLE_TOML
            .lines()
            .map(|line| {
                let rest = line.strip_prefix("# ").unwrap_or("");
                let is_table = rest.starts_with('[') && rest.ends_with(']') && !rest.contains(' ');
                let is_key = rest.split_once(" = ").is_some_and(|(k, _)| {
                    !k.is_empty() && k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                });
                if is_table || is_key { rest } else { line }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn example_documents_every_key_with_its_default() {
        let text = uncommented_example();
        let file = parse(&text, "example").unwrap_or_else(|e| panic!("{}\n{text}", e.render()));

        // Every key appears (destructured so a new key fails to compile until it is documented).
        let FileConfig {
            agent,
            model,
            max_steps,
            budget_usd,
            protected_paths,
            plan,
            implement,
            verify,
            pr,
            notify,
            agent_versions,
        } = &file;
        let PlanFile {
            agent: pa,
            model: pm,
            timeout_minutes: pt,
            max_turns: pn,
        } = plan.as_ref().unwrap();
        let ImplementFile {
            agent: ia,
            model: im,
            timeout_minutes: it,
            max_turns: inn,
            step_timeout_minutes: ist,
        } = implement.as_ref().unwrap();
        let VerifyFile {
            command,
            timeout_minutes: vt,
            retries,
        } = verify.as_ref().unwrap();
        let PrFile {
            title_prefix,
            labels,
            reviewers,
        } = pr.as_ref().unwrap();
        let NotifyFile { webhook_secret } = notify.as_ref().unwrap();
        let AgentVersionsFile {
            claude,
            codex,
            gemini,
        } = agent_versions.as_ref().unwrap();
        // The versions shown are the pins.
        for (shown, agent) in [(claude, "claude"), (codex, "codex"), (gemini, "gemini")] {
            let pin = crate::agent::install::PINS
                .iter()
                .find(|p| p.agent == agent)
                .unwrap();
            assert_eq!(shown.as_ref().map(|v| v.0.as_str()), Some(pin.version));
        }
        let present = [
            agent.is_some(),
            model.is_some(),
            max_steps.is_some(),
            budget_usd.is_some(),
            protected_paths.is_some(),
            pa.is_some(),
            pm.is_some(),
            pt.is_some(),
            pn.is_some(),
            ia.is_some(),
            im.is_some(),
            it.is_some(),
            inn.is_some(),
            ist.is_some(),
            command.is_some(),
            vt.is_some(),
            retries.is_some(),
            title_prefix.is_some(),
            labels.is_some(),
            reviewers.is_some(),
            webhook_secret.is_some(),
        ];
        assert!(
            present.iter().all(|p| *p),
            "a key is missing from EXAMPLE_TOML: {present:?}"
        );

        // Keys with a default show that default; the others show an example value.
        let mut s = resolve(file, None, Overrides::default());
        assert_ne!(s, Settings::default());
        s.plan.model = None;
        s.plan.max_turns = None;
        s.implement.model = None;
        s.implement.max_turns = None;
        s.budget_usd = None;
        s.verify.command = None;
        s.pr.reviewers = vec![];
        s.notify.webhook_secret = None;
        s.agent_versions = AgentVersions::default();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn agent_versions_are_checked_where_they_are_written() {
        let s = settings("[agent_versions]\ncodex = \"0.170.0\"\n");
        assert_eq!(s.agent_versions.codex.as_deref(), Some("0.170.0"));
        assert_eq!(s.agent_versions.claude, None);
        for bad in [
            "[agent_versions]\nclaude = \"--registry=x\"\n",
            "[agent_versions]\nclaude = \"1 2\"\n",
            "[agent_versions]\naider = \"1.0\"\n",
        ] {
            let err = file_err(bad);
            assert!(err.message.contains("line 2"), "{bad}: {}", err.message);
        }
    }
}
