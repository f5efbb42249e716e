//! Gemini CLI (`gemini`): arguments, the private settings for a configured endpoint, and
//! `stream-json` parsing.
//!
//! Facts this relies on, checked by running gemini 0.61.0 against a fake Gemini API
//! (`tests/real_gemini.rs`): with `--output-format stream-json` it writes JSON lines
//! `init {session_id, model}` (`model` is `auto` or the alias as given), `message {role,
//! content, delta?}`, `tool_use {tool_name, tool_id, parameters}`, `tool_result {tool_id,
//! status, output?, error?}`, `error {severity, message}` and a final `result {status, error?
//! {type, message}, stats {input_tokens, output_tokens, tool_calls, duration_ms, models {<model
//! id>: {input_tokens, output_tokens, cached, …}}}}`; the keys of `stats.models` are the models
//! really used. `-p` text is appended to the prompt read from stdin. Headless runs in a folder
//! it does not trust exit 55 before doing anything, so oneshot passes `--skip-trust` (the
//! checkout is the one oneshot prepared). Exit codes: see [`exit_code_meaning`]. It retries an
//! API it cannot connect to for minutes, saying so on stderr only. It reports no cost, and its
//! turn limit is a settings-file key (`model.maxSessionTurns`), not a flag. In the planning
//! phase `auto_edit` lets it edit files but not run shell commands (which would need an
//! approval nobody can give); it cannot limit edits to `.impl/`, so the check after the
//! session is the guard.
//!
//! With `GOOGLE_GEMINI_BASE_URL` set (a gateway or proxy), headless gemini also needs
//! `security.auth.selectedType = "gemini-api-key"` in its settings or it exits 41. oneshot then
//! runs it with `GEMINI_CLI_HOME` pointing at a directory of its own whose
//! `.gemini/settings.json` is the user's settings plus that key; `~/.gemini` is not touched.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::env::parent_var;
use super::pricing;
use super::stream::{
    ExitInfo, LiveLine, LiveSink, MAX_FINAL_TEXT, Parsed, SUMMARY_WIDTH, StderrWatch, StreamParser,
    cap_text, one_line, summarize_input,
};
use super::{Invocation, Outcome, Phase, SessionSettings};
use crate::error::{IoContext, Result};

/// The line given with `-p`; the actual prompt arrives on stdin (the two are joined).
const P_LINE: &str = "Follow the instructions given above.";

pub(super) fn args(phase: Phase, settings: &SessionSettings) -> Vec<String> {
    let approval = match phase {
        Phase::Plan => "auto_edit",
        Phase::Implement => "yolo",
    };
    let mut args: Vec<String> = [
        "--output-format",
        "stream-json",
        "--approval-mode",
        approval,
        // The checkout is oneshot's; without this a fresh one is untrusted and gemini exits 55.
        "--skip-trust",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if let Some(model) = &settings.model {
        args.extend(["--model".into(), model.clone()]);
    }
    args.extend(["--prompt".into(), P_LINE.into()]);
    args
}

/// The settings gemini gets with a custom endpoint: the user's own (`$GEMINI_CLI_HOME/.gemini`
/// or `~/.gemini`, when that file is a JSON object) with API-key auth selected.
pub fn endpoint_settings(user_settings: Option<&str>) -> serde_json::Value {
    let mut settings = user_settings
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    let security = &mut settings["security"];
    if !security.is_object() {
        *security = serde_json::json!({});
    }
    let auth = &mut security["auth"];
    if !auth.is_object() {
        *auth = serde_json::json!({});
    }
    auth["selectedType"] = "gemini-api-key".into();
    settings
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
        notes.push("gemini takes its turn limit from its settings file (model.maxSessionTurns); the max-turns setting is not applied".into());
    }
    if settings.budget_usd.is_some() {
        notes.push(pricing::budget_note("gemini", settings.model.as_deref()));
    }
    let mut env = Vec::new();
    let mut prepared = None;
    if let Some(base_url) = parent_var(parent, "GOOGLE_GEMINI_BASE_URL") {
        let user_home = parent_var(parent, "GEMINI_CLI_HOME").or(parent_var(parent, "HOME"));
        let user_settings = user_home
            .map(|home| Path::new(home).join(".gemini/settings.json"))
            .and_then(|path| std::fs::read_to_string(path).ok());
        let home = tempfile::Builder::new()
            .prefix("oneshot-gemini-home-")
            .tempdir()
            .io_context(|| "could not create a home for the gemini session".to_string())?;
        let dir = home.path().join(".gemini");
        let file = dir.join("settings.json");
        std::fs::create_dir_all(&dir)
            .and_then(|()| {
                std::fs::write(
                    &file,
                    endpoint_settings(user_settings.as_deref()).to_string(),
                )
            })
            .io_context(|| format!("could not write {}", file.display()))?;
        notes.push(format!(
            "gemini uses the endpoint {base_url} (GOOGLE_GEMINI_BASE_URL) with API-key auth, \
             from settings of its own in GEMINI_CLI_HOME"
        ));
        env.push(("GEMINI_CLI_HOME".into(), home.path().as_os_str().to_owned()));
        prepared = Some(home);
    }
    Ok(Invocation {
        program: "gemini".into(),
        args: args(phase, settings),
        stdin: Some(prompt.as_bytes().to_vec()),
        parser: Box::new(GeminiParser::new(workdir)),
        notes,
        env,
        prepared,
    })
}

pub(super) const INSTALL_HINT: &str =
    "install the Gemini CLI (npm install -g @google/gemini-cli) and make sure `gemini` is on PATH";

/// The exit code of a session that reached its turn limit.
const EXIT_TURN_LIMIT: i32 = 53;

/// What gemini 0.61's exit codes mean. An HTTP error from the API ends it with the status code
/// modulo 256 (400 gives 144).
pub fn exit_code_meaning(code: i32) -> Option<&'static str> {
    Some(match code {
        1 => "a general error or an API failure",
        41 => {
            "no usable authentication: set GEMINI_API_KEY (or GOOGLE_API_KEY), or select an auth method in ~/.gemini/settings.json"
        }
        42 => "the prompt or the arguments were not accepted",
        53 => "the turn limit (model.maxSessionTurns) was reached",
        55 => {
            "gemini does not trust the folder it runs in (it runs with --skip-trust; a system settings file may disable that)"
        }
        144 => "the API answered HTTP 400 (a bad request: the model name, the request or the key)",
        145 => "the API answered HTTP 401 (the key was not accepted)",
        147 => "the API answered HTTP 403 (the key may not use this model or project)",
        148 => "the API answered HTTP 404 (no such model, or a wrong base URL)",
        _ => return None,
    })
}

fn exit_text(code: i32) -> String {
    match exit_code_meaning(code) {
        Some(meaning) => format!("gemini exited with code {code}: {meaning}"),
        None => format!("gemini exited with code {code}"),
    }
}

/// The message of an API error as gemini words it, `[API Error: {"error": {"message": …}}]`,
/// reduced to the API's message.
fn api_message(message: &str) -> String {
    let trimmed = message.trim();
    let inner = trimmed
        .strip_prefix("[API Error: ")
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(trimmed);
    if inner.starts_with('{')
        && let Ok(body) = serde_json::from_str::<serde_json::Value>(inner)
        && let Some(text) = body["error"]["message"].as_str()
    {
        return match body["error"]["code"].as_u64() {
            Some(code) => format!("{text} (HTTP {code} from the Gemini API)"),
            None => text.to_string(),
        };
    }
    trimmed.to_string()
}

/// The stderr line gemini writes for each failed attempt to reach the API; the second failed
/// attempt of one request means the API cannot be reached (gemini would go on for minutes).
fn unreachable_attempt(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("Attempt ")?;
    let (number, rest) = rest.split_once(' ')?;
    let number: u32 = number.parse().ok()?;
    (number >= 2 && rest.starts_with("failed.") && rest.contains("fetch failed")).then(|| {
        format!(
            "gemini cannot reach the model API ({}) and would retry for minutes; check \
             GOOGLE_GEMINI_BASE_URL, the network and the proxy settings",
            one_line(line.trim(), 300)
        )
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Event {
    #[serde(rename = "type")]
    kind: String,
    model: Option<String>,
    role: Option<String>,
    content: Option<String>,
    delta: Option<bool>,
    tool_name: Option<String>,
    parameters: Option<serde_json::Value>,
    status: Option<String>,
    error: Option<ErrorBody>,
    severity: Option<String>,
    message: Option<String>,
    stats: Option<Stats>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ErrorBody {
    #[serde(rename = "type")]
    kind: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Stats {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    /// Per model id, in the order gemini gives them.
    models: serde_json::Map<String, serde_json::Value>,
}

struct ResultFacts {
    success: bool,
    error_type: Option<String>,
    error: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    /// The models that used tokens, most tokens first.
    models: Vec<(String, pricing::Usage)>,
}

fn model_usages(
    models: &serde_json::Map<String, serde_json::Value>,
) -> Vec<(String, pricing::Usage)> {
    let count = |v: &serde_json::Value, key: &str| v[key].as_u64().unwrap_or(0);
    let mut usages: Vec<(String, pricing::Usage)> = models
        .iter()
        .map(|(model, v)| {
            let usage = pricing::Usage {
                input: count(v, "input_tokens"),
                cached_input: count(v, "cached"),
                output: count(v, "output_tokens"),
            };
            (model.clone(), usage)
        })
        .filter(|(_, usage)| *usage != pricing::Usage::default())
        .collect();
    usages.sort_by_key(|(_, u)| std::cmp::Reverse(u.input + u.output));
    usages
}

pub(super) struct GeminiParser {
    workdir: PathBuf,
    model: Option<String>,
    /// The assistant message being streamed in delta chunks.
    current: String,
    last_text: Option<String>,
    /// Tool calls and messages the agent produced.
    actions: u64,
    errors: Vec<String>,
    result: Option<ResultFacts>,
}

impl GeminiParser {
    pub(super) fn new(workdir: &Path) -> Self {
        GeminiParser {
            workdir: workdir.to_path_buf(),
            model: None,
            current: String::new(),
            last_text: None,
            actions: 0,
            errors: Vec::new(),
            result: None,
        }
    }

    /// Ends the assistant message being streamed, if any.
    fn flush(&mut self, live: &mut dyn LiveSink) {
        if self.current.trim().is_empty() {
            self.current.clear();
            return;
        }
        let text = std::mem::take(&mut self.current);
        live.push(LiveLine::Text(one_line(&text, SUMMARY_WIDTH)));
        self.actions += 1;
        self.last_text = Some(text);
    }
}

impl StreamParser for GeminiParser {
    fn line(&mut self, line: &[u8], _cut: bool, live: &mut dyn LiveSink) -> bool {
        let Ok(event) = serde_json::from_slice::<Event>(line) else {
            return false;
        };
        if event.kind != "message" {
            self.flush(live);
        }
        match event.kind.as_str() {
            "init" => {
                self.model = event.model;
                let model = self.model.as_deref().unwrap_or("default model");
                live.push(LiveLine::Note(format!("session started ({model})")));
            }
            "message" if event.role.as_deref() == Some("assistant") => {
                if event.delta != Some(true) {
                    self.flush(live);
                }
                if let Some(content) = event.content
                    && self.current.len() < MAX_FINAL_TEXT
                {
                    self.current.push_str(&content);
                }
            }
            "message" => self.flush(live),
            "tool_use" => {
                self.actions += 1;
                let name = event.tool_name.unwrap_or_else(|| "tool".into());
                let summary = event
                    .parameters
                    .as_ref()
                    .map(|p| summarize_input(p, &self.workdir))
                    .unwrap_or_default();
                live.push(LiveLine::Tool(if summary.is_empty() {
                    name
                } else {
                    format!("{name} {summary}")
                }));
            }
            "tool_result" if event.status.as_deref() == Some("error") => {
                let message = event
                    .error
                    .and_then(|e| e.message)
                    .or(event.message)
                    .unwrap_or_default();
                live.push(LiveLine::Note(format!(
                    "tool error: {}",
                    one_line(&message, SUMMARY_WIDTH)
                )));
            }
            "error" => {
                let severity = event.severity.unwrap_or_else(|| "error".into());
                let message = event.message.unwrap_or_default();
                live.push(LiveLine::Note(format!(
                    "{severity}: {}",
                    one_line(&message, SUMMARY_WIDTH)
                )));
                if severity == "error" && self.errors.len() < 20 {
                    self.errors.push(message);
                }
            }
            "result" => {
                let stats = event.stats.unwrap_or_default();
                let error = event.error.unwrap_or_default();
                let facts = ResultFacts {
                    success: event.status.as_deref() == Some("success"),
                    error_type: error.kind,
                    error: error.message.map(|m| api_message(&m)),
                    input_tokens: stats.input_tokens,
                    output_tokens: stats.output_tokens,
                    models: model_usages(&stats.models),
                };
                let status = event.status.unwrap_or_else(|| "unknown".into());
                live.push(LiveLine::Note(format!("result: {status}")));
                self.result = Some(facts);
            }
            "" => return false,
            _ => {}
        }
        true
    }

    fn stderr_watch(&mut self) -> Option<StderrWatch> {
        Some(Box::new(unreachable_attempt))
    }

    fn finish(mut self: Box<Self>, exit: ExitInfo) -> Parsed {
        self.flush(&mut |_| {});
        let this = *self;
        let turn_limit = exit.code == Some(EXIT_TURN_LIMIT)
            || this
                .result
                .as_ref()
                .and_then(|r| r.error_type.as_deref())
                .is_some_and(|t| t.to_ascii_lowercase().contains("turnlimit"));
        let success = exit.code == Some(0) && this.result.as_ref().is_some_and(|r| r.success);
        let outcome = if turn_limit {
            Outcome::TurnLimit
        } else if success {
            Outcome::Success
        } else {
            Outcome::Failed
        };
        let error = (outcome != Outcome::Success).then(|| {
            let said = this
                .result
                .as_ref()
                .and_then(|r| r.error.clone())
                .or_else(|| this.errors.last().cloned())
                .map(|e| one_line(&e, 500));
            match (said, this.result.is_some(), exit.code) {
                (Some(said), _, Some(code)) if code != 0 => format!("{said} ({})", exit_text(code)),
                (Some(said), _, _) => said,
                (None, false, Some(code)) => {
                    format!("gemini ended without a result event ({})", exit_text(code))
                }
                (None, true, Some(code)) => exit_text(code),
                (None, _, None) => "gemini was killed by a signal".into(),
            }
        });
        let models = this
            .result
            .as_ref()
            .map(|r| r.models.as_slice())
            .unwrap_or_default();
        // The models that really answered; `init` only says `auto` or the alias given.
        let model = if models.is_empty() {
            this.model
        } else {
            Some(
                models
                    .iter()
                    .map(|(m, _)| m.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            )
        };
        let cost_usd = (!models.is_empty())
            .then(|| pricing::total_cost_usd(models.iter().map(|(m, u)| (m.as_str(), *u))))
            .flatten();
        Parsed {
            outcome: Some(outcome),
            error,
            model,
            turns: (this.actions > 0).then_some(this.actions),
            input_tokens: this.result.as_ref().and_then(|r| r.input_tokens),
            output_tokens: this.result.as_ref().and_then(|r| r.output_tokens),
            cost_usd,
            final_text: this.last_text.map(|t| cap_text(&t, MAX_FINAL_TEXT)),
            permission_denials: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], code: i32) -> (Parsed, Vec<LiveLine>) {
        let mut parser: Box<dyn StreamParser> = Box::new(GeminiParser::new(Path::new("/repo")));
        let mut live = Vec::new();
        for line in lines {
            parser.line(line.as_bytes(), false, &mut |l| live.push(l));
        }
        (parser.finish(ExitInfo { code: Some(code) }), live)
    }

    #[test]
    fn a_successful_session_with_deltas() {
        let lines = [
            r#"{"type":"init","timestamp":"t","session_id":"s","model":"auto"}"#,
            r#"{"type":"message","timestamp":"t","role":"user","content":"task"}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"Reading ","delta":true}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"the code.","delta":true}"#,
            r#"{"type":"tool_use","timestamp":"t","tool_name":"read_file","tool_id":"1","parameters":{"file_path":"/repo/src/lib.rs"}}"#,
            r#"{"type":"tool_result","timestamp":"t","tool_id":"1","status":"error","error":{"type":"x","message":"no such file"}}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"Done.","delta":true}"#,
            // As gemini 0.61.0 reports it: per model, the routing model too.
            r#"{"type":"result","timestamp":"t","status":"success","stats":{"total_tokens":1300,"input_tokens":1100,"output_tokens":200,"cached":0,"input":1100,"duration_ms":5,"tool_calls":1,"models":{"gemini-2.5-flash-lite":{"total_tokens":120,"input_tokens":100,"output_tokens":20,"cached":0,"input":100},"gemini-2.5-pro":{"total_tokens":1180,"input_tokens":1000,"output_tokens":180,"cached":0,"input":1000},"gemini-3.8-flash":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"cached":0,"input":0}}}}"#,
        ];
        let (parsed, live) = run(&lines, 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        assert_eq!(parsed.final_text.as_deref(), Some("Done."));
        assert_eq!(
            (parsed.input_tokens, parsed.output_tokens, parsed.turns),
            (Some(1100), Some(200), Some(3))
        );
        assert_eq!(
            parsed.model.as_deref(),
            Some("gemini-2.5-pro, gemini-2.5-flash-lite")
        );
        // 1000 × $1.25 + 180 × $10, plus 100 × $0.10 + 20 × $0.40, per million.
        assert_eq!(parsed.cost_usd, Some(0.0031));
        assert_eq!(
            live,
            [
                LiveLine::Note("session started (auto)".into()),
                LiveLine::Text("Reading the code.".into()),
                LiveLine::Tool("read_file src/lib.rs".into()),
                LiveLine::Note("tool error: no such file".into()),
                LiveLine::Text("Done.".into()),
                LiveLine::Note("result: success".into()),
            ]
        );
    }

    #[test]
    fn an_unpriced_model_leaves_the_cost_unknown() {
        let (parsed, _) = run(
            &[
                r#"{"type":"result","status":"success","stats":{"input_tokens":5,"output_tokens":1,"models":{"gemini-9-ultra":{"input_tokens":5,"output_tokens":1,"cached":0}}}}"#,
            ],
            0,
        );
        assert_eq!(parsed.cost_usd, None);
        assert_eq!(parsed.input_tokens, Some(5));
        assert_eq!(parsed.model.as_deref(), Some("gemini-9-ultra"));
    }

    #[test]
    fn turn_limit_and_errors() {
        let (parsed, _) = run(
            &[
                r#"{"type":"result","status":"error","error":{"type":"FatalTurnLimitedError","message":"max turns"}}"#,
            ],
            53,
        );
        assert_eq!(parsed.outcome, Some(Outcome::TurnLimit));
        let (parsed, _) = run(
            &[r#"{"type":"error","severity":"error","message":"quota exceeded"}"#],
            1,
        );
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(
            parsed.error.as_deref(),
            Some("quota exceeded (gemini exited with code 1: a general error or an API failure)")
        );
        let (parsed, _) = run(&[], 0);
        assert_eq!(
            parsed.error.as_deref(),
            Some("gemini ended without a result event (gemini exited with code 0)")
        );
    }

    #[test]
    fn an_api_error_gives_the_api_message_and_explains_the_exit_code() {
        // As gemini 0.61.0 ends after an HTTP 400.
        let line = r#"{"type":"result","timestamp":"t","status":"error","error":{"type":"unknown","message":"[API Error: {\"error\":{\"code\":400,\"message\":\"fake Gemini API says no\",\"status\":\"INVALID_ARGUMENT\"}}]"},"stats":{"total_tokens":0,"input_tokens":0,"output_tokens":0,"models":{}}}"#;
        let (parsed, _) = run(&[line], 144);
        assert_eq!(
            parsed.error.as_deref(),
            Some(
                "fake Gemini API says no (HTTP 400 from the Gemini API) (gemini exited with code 144: \
                 the API answered HTTP 400 (a bad request: the model name, the request or the key))"
            )
        );
    }

    #[test]
    fn exits_without_a_result_are_explained() {
        for (code, meaning) in [
            (55, "does not trust the folder"),
            (41, "no usable authentication"),
        ] {
            let (parsed, _) = run(&[], code);
            let error = parsed.error.unwrap();
            assert!(
                error.starts_with(&format!(
                    "gemini ended without a result event (gemini exited with code {code}: "
                )),
                "{error}"
            );
            assert!(error.contains(meaning), "{error}");
        }
    }

    #[test]
    fn the_second_failed_attempt_to_connect_ends_the_session() {
        // gemini 0.61.0's stderr with nothing listening on the base URL's port.
        let first = "Attempt 1 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request";
        let second = "Attempt 2 failed. Retrying with backoff... Error: exception TypeError: fetch failed sending request";
        assert_eq!(unreachable_attempt(first), None);
        let reason = unreachable_attempt(second).unwrap();
        assert!(
            reason.starts_with("gemini cannot reach the model API (Attempt 2 failed."),
            "{reason}"
        );
        // An API that answers with an error is not unreachable: gemini decides on its own.
        assert_eq!(
            unreachable_attempt(
                "Attempt 3 failed with status 500. Retrying with backoff... _ApiError: {}"
            ),
            None
        );
    }

    #[test]
    fn endpoint_settings_keep_the_users_and_select_api_key_auth() {
        let merged = endpoint_settings(Some(
            r#"{"ui":{"theme":"x"},"security":{"auth":{"selectedType":"oauth-personal"},"folderTrust":{"enabled":true}}}"#,
        ));
        assert_eq!(merged["ui"]["theme"], "x");
        assert_eq!(merged["security"]["folderTrust"]["enabled"], true);
        assert_eq!(merged["security"]["auth"]["selectedType"], "gemini-api-key");
        for broken in [
            None,
            Some("// comments\n{"),
            Some("[1]"),
            Some(r#"{"security":3}"#),
        ] {
            assert_eq!(
                endpoint_settings(broken)["security"]["auth"]["selectedType"],
                "gemini-api-key",
                "{broken:?}"
            );
        }
    }

    #[test]
    fn a_custom_base_url_gets_settings_of_its_own_and_leaves_the_users_alone() {
        let home = tempfile::tempdir().unwrap();
        let user = home.path().join(".gemini/settings.json");
        std::fs::create_dir_all(user.parent().unwrap()).unwrap();
        std::fs::write(&user, r#"{"general":{"vimMode":true}}"#).unwrap();
        let parent: Vec<(OsString, OsString)> = vec![
            ("HOME".into(), home.path().into()),
            ("GOOGLE_GEMINI_BASE_URL".into(), "http://127.0.0.1:9".into()),
        ];
        let inv = invocation(
            Phase::Implement,
            &SessionSettings::default(),
            "p",
            Path::new("/repo"),
            &parent,
        )
        .unwrap();
        let (name, dir) = &inv.env[0];
        assert_eq!(name, "GEMINI_CLI_HOME");
        let text = std::fs::read_to_string(Path::new(dir).join(".gemini/settings.json")).unwrap();
        let settings: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(settings["general"]["vimMode"], true);
        assert_eq!(
            settings["security"]["auth"]["selectedType"],
            "gemini-api-key"
        );
        assert_eq!(
            std::fs::read_to_string(&user).unwrap(),
            r#"{"general":{"vimMode":true}}"#
        );
        let none = invocation(
            Phase::Plan,
            &SessionSettings::default(),
            "p",
            Path::new("/r"),
            &[],
        )
        .unwrap();
        assert!(none.env.is_empty() && none.prepared.is_none());
    }

    #[test]
    fn args_by_phase() {
        let settings = SessionSettings::default();
        assert_eq!(
            args(Phase::Plan, &settings).join(" "),
            "--output-format stream-json --approval-mode auto_edit --skip-trust --prompt Follow the instructions given above."
        );
        assert!(
            args(Phase::Implement, &settings)
                .join(" ")
                .contains("--approval-mode yolo --skip-trust")
        );
    }
}
