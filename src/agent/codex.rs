//! OpenAI Codex CLI (`codex exec`): arguments, the private `CODEX_HOME` for a configured
//! endpoint, and `--json` event parsing.
//!
//! Facts this relies on, checked by running codex 0.169.0 against a fake Responses API
//! (`tests/real_codex.rs`): `codex exec --json -` reads the prompt on stdin and writes JSON
//! lines `thread.started`, `turn.started`, `item.started|completed` (items `agent_message`,
//! `command_execution {command, aggregated_output, exit_code, status}`, `file_change {changes
//! [{path (absolute), kind}]}`, `mcp_tool_call`, `web_search`, `todo_list`, and `error`, which
//! is a warning), `turn.completed {usage {input_tokens, cached_input_tokens,
//! cache_write_input_tokens, output_tokens, reasoning_output_tokens}}` once per `codex exec`,
//! `turn.failed {error {message}}`, and top-level `error {message}` events that are notes while
//! it retries (`Reconnecting... 2/5 (…)`, `Reconnecting... waiting for network (…)`) and repeat
//! the final error before `turn.failed`. It exits 0 after `turn.completed` and 1 after
//! `turn.failed`. It retries an API it cannot connect to without end. It reports no cost and
//! has no turn or budget limit.
//!
//! codex 0.169 ignores `OPENAI_BASE_URL`; an endpoint is set in `$CODEX_HOME/config.toml` only.
//! oneshot keeps `OPENAI_BASE_URL` as the setting users give and, when it is set, runs codex
//! with a private `CODEX_HOME` whose `config.toml` names it as a model provider (HTTP, no
//! WebSocket). Otherwise codex uses the user's own `CODEX_HOME` (`codex login`, config).
//!
//! Its sandbox cannot limit writes to `.impl/`, so in the planning phase the check after the
//! session (nothing outside `.impl/` changed) is the guard. Under `--sandbox workspace-write`
//! every command runs in bubblewrap, which fails where unprivileged user namespaces are
//! blocked; a session in which every command failed so is a failure (see [`BWRAP_HINT`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::env::parent_var;
use super::json::StrOr;
use super::pricing;
use super::stream::{
    ExitInfo, LiveLine, LiveSink, MAX_FINAL_TEXT, Parsed, PermissionDenial, SUMMARY_WIDTH,
    StreamParser, cap_text, one_line, relative,
};
use super::{Invocation, Outcome, Phase, SessionSettings};
use crate::error::{IoContext, Result};

pub(super) fn args(_phase: Phase, settings: &SessionSettings) -> Vec<String> {
    let mut args: Vec<String> = [
        "exec",
        "--json",
        "--color",
        "never",
        "--sandbox",
        "workspace-write",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if let Some(model) = &settings.model {
        args.extend(["--model".into(), model.clone()]);
    }
    // The prompt comes on stdin.
    args.push("-".into());
    args
}

/// The id of the model provider oneshot writes for a configured endpoint.
pub const PROVIDER_ID: &str = "oneshot";

/// The `config.toml` of a private `CODEX_HOME` that sends codex to `base_url` over HTTP
/// (custom providers get no WebSocket transport, so codex does not try one first). `env_key`
/// names the variable holding the key; without one codex sends no key (a local gateway).
pub fn provider_config(base_url: &str, env_key: Option<&str>) -> String {
    let mut toml = format!(
        "# Written by oneshot for one codex session: the endpoint from OPENAI_BASE_URL.\n\
         model_provider = \"{PROVIDER_ID}\"\n\n\
         [model_providers.{PROVIDER_ID}]\n\
         name = \"OPENAI_BASE_URL (oneshot)\"\n\
         base_url = {}\n\
         wire_api = \"responses\"\n",
        toml_string(base_url)
    );
    if let Some(key) = env_key {
        toml.push_str(&format!("env_key = {}\n", toml_string(key)));
    }
    toml
}

/// A TOML basic string.
fn toml_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(super) fn invocation(
    phase: Phase,
    settings: &SessionSettings,
    prompt: &str,
    workdir: &Path,
    parent: &[(OsString, OsString)],
) -> Result<Invocation> {
    let mut notes = Vec::new();
    if settings.max_turns.is_some() {
        notes.push("codex has no turn limit; the max-turns setting is not applied".into());
    }
    if settings.budget_usd.is_some() {
        notes.push(pricing::budget_note("codex", settings.model.as_deref()));
    }
    let mut env = Vec::new();
    let mut prepared = None;
    if let Some(base_url) = parent_var(parent, "OPENAI_BASE_URL") {
        // Under the user's cache rather than the temp directory, where codex refuses to put
        // the helper programs it adds to PATH (apply_patch and others).
        let cache = parent_var(parent, "XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| parent_var(parent, "HOME").map(|h| Path::new(h).join(".cache")))
            .map(|dir| dir.join("oneshot"))
            .filter(|dir| std::fs::create_dir_all(dir).is_ok())
            .unwrap_or_else(std::env::temp_dir);
        let home = tempfile::Builder::new()
            .prefix("codex-home-")
            .tempdir_in(&cache)
            .io_context(|| {
                format!(
                    "could not create a CODEX_HOME for the codex session in {}",
                    cache.display()
                )
            })?;
        let key = parent_var(parent, "OPENAI_API_KEY").map(|_| "OPENAI_API_KEY");
        let config = home.path().join("config.toml");
        std::fs::write(&config, provider_config(base_url, key))
            .io_context(|| format!("could not write {}", config.display()))?;
        notes.push(format!(
            "codex uses the endpoint {base_url} (OPENAI_BASE_URL) through a CODEX_HOME of its own; \
             the user's codex login and config are not used"
        ));
        env.push(("CODEX_HOME".into(), home.path().as_os_str().to_owned()));
        prepared = Some(home);
    }
    Ok(Invocation {
        program: "codex".into(),
        args: args(phase, settings),
        stdin: Some(prompt.as_bytes().to_vec()),
        parser: Box::new(CodexParser::new(workdir, settings.model.as_deref())),
        notes,
        env,
        prepared,
    })
}

pub(super) const INSTALL_HINT: &str =
    "install the Codex CLI (npm install -g @openai/codex) and make sure `codex` is on PATH";

/// What a session in which every command failed in bubblewrap is told.
pub const BWRAP_HINT: &str = "codex's sandbox (bubblewrap) cannot create its namespaces here, \
     so no command could run: unprivileged user namespaces are blocked (on Ubuntu 24.04 and \
     GitHub's runners by AppArmor; run `sudo sysctl -w \
     kernel.apparmor_restrict_unprivileged_userns=0` before the session)";

/// After this many `Reconnecting... waiting for network` errors in a row, with no other event
/// between them, the API is taken to be unreachable and the session is ended. codex prints the
/// first after about 3 s and the next after about 8 s more, having retried in between.
pub const UNREACHABLE_AFTER: u32 = 2;

#[derive(Deserialize, Default)]
#[serde(default)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    item: Option<Item>,
    usage: Option<Usage>,
    error: StrOr<ErrorBody>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Usage {
    input_tokens: Option<u64>,
    cached_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Item {
    #[serde(rename = "type", alias = "item_type")]
    kind: String,
    text: Option<String>,
    command: Option<serde_json::Value>,
    aggregated_output: Option<String>,
    exit_code: Option<i64>,
    status: Option<String>,
    changes: Option<Vec<Change>>,
    server: Option<String>,
    tool: Option<String>,
    query: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Change {
    path: String,
    kind: Option<String>,
}

/// The message of an error event: codex passes an API's error body on as it came, so a JSON
/// body `{"error": {"message": …}}` is reduced to its message.
fn api_message(message: &str) -> String {
    let trimmed = message.trim();
    if trimmed.starts_with('{')
        && let Ok(body) = serde_json::from_str::<serde_json::Value>(trimmed)
        && let Some(inner) = body["error"]["message"]
            .as_str()
            .or(body["message"].as_str())
    {
        return inner.to_string();
    }
    trimmed.to_string()
}

pub(super) struct CodexParser {
    workdir: PathBuf,
    /// The model asked for; `None` when codex uses its configured default (unknown here).
    model: Option<String>,
    last_text: Option<String>,
    /// Actions (commands, file changes, tool calls, searches) and messages the agent produced.
    actions: u64,
    usage: Option<pricing::Usage>,
    /// `turn.failed`: the session failed.
    failure: Option<String>,
    /// The last top-level error that was not a retry note: the cause of a non-zero exit.
    last_error: Option<String>,
    commands: u64,
    /// Commands that failed because bubblewrap could not set up its sandbox.
    sandbox_failures: u64,
    sandbox_error: Option<String>,
    /// `Reconnecting... waiting for network` errors in a row.
    offline: u32,
    offline_message: Option<String>,
    denials: Vec<PermissionDenial>,
}

impl CodexParser {
    pub(super) fn new(workdir: &Path, model: Option<&str>) -> Self {
        CodexParser {
            workdir: workdir.to_path_buf(),
            model: model.map(str::to_string),
            last_text: None,
            actions: 0,
            usage: None,
            failure: None,
            last_error: None,
            commands: 0,
            sandbox_failures: 0,
            sandbox_error: None,
            offline: 0,
            offline_message: None,
            denials: Vec::new(),
        }
    }

    fn command_text(item: &Item) -> String {
        match &item.command {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Array(parts)) => parts
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| p.to_string())
                })
                .collect::<Vec<_>>()
                .join(" "),
            Some(other) => other.to_string(),
            None => String::new(),
        }
    }

    fn started(&mut self, item: Item, live: &mut dyn LiveSink) {
        match item.kind.as_str() {
            "command_execution" => {
                let command = relative(&Self::command_text(&item), &self.workdir);
                live.push(LiveLine::Tool(format!(
                    "$ {}",
                    one_line(&command, SUMMARY_WIDTH)
                )));
            }
            "mcp_tool_call" => {
                let server = item.server.unwrap_or_default();
                let tool = item.tool.unwrap_or_default();
                live.push(LiveLine::Tool(format!("mcp {server}.{tool}")));
            }
            "web_search" => {
                live.push(LiveLine::Tool(format!(
                    "search {}",
                    one_line(&item.query.unwrap_or_default(), SUMMARY_WIDTH)
                )));
            }
            _ => {}
        }
    }

    fn completed(&mut self, item: Item, live: &mut dyn LiveSink) {
        match item.kind.as_str() {
            "agent_message" => {
                self.actions += 1;
                if let Some(text) = item.text.filter(|t| !t.trim().is_empty()) {
                    live.push(LiveLine::Text(one_line(&text, SUMMARY_WIDTH)));
                    self.last_text = Some(text);
                }
            }
            "file_change" => {
                self.actions += 1;
                let changes = item.changes.unwrap_or_default();
                let paths: Vec<String> = changes
                    .iter()
                    .map(|c| {
                        let path = relative(&c.path, &self.workdir);
                        match c.kind.as_deref() {
                            Some("add") => format!("+{path}"),
                            Some("delete") => format!("-{path}"),
                            _ => path,
                        }
                    })
                    .collect();
                live.push(LiveLine::Tool(format!(
                    "edit {}",
                    one_line(&paths.join(" "), SUMMARY_WIDTH)
                )));
            }
            "command_execution" if item.status.as_deref() == Some("declined") => {
                self.actions += 1;
                let command = Self::command_text(&item);
                live.push(LiveLine::Note(format!(
                    "denied: $ {}",
                    one_line(&command, SUMMARY_WIDTH)
                )));
                if self.denials.len() < 100 {
                    self.denials.push(PermissionDenial {
                        tool: "command_execution".into(),
                        input: one_line(&command, SUMMARY_WIDTH),
                    });
                }
            }
            "command_execution" => {
                self.actions += 1;
                self.commands += 1;
                let output = item.aggregated_output.as_deref().unwrap_or("");
                if item.exit_code.is_some_and(|c| c != 0)
                    && let Some(line) = output
                        .lines()
                        .find(|l| l.trim_start().starts_with("bwrap:"))
                {
                    self.sandbox_failures += 1;
                    let line = one_line(line.trim(), SUMMARY_WIDTH);
                    live.push(LiveLine::Note(format!("sandbox error: {line}")));
                    self.sandbox_error.get_or_insert(line);
                }
            }
            "mcp_tool_call" | "web_search" => self.actions += 1,
            // codex's warnings (an unknown model, a config problem) come as items of type error.
            "error" => {
                let message = item.message.unwrap_or_default();
                live.push(LiveLine::Note(format!(
                    "warning: {}",
                    one_line(&message, SUMMARY_WIDTH)
                )));
            }
            _ => {}
        }
    }

    fn error_event(&mut self, message: String, live: &mut dyn LiveSink) {
        let message = api_message(&message);
        if let Some(retry) = message.strip_prefix("Reconnecting...") {
            live.push(LiveLine::Note(format!(
                "retrying: {}",
                one_line(retry.trim(), SUMMARY_WIDTH)
            )));
            if retry.trim_start().starts_with("waiting for network") {
                self.offline += 1;
                self.offline_message = Some(message);
            }
            return;
        }
        live.push(LiveLine::Note(format!(
            "error: {}",
            one_line(&message, SUMMARY_WIDTH)
        )));
        self.last_error = Some(message);
    }
}

fn event_message(event: &Event) -> Option<String> {
    match &event.error {
        StrOr::Str(s) => Some(s.clone()),
        StrOr::Value(body) => body.message.clone(),
        StrOr::Other => None,
    }
    .or_else(|| event.message.clone())
}

impl StreamParser for CodexParser {
    fn line(&mut self, line: &[u8], _cut: bool, live: &mut dyn LiveSink) -> bool {
        let Ok(event) = serde_json::from_slice::<Event>(line) else {
            return false;
        };
        if event.kind != "error" {
            // Anything else is progress: the API was reached.
            self.offline = 0;
        }
        match event.kind.as_str() {
            "thread.started" => live.push(LiveLine::Note("session started".into())),
            "item.started" => {
                if let Some(item) = event.item {
                    self.started(item, live);
                }
            }
            "item.completed" => {
                if let Some(item) = event.item {
                    self.completed(item, live);
                }
            }
            "turn.completed" => {
                if let Some(usage) = event.usage {
                    let total = self.usage.get_or_insert_with(pricing::Usage::default);
                    total.input += usage.input_tokens.unwrap_or(0);
                    total.cached_input += usage.cached_input_tokens.unwrap_or(0);
                    total.output += usage.output_tokens.unwrap_or(0);
                }
            }
            "turn.failed" => {
                let message = event_message(&event)
                    .map(|m| api_message(&m))
                    .unwrap_or_else(|| "the turn failed".into());
                live.push(LiveLine::Note(format!(
                    "turn failed: {}",
                    one_line(&message, SUMMARY_WIDTH)
                )));
                self.failure = Some(message);
            }
            "error" => {
                let message = event_message(&event).unwrap_or_else(|| "error".into());
                self.error_event(message, live);
            }
            "" => return false,
            _ => {}
        }
        true
    }

    fn stop_reason(&mut self) -> Option<String> {
        (self.offline >= UNREACHABLE_AFTER).then(|| {
            format!(
                "codex cannot reach the model API ({}) and would retry without end; check \
                 OPENAI_BASE_URL, the network and the proxy settings",
                self.offline_message
                    .as_deref()
                    .unwrap_or("waiting for network")
            )
        })
    }

    fn finish(self: Box<Self>, exit: ExitInfo) -> Parsed {
        let this = *self;
        let sandbox_broken = this.commands > 0 && this.sandbox_failures == this.commands;
        let (outcome, error) = match (&this.failure, exit.code) {
            (Some(message), _) => (Outcome::Failed, Some(one_line(message, 500))),
            (None, Some(0)) if sandbox_broken => (
                Outcome::Failed,
                Some(format!(
                    "all {} commands codex ran failed in its sandbox ({}): {BWRAP_HINT}",
                    this.commands,
                    this.sandbox_error.as_deref().unwrap_or("bwrap")
                )),
            ),
            (None, Some(0)) => (Outcome::Success, None),
            (None, Some(code)) => (
                Outcome::Failed,
                Some(match &this.last_error {
                    Some(message) => one_line(message, 500),
                    None => format!("codex exited with code {code}"),
                }),
            ),
            (None, None) => (Outcome::Failed, Some("codex was killed by a signal".into())),
        };
        let cost_usd = match (&this.model, this.usage) {
            (Some(model), Some(usage)) => pricing::cost_usd(model, usage),
            _ => None,
        };
        Parsed {
            outcome: Some(outcome),
            error,
            model: None,
            turns: (this.actions > 0).then_some(this.actions),
            input_tokens: this.usage.map(|u| u.input),
            output_tokens: this.usage.map(|u| u.output),
            cost_usd,
            final_text: this.last_text.map(|t| cap_text(&t, MAX_FINAL_TEXT)),
            permission_denials: this.denials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_with(model: Option<&str>, lines: &[&str], code: i32) -> (Parsed, Vec<LiveLine>) {
        let mut parser: Box<dyn StreamParser> =
            Box::new(CodexParser::new(Path::new("/repo"), model));
        let mut live = Vec::new();
        for line in lines {
            parser.line(line.as_bytes(), false, &mut |l| live.push(l));
        }
        (parser.finish(ExitInfo { code: Some(code) }), live)
    }

    fn run(lines: &[&str], code: i32) -> (Parsed, Vec<LiveLine>) {
        run_with(None, lines, code)
    }

    // Lines as codex 0.169.0 printed them against the fake Responses API.
    const STARTED: &str =
        r#"{"type":"thread.started","thread_id":"01a23bf5-4126-7983-9d55-e9e0575682da"}"#;
    const TURN: &str = r#"{"type":"turn.started"}"#;
    const EDIT: &str = r#"{"type":"item.completed","item":{"id":"item_0","type":"file_change","changes":[{"path":"/repo/.impl/plan.md","kind":"add"}],"status":"completed"}}"#;
    const MESSAGE: &str = r#"{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Wrote the plan."}}"#;
    const DONE: &str = r#"{"type":"turn.completed","usage":{"input_tokens":200,"cached_input_tokens":20,"cache_write_input_tokens":0,"output_tokens":40,"reasoning_output_tokens":10}}"#;
    const RETRY: &str = r#"{"type":"error","message":"Reconnecting... 1/5 (stream disconnected before completion: Transport error: network error: error decoding response body)"}"#;
    const OFFLINE: &str = r#"{"type":"error","message":"Reconnecting... waiting for network (Connection failed: error sending request)"}"#;
    const BWRAP: &str = r#"{"type":"item.completed","item":{"id":"item_0","type":"command_execution","command":"/bin/bash -lc 'echo hi > a.txt'","aggregated_output":"bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted\n","exit_code":1,"status":"failed"}}"#;

    #[test]
    fn a_successful_session() {
        let lines = [
            STARTED,
            TURN,
            r#"{"type":"item.started","item":{"id":"i1","type":"command_execution","command":"/bin/bash -lc 'git log -1'","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"i1","type":"command_execution","command":"/bin/bash -lc 'git log -1'","aggregated_output":"commit 1\n","exit_code":0,"status":"completed"}}"#,
            EDIT,
            MESSAGE,
            DONE,
        ];
        let (parsed, live) = run(&lines, 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        assert_eq!(
            (parsed.input_tokens, parsed.output_tokens, parsed.turns),
            (Some(200), Some(40), Some(3))
        );
        assert_eq!(parsed.final_text.as_deref(), Some("Wrote the plan."));
        // Without a model asked for, the model (codex's configured default) and its price
        // are unknown.
        assert_eq!(parsed.cost_usd, None);
        assert_eq!(
            live,
            [
                LiveLine::Note("session started".into()),
                LiveLine::Tool("$ /bin/bash -lc 'git log -1'".into()),
                LiveLine::Tool("edit +.impl/plan.md".into()),
                LiveLine::Text("Wrote the plan.".into()),
            ]
        );
    }

    #[test]
    fn the_cost_comes_from_the_price_table_when_the_model_is_known() {
        let (parsed, _) = run_with(Some("gpt-5.5"), &[STARTED, TURN, MESSAGE, DONE], 0);
        // 180 fresh at $5/M, 20 cached at $0.50/M, 40 out at $30/M.
        assert_eq!(parsed.cost_usd, Some(0.0021));
        let (parsed, _) = run_with(Some("gpt-6.1-sol"), &[STARTED, TURN, MESSAGE, DONE], 0);
        assert_eq!(parsed.cost_usd, None);
        assert_eq!(parsed.input_tokens, Some(200));
    }

    #[test]
    fn retries_are_notes_and_the_session_that_recovers_succeeds() {
        let (parsed, live) = run(&[STARTED, TURN, RETRY, EDIT, MESSAGE, DONE], 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success), "{:?}", parsed.error);
        assert_eq!(parsed.error, None);
        assert!(
            live.contains(&LiveLine::Note(
                "retrying: 1/5 (stream disconnected before completion: Transport error: network error: error decoding response body)".into()
            )),
            "{live:?}"
        );
    }

    #[test]
    fn warnings_are_shown_as_warnings() {
        let warning = r#"{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5.4` not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}"#;
        let (parsed, live) = run(&[STARTED, TURN, warning, MESSAGE, DONE], 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        assert!(
            matches!(&live[1], LiveLine::Note(n) if n.starts_with("warning: Model metadata for `gpt-5.4` not found")),
            "{live:?}"
        );
    }

    #[test]
    fn failure_is_turn_failed_or_a_non_zero_exit_with_the_api_message() {
        let body = r#"{\"error\": {\"message\": \"fake model API says no\", \"type\": \"invalid_request_error\", \"param\": null, \"code\": null}}"#;
        let error = format!(r#"{{"type":"error","message":"{body}"}}"#);
        let failed = format!(r#"{{"type":"turn.failed","error":{{"message":"{body}"}}}}"#);
        let (parsed, _) = run(&[STARTED, TURN, &error, &failed], 1);
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(parsed.error.as_deref(), Some("fake model API says no"));
        // A final error without turn.failed, then a non-zero exit.
        let (parsed, _) = run(
            &[STARTED, r#"{"type":"error","message":"unauthorized"}"#],
            1,
        );
        assert_eq!(parsed.error.as_deref(), Some("unauthorized"));
        // An error event alone does not fail a session that exits 0.
        let (parsed, _) = run(
            &[STARTED, TURN, r#"{"type":"error","message":"x"}"#, DONE],
            0,
        );
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        let (parsed, _) = run(&["garbage"], 3);
        assert_eq!(parsed.error.as_deref(), Some("codex exited with code 3"));
    }

    #[test]
    fn an_unreachable_api_asks_to_end_the_session() {
        let mut parser = CodexParser::new(Path::new("/repo"), None);
        let mut sink = |_| {};
        for line in [STARTED, TURN, OFFLINE] {
            parser.line(line.as_bytes(), false, &mut sink);
        }
        assert_eq!(parser.stop_reason(), None, "one is a retry");
        // Progress in between starts the count again.
        parser.line(EDIT.as_bytes(), false, &mut sink);
        parser.line(OFFLINE.as_bytes(), false, &mut sink);
        assert_eq!(parser.stop_reason(), None);
        parser.line(OFFLINE.as_bytes(), false, &mut sink);
        let reason = parser.stop_reason().expect("two in a row");
        assert!(
            reason.starts_with("codex cannot reach the model API (Reconnecting... waiting for network (Connection failed"),
            "{reason}"
        );
        assert!(reason.contains("OPENAI_BASE_URL"), "{reason}");
    }

    #[test]
    fn a_session_whose_commands_all_failed_in_bwrap_fails_and_says_why() {
        let (parsed, live) = run(&[STARTED, TURN, BWRAP, BWRAP, MESSAGE, DONE], 0);
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        let error = parsed.error.unwrap();
        assert!(
            error.starts_with("all 2 commands codex ran failed in its sandbox (bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted)"),
            "{error}"
        );
        assert!(
            error.contains("kernel.apparmor_restrict_unprivileged_userns=0"),
            "{error}"
        );
        assert!(live.contains(&LiveLine::Note(
            "sandbox error: bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted".into()
        )));
        // One command that ran is enough: the sandbox works, the other failure is the agent's.
        let ok = r#"{"type":"item.completed","item":{"id":"i","type":"command_execution","command":"ls","aggregated_output":"a\n","exit_code":0,"status":"completed"}}"#;
        let (parsed, _) = run(&[STARTED, TURN, BWRAP, ok, DONE], 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success));
    }

    #[test]
    fn args_put_the_prompt_on_stdin() {
        let settings = SessionSettings {
            model: Some("gpt-6.1-sol".into()),
            ..SessionSettings::default()
        };
        assert_eq!(
            args(Phase::Plan, &settings).join(" "),
            "exec --json --color never --sandbox workspace-write --model gpt-6.1-sol -"
        );
    }

    #[test]
    fn the_provider_table_names_the_endpoint() {
        assert_eq!(
            provider_config("http://127.0.0.1:9/v1", Some("OPENAI_API_KEY")),
            "# Written by oneshot for one codex session: the endpoint from OPENAI_BASE_URL.\n\
             model_provider = \"oneshot\"\n\n\
             [model_providers.oneshot]\n\
             name = \"OPENAI_BASE_URL (oneshot)\"\n\
             base_url = \"http://127.0.0.1:9/v1\"\n\
             wire_api = \"responses\"\n\
             env_key = \"OPENAI_API_KEY\"\n"
        );
        // A hostile URL cannot add keys to the file.
        let config = provider_config("http://x/\"\nmodel = \"evil\\", None);
        assert!(
            config.contains(r#"base_url = "http://x/\"\u000Amodel = \"evil\\""#),
            "{config}"
        );
        assert!(!config.contains("env_key"));
    }

    #[test]
    fn a_configured_endpoint_gets_a_private_codex_home() {
        let parent: Vec<(OsString, OsString)> = vec![
            ("OPENAI_BASE_URL".into(), "http://127.0.0.1:9/v1".into()),
            ("OPENAI_API_KEY".into(), "sk-x".into()),
        ];
        let settings = SessionSettings::default();
        let inv = invocation(Phase::Plan, &settings, "p", Path::new("/repo"), &parent).unwrap();
        let (name, home) = &inv.env[0];
        assert_eq!(name, "CODEX_HOME");
        let config = std::fs::read_to_string(Path::new(home).join("config.toml")).unwrap();
        assert!(config.contains("base_url = \"http://127.0.0.1:9/v1\""));
        assert!(!config.contains("sk-x"), "the key stays in the environment");
        let home = PathBuf::from(home);
        drop(inv);
        assert!(!home.exists(), "removed with the invocation");
        // No endpoint: the user's own CODEX_HOME (codex login) is left alone.
        let inv = invocation(Phase::Plan, &settings, "p", Path::new("/repo"), &[]).unwrap();
        assert!(inv.env.is_empty() && inv.prepared.is_none());
    }
}
