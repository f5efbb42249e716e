//! The environment an agent process gets: an allow-list, never the parent's environment.
//!
//! The agent runs code chosen by a model that has read untrusted text (the task, the
//! repository), so it must not hold anything it could use against the repository or the
//! workflow: no GitHub token (`GITHUB_TOKEN`, `GH_TOKEN`, `ONESHOT_TOKEN`), no runner tokens
//! (`ACTIONS_RUNTIME_TOKEN`, `ACTIONS_ID_TOKEN_REQUEST_*`), no action inputs (`INPUT_*`), no
//! other agent's key. oneshot performs every push and every GitHub call itself.
//!
//! What passes, and why:
//! - `PATH` without empty or relative entries (those would resolve inside the repository the
//!   agent edits), so the toolchain the workflow set up stays reachable; `HOME`.
//! - What a CLI needs to run at all: user and shell names, temp directories, locale (`LANG`,
//!   `LC_*`, `TZ`), XDG directories, TLS certificate bundles, proxies, `CI`.
//! - Toolchain locations an implementation session needs to build and test (`CARGO_HOME`,
//!   `RUSTUP_HOME`, `GOPATH`, `JAVA_HOME`, …).
//! - The agent's own key and settings, and nothing of the other agents: see [`agent_rules`].
//! - Names the caller adds explicitly ([`super::SessionSettings::extra_env`]), except the
//!   forbidden ones, which never pass.

use std::ffi::{OsStr, OsString};

use super::AgentSpec;

/// A rule of the allow-list: an exact name or a prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Exact(&'static str),
    Prefix(&'static str),
}

use Rule::{Exact, Prefix};

/// Names every agent gets (besides `PATH`, which is cleaned, see [`clean_path`]).
pub const COMMON: &[Rule] = &[
    Exact("HOME"),
    Exact("USER"),
    Exact("LOGNAME"),
    Exact("SHELL"),
    Exact("TMPDIR"),
    Exact("TMP"),
    Exact("TEMP"),
    Exact("LANG"),
    Exact("LANGUAGE"),
    Prefix("LC_"),
    Exact("TZ"),
    Exact("CI"),
    Exact("XDG_CONFIG_HOME"),
    Exact("XDG_CACHE_HOME"),
    Exact("XDG_DATA_HOME"),
    Exact("XDG_STATE_HOME"),
    Exact("XDG_RUNTIME_DIR"),
    Exact("SSL_CERT_FILE"),
    Exact("SSL_CERT_DIR"),
    Exact("NODE_EXTRA_CA_CERTS"),
    Exact("HTTP_PROXY"),
    Exact("HTTPS_PROXY"),
    Exact("NO_PROXY"),
    Exact("ALL_PROXY"),
    Exact("http_proxy"),
    Exact("https_proxy"),
    Exact("no_proxy"),
    Exact("all_proxy"),
    // Toolchains the implementation session builds and tests with.
    Exact("CARGO_HOME"),
    Exact("RUSTUP_HOME"),
    Exact("RUSTUP_TOOLCHAIN"),
    Exact("GOPATH"),
    Exact("GOROOT"),
    Exact("GOCACHE"),
    Exact("GOMODCACHE"),
    Exact("JAVA_HOME"),
    Exact("NVM_DIR"),
    Exact("PNPM_HOME"),
    Exact("PYENV_ROOT"),
    Exact("VIRTUAL_ENV"),
    Exact("DOTNET_ROOT"),
    Exact("GEM_HOME"),
    Exact("GEM_PATH"),
    Exact("ANDROID_HOME"),
    Exact("ANDROID_SDK_ROOT"),
];

/// Claude Code: its key or OAuth token, its endpoint and its own settings. `IS_SANDBOX` lets a
/// container that runs as root use `--dangerously-skip-permissions` if a repository's settings
/// ask for it.
const CLAUDE: &[Rule] = &[
    Prefix("ANTHROPIC_"),
    Prefix("CLAUDE_CODE_"),
    Exact("CLAUDE_CONFIG_DIR"),
    Exact("IS_SANDBOX"),
    Exact("DISABLE_TELEMETRY"),
    Exact("DISABLE_AUTOUPDATER"),
    Exact("DISABLE_ERROR_REPORTING"),
    Exact("DISABLE_NON_ESSENTIAL_MODEL_CALLS"),
    Exact("MAX_THINKING_TOKENS"),
    Exact("API_TIMEOUT_MS"),
    Exact("BASH_DEFAULT_TIMEOUT_MS"),
    Exact("BASH_MAX_TIMEOUT_MS"),
    Exact("BASH_MAX_OUTPUT_LENGTH"),
    Exact("MCP_TIMEOUT"),
];

/// Claude Code on Amazon Bedrock (`CLAUDE_CODE_USE_BEDROCK=1`) authenticates with AWS.
const CLAUDE_BEDROCK: &[Rule] = &[
    Exact("AWS_REGION"),
    Exact("AWS_ACCESS_KEY_ID"),
    Exact("AWS_SECRET_ACCESS_KEY"),
    Exact("AWS_SESSION_TOKEN"),
    Exact("AWS_PROFILE"),
    Exact("AWS_BEARER_TOKEN_BEDROCK"),
];

/// Claude Code on Google Vertex AI (`CLAUDE_CODE_USE_VERTEX=1`).
const CLAUDE_VERTEX: &[Rule] = &[
    Exact("CLOUD_ML_REGION"),
    Prefix("VERTEX_REGION_"),
    Exact("GOOGLE_APPLICATION_CREDENTIALS"),
    Exact("GOOGLE_CLOUD_PROJECT"),
];

/// Codex: its key and its own settings. Not `OPENAI_BASE_URL`, which codex 0.169 ignores:
/// oneshot turns it into a `CODEX_HOME` of the session's own (see `codex.rs`).
const CODEX: &[Rule] = &[
    Exact("OPENAI_API_KEY"),
    Exact("OPENAI_ORGANIZATION"),
    Exact("OPENAI_PROJECT"),
    Prefix("CODEX_"),
];

/// Gemini CLI: its key and settings (`GEMINI_*`, e.g. `GEMINI_API_KEY`, `GEMINI_CLI_HOME`), the
/// Google API settings, and the endpoints of a gateway or proxy.
const GEMINI: &[Rule] = &[
    Prefix("GEMINI_"),
    Exact("GOOGLE_API_KEY"),
    Exact("GOOGLE_GENAI_USE_VERTEXAI"),
    Exact("GOOGLE_GENAI_USE_GCA"),
    Exact("GOOGLE_GENAI_API_VERSION"),
    Exact("GOOGLE_GEMINI_BASE_URL"),
    Exact("GOOGLE_VERTEX_BASE_URL"),
    Exact("GOOGLE_CLOUD_PROJECT"),
    Exact("GOOGLE_CLOUD_LOCATION"),
    Exact("GOOGLE_APPLICATION_CREDENTIALS"),
];

/// A `command:` agent may wrap any model provider, so it gets the usual keys of each.
const COMMAND: &[Rule] = &[
    Exact("ANTHROPIC_API_KEY"),
    Exact("ANTHROPIC_BASE_URL"),
    Exact("OPENAI_API_KEY"),
    Exact("OPENAI_BASE_URL"),
    Exact("GEMINI_API_KEY"),
];

/// Never passed, whatever the allow-list or the caller says: GitHub and runner credentials,
/// action inputs, oneshot's own settings.
pub const FORBIDDEN: &[Rule] = &[
    Prefix("GITHUB_"),
    Prefix("GH_"),
    Prefix("ACTIONS_"),
    Prefix("RUNNER_"),
    Prefix("INPUT_"),
    Prefix("ONESHOT_"),
];

/// Set for every agent: no colour codes in the output oneshot parses and logs.
const FIXED: &[(&str, &str)] = &[("NO_COLOR", "1")];

/// The agent's own rules, chosen by what the parent environment says about the provider.
pub fn agent_rules(agent: &AgentSpec, parent: &[(OsString, OsString)]) -> Vec<Rule> {
    let set = |name: &str| {
        parent
            .iter()
            .any(|(k, v)| k == name && !v.is_empty() && v != "0")
    };
    let mut rules = Vec::new();
    match agent {
        AgentSpec::Claude => {
            rules.extend_from_slice(CLAUDE);
            if set("CLAUDE_CODE_USE_BEDROCK") {
                rules.extend_from_slice(CLAUDE_BEDROCK);
            }
            if set("CLAUDE_CODE_USE_VERTEX") {
                rules.extend_from_slice(CLAUDE_VERTEX);
            }
        }
        AgentSpec::Codex => rules.extend_from_slice(CODEX),
        AgentSpec::Gemini => rules.extend_from_slice(GEMINI),
        AgentSpec::Command { .. } => rules.extend_from_slice(COMMAND),
    }
    rules
}

fn matches(rules: &[Rule], name: &str) -> bool {
    rules.iter().any(|rule| match rule {
        Exact(exact) => name == *exact,
        Prefix(prefix) => name.starts_with(prefix),
    })
}

/// Whether a name may never reach an agent.
pub fn is_forbidden(name: &str) -> bool {
    matches(FORBIDDEN, name)
}

/// Whether a variable must not reach a program that code written by the agent can influence:
/// git (whose hooks, filters and fsmonitor come from the work tree's config) and the verify
/// command (which runs the tests the agent just edited). Everything an agent may not see, and
/// anything named like a credential, including the agents' own keys.
pub fn is_secret(name: &str) -> bool {
    const CREDENTIAL_SUFFIXES: &[&str] = &[
        "_TOKEN",
        "_API_KEY",
        "_KEY",
        "_SECRET",
        "_PASSWORD",
        "_CREDENTIALS",
    ];
    is_forbidden(name) || CREDENTIAL_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// The environment of an agent process, from the parent's variables: the allow-list of this
/// module, plus `extra` names, minus [`FORBIDDEN`]; `PATH` cleaned by [`clean_path`].
pub fn scrubbed(
    agent: &AgentSpec,
    parent: &[(OsString, OsString)],
    extra: &[String],
) -> Vec<(OsString, OsString)> {
    let own = agent_rules(agent, parent);
    let mut out: Vec<(OsString, OsString)> = Vec::new();
    for (key, value) in parent {
        let Some(name) = key.to_str() else { continue };
        if name == "PATH" || is_forbidden(name) {
            continue;
        }
        if matches(COMMON, name) || matches(&own, name) || extra.iter().any(|e| e == name) {
            out.push((key.clone(), value.clone()));
        }
    }
    let path = parent
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    out.push(("PATH".into(), clean_path(path)));
    for (k, v) in FIXED {
        out.retain(|(key, _)| key != k);
        out.push(((*k).into(), (*v).into()));
    }
    out.sort();
    out
}

/// The value of `name` in the parent's environment `parent`, trimmed, when it is set to
/// something other than blanks: how an adapter reads a setting such as a base URL.
pub fn parent_var<'a>(parent: &'a [(OsString, OsString)], name: &str) -> Option<&'a str> {
    parent
        .iter()
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.to_str())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// `PATH` without empty or relative entries and without duplicates; the system directories
/// when nothing is left.
pub fn clean_path(path: Option<&OsStr>) -> OsString {
    let mut dirs: Vec<std::path::PathBuf> = Vec::new();
    if let Some(path) = path {
        for dir in std::env::split_paths(path) {
            if dir.is_absolute() && !dirs.contains(&dir) {
                dirs.push(dir);
            }
        }
    }
    if dirs.is_empty() {
        return OsString::from("/usr/local/bin:/usr/bin:/bin");
    }
    std::env::join_paths(dirs).unwrap_or_else(|_| OsString::from("/usr/local/bin:/usr/bin:/bin"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parent(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(k, v)| ((*k).into(), (*v).into()))
            .collect()
    }

    fn names(env: &[(OsString, OsString)]) -> Vec<String> {
        env.iter()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect()
    }

    const EVERYTHING: &[(&str, &str)] = &[
        ("PATH", "/usr/bin::.:bin:/usr/bin:/opt/node/bin"),
        ("HOME", "/home/runner"),
        ("LANG", "C.UTF-8"),
        ("LC_ALL", "C"),
        ("TMPDIR", "/tmp"),
        ("GITHUB_TOKEN", "ghs_secret"),
        ("GH_TOKEN", "ghp_secret"),
        ("ONESHOT_TOKEN", "ghp_other"),
        ("ACTIONS_RUNTIME_TOKEN", "x"),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "x"),
        ("ACTIONS_ID_TOKEN_REQUEST_URL", "https://x"),
        ("INPUT_GITHUB_TOKEN", "x"),
        ("GITHUB_WORKSPACE", "/w"),
        ("RUNNER_TEMP", "/r"),
        ("ANTHROPIC_API_KEY", "sk-ant"),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:1"),
        ("CLAUDE_CODE_OAUTH_TOKEN", "oauth"),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1"),
        ("IS_SANDBOX", "1"),
        ("OPENAI_API_KEY", "sk-openai"),
        ("GEMINI_API_KEY", "gem"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:2/v1"),
        ("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:3"),
        ("GOOGLE_VERTEX_BASE_URL", "http://127.0.0.1:4"),
        ("GOOGLE_CLOUD_PROJECT", "p"),
        ("GOOGLE_GENAI_API_VERSION", "v1"),
        ("AWS_SECRET_ACCESS_KEY", "aws"),
        ("SOME_RANDOM_VAR", "x"),
        ("CARGO_HOME", "/c"),
    ];

    #[test]
    fn claude_gets_its_key_and_no_token() {
        let env = scrubbed(&AgentSpec::Claude, &parent(EVERYTHING), &[]);
        assert_eq!(
            names(&env),
            [
                "ANTHROPIC_API_KEY",
                "ANTHROPIC_BASE_URL",
                "CARGO_HOME",
                "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC",
                "CLAUDE_CODE_OAUTH_TOKEN",
                "HOME",
                "IS_SANDBOX",
                "LANG",
                "LC_ALL",
                "NO_COLOR",
                "PATH",
                "TMPDIR",
            ]
        );
        let path = env.iter().find(|(k, _)| k == "PATH").unwrap().1.clone();
        assert_eq!(path, "/usr/bin:/opt/node/bin");
    }

    #[test]
    fn each_agent_gets_only_its_own_key() {
        let codex = names(&scrubbed(&AgentSpec::Codex, &parent(EVERYTHING), &[]));
        assert!(codex.contains(&"OPENAI_API_KEY".to_string()));
        assert!(!codex.iter().any(|n| n.starts_with("ANTHROPIC")
            || n.starts_with("GEMINI")
            || n.starts_with("CLAUDE")));
        assert!(
            !codex.contains(&"OPENAI_BASE_URL".to_string()),
            "codex ignores it; oneshot writes a CODEX_HOME instead"
        );
        let gemini = names(&scrubbed(&AgentSpec::Gemini, &parent(EVERYTHING), &[]));
        assert!(gemini.contains(&"GEMINI_API_KEY".to_string()));
        for endpoint in [
            "GOOGLE_GEMINI_BASE_URL",
            "GOOGLE_VERTEX_BASE_URL",
            "GOOGLE_CLOUD_PROJECT",
            "GOOGLE_GENAI_API_VERSION",
        ] {
            assert!(gemini.contains(&endpoint.to_string()), "{endpoint}");
            assert!(!codex.contains(&endpoint.to_string()), "{endpoint}");
        }
        assert!(
            !gemini
                .iter()
                .any(|n| n.starts_with("ANTHROPIC") || n.starts_with("OPENAI"))
        );
        let command = names(&scrubbed(
            &AgentSpec::parse("command:x").unwrap(),
            &parent(EVERYTHING),
            &[],
        ));
        for key in ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"] {
            assert!(command.contains(&key.to_string()), "{key}");
        }
        assert!(!command.contains(&"CLAUDE_CODE_OAUTH_TOKEN".to_string()));
    }

    #[test]
    fn extra_names_pass_but_never_forbidden_ones() {
        let extra = vec![
            "SOME_RANDOM_VAR".to_string(),
            "GITHUB_TOKEN".to_string(),
            "ONESHOT_TOKEN".to_string(),
        ];
        let env = names(&scrubbed(&AgentSpec::Claude, &parent(EVERYTHING), &extra));
        assert!(env.contains(&"SOME_RANDOM_VAR".to_string()));
        for forbidden in [
            "GITHUB_TOKEN",
            "GH_TOKEN",
            "ONESHOT_TOKEN",
            "ACTIONS_RUNTIME_TOKEN",
            "INPUT_GITHUB_TOKEN",
            "RUNNER_TEMP",
        ] {
            assert!(!env.contains(&forbidden.to_string()), "{forbidden}");
        }
    }

    #[test]
    fn bedrock_credentials_only_when_bedrock_is_on() {
        let mut vars = EVERYTHING.to_vec();
        assert!(
            !names(&scrubbed(&AgentSpec::Claude, &parent(&vars), &[]))
                .contains(&"AWS_SECRET_ACCESS_KEY".to_string())
        );
        vars.push(("CLAUDE_CODE_USE_BEDROCK", "1"));
        assert!(
            names(&scrubbed(&AgentSpec::Claude, &parent(&vars), &[]))
                .contains(&"AWS_SECRET_ACCESS_KEY".to_string())
        );
    }

    #[test]
    fn path_falls_back_to_the_system_directories() {
        assert_eq!(clean_path(None), "/usr/local/bin:/usr/bin:/bin");
        assert_eq!(
            clean_path(Some(OsStr::new(".:bin:"))),
            "/usr/local/bin:/usr/bin:/bin"
        );
    }
}
