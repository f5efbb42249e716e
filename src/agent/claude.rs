//! Claude Code (`claude`): arguments and `stream-json` parsing.
//!
//! Facts this relies on (Claude Code 2.1.330): `claude -p --output-format stream-json --verbose`
//! reads the prompt on stdin and writes one JSON event per line; the last is
//! `{"type":"result", "subtype", "is_error", "num_turns", "result", "total_cost_usd", "usage",
//! "permission_denials", …}`. `subtype` is `error_max_turns` (exit 1) when `--max-turns` is
//! reached and `error_max_budget_usd` when `--max-budget-usd` is; on an API failure it can say
//! `success` while `is_error` is true, so `is_error` decides. `--permission-mode dontAsk` denies
//! every tool call no allow rule covers; `Edit(path)` rules cover every tool that writes files.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::value::RawValue;

use super::json::{ListOrStr, StrOr, number};
use super::stream::{
    ExitInfo, LiveLine, LiveSink, MAX_FINAL_TEXT, Parsed, PermissionDenial, SUMMARY_WIDTH,
    StreamParser, cap_text, one_line, summarize_input,
};
use super::{Invocation, Outcome, Phase, SessionSettings};

/// Read-only shell commands the planner may run. Claude Code also allows commands it
/// recognises as read-only on its own; these rules make the common ones explicit.
const PLAN_READ_ONLY_BASH: &[&str] = &[
    "Bash(git log:*)",
    "Bash(git show:*)",
    "Bash(git diff:*)",
    "Bash(git status:*)",
    "Bash(git ls-files:*)",
    "Bash(git blame:*)",
    "Bash(ls:*)",
    "Bash(pwd)",
    "Bash(cat:*)",
    "Bash(head:*)",
    "Bash(wc:*)",
    "Bash(grep:*)",
];

/// git subcommands whose options can write files (`git log --output=FILE`); a deny rule wins
/// over the allow rules above.
const PLAN_DENIED: &[&str] = &["Bash(git * --output*)", "WebFetch", "WebSearch"];

/// git commands an implementation session must leave to oneshot, which commits and pushes
/// each step itself.
const IMPLEMENT_DENIED_GIT: &[&str] = &[
    "commit",
    "push",
    "rebase",
    "reset",
    "merge",
    "tag",
    "remote",
    "config",
    "switch",
    "cherry-pick",
    "am",
    "stash",
];

/// The argument list for a phase. The prompt goes to stdin.
pub(super) fn args(phase: Phase, settings: &SessionSettings) -> Vec<String> {
    let mut args: Vec<String> = [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--no-session-persistence",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    if let Some(model) = &settings.model {
        args.extend(["--model".into(), model.clone()]);
    }
    if let Some(turns) = settings.max_turns {
        args.extend(["--max-turns".into(), turns.to_string()]);
    }
    if let Some(budget) = settings.budget_usd {
        args.extend(["--max-budget-usd".into(), format!("{budget}")]);
    }
    match phase {
        Phase::Plan => {
            // Nothing prompts: what the rules do not allow is denied.
            args.extend(["--permission-mode".into(), "dontAsk".into()]);
            args.push("--allowedTools".into());
            args.extend(["Read", "Glob", "Grep", "LS"].map(String::from));
            // Edit rules cover Write too; the Write rule is for CLI versions that check it
            // separately.
            args.extend(["Edit(.impl/**)", "Write(.impl/**)"].map(String::from));
            args.extend(PLAN_READ_ONLY_BASH.iter().map(|s| s.to_string()));
            args.push("--disallowedTools".into());
            args.extend(PLAN_DENIED.iter().map(|s| s.to_string()));
        }
        Phase::Implement => {
            // Edits inside the work tree are accepted; anything else that would need approval
            // is denied (a non-interactive session has nobody to ask).
            args.extend(["--permission-mode".into(), "acceptEdits".into()]);
            args.push("--allowedTools".into());
            args.extend(["Bash", "Read", "Glob", "Grep", "LS"].map(String::from));
            args.push("--disallowedTools".into());
            for dir in [".impl", ".worker-impl", ".git"] {
                args.push(format!("Edit({dir}/**)"));
            }
            for path in &settings.protected_paths {
                let path = path.trim().trim_start_matches('/');
                if !path.is_empty() {
                    args.push(format!("Edit({path})"));
                }
            }
            args.extend(
                IMPLEMENT_DENIED_GIT
                    .iter()
                    .map(|c| format!("Bash(git {c}:*)")),
            );
        }
    }
    args
}

pub(super) fn invocation(
    phase: Phase,
    settings: &SessionSettings,
    prompt: &str,
    workdir: &Path,
) -> Invocation {
    Invocation {
        program: "claude".into(),
        args: args(phase, settings),
        stdin: Some(prompt.as_bytes().to_vec()),
        parser: Box::new(ClaudeParser::new(workdir)),
        notes: Vec::new(),
        env: Vec::new(),
        prepared: None,
    }
}

pub(super) const INSTALL_HINT: &str = "install Claude Code (npm install -g @anthropic-ai/claude-code) and make sure `claude` is on PATH";

// The events borrow their strings from the line where they can (no escapes in them), so that
// the common events (text, tool calls, tool results) cost no allocation to read.

#[derive(Deserialize, Default)]
#[serde(default)]
struct Event<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    subtype: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: StrOr<Message<'a>>,
    model: Option<String>,
    // system/permission_denied
    tool_name: Option<String>,
    tool_use_id: Option<String>,
    // system/api_retry
    attempt: Option<serde_json::Value>,
    error: Option<serde_json::Value>,
    // result
    is_error: Option<bool>,
    num_turns: Option<u64>,
    result: Option<String>,
    total_cost_usd: Option<serde_json::Value>,
    usage: Option<Usage>,
    permission_denials: ListOrStr<Denial>,
    errors: Option<serde_json::Value>,
    terminal_reason: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Message<'a> {
    #[serde(borrow)]
    content: ListOrStr<Block<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    input: Option<&'a RawValue>,
    #[serde(borrow)]
    tool_use_id: Option<Cow<'a, str>>,
    is_error: Option<bool>,
    /// A tool result's content, read only when the result is an error.
    #[serde(borrow)]
    content: Option<&'a RawValue>,
}

impl From<String> for Block<'_> {
    fn from(text: String) -> Self {
        Block {
            kind: "text".into(),
            text: Some(text.into()),
            ..Default::default()
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Usage {
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Denial {
    tool_name: String,
    tool_input: Option<serde_json::Value>,
}

impl From<String> for Denial {
    fn from(tool_name: String) -> Self {
        Denial {
            tool_name,
            tool_input: None,
        }
    }
}

/// The facts of the final `result` event.
struct ResultFacts {
    subtype: String,
    is_error: bool,
    turns: Option<u64>,
    text: Option<String>,
    cost_usd: Option<f64>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    denials: Vec<PermissionDenial>,
    errors: Vec<String>,
    terminal_reason: Option<String>,
}

pub(super) struct ClaudeParser {
    workdir: PathBuf,
    model: Option<String>,
    result: Option<ResultFacts>,
    /// The last text block (empty: none yet); its buffer is reused.
    last_text: String,
    /// Denials seen as `permission_denied` events, for when there is no result event.
    denials: Vec<PermissionDenial>,
    /// Recent tool calls by id, to name what a denial refused and to skip the tool error
    /// that repeats a denial.
    recent_calls: VecDeque<(String, String)>,
    denied_ids: VecDeque<String>,
    api_errors: Vec<String>,
}

const RECENT: usize = 64;

impl ClaudeParser {
    pub(super) fn new(workdir: &Path) -> Self {
        ClaudeParser {
            workdir: workdir.to_path_buf(),
            model: None,
            result: None,
            last_text: String::new(),
            denials: Vec::new(),
            recent_calls: VecDeque::new(),
            denied_ids: VecDeque::new(),
            api_errors: Vec::new(),
        }
    }

    fn call_summary(&self, id: Option<&str>) -> Option<&str> {
        let id = id?;
        self.recent_calls
            .iter()
            .rev()
            .find(|(i, _)| i == id)
            .map(|(_, s)| s.as_str())
    }

    fn assistant(&mut self, message: Message, live: &mut dyn LiveSink) {
        for block in message.content.0 {
            match block.kind.as_ref() {
                "text" => {
                    let Some(text) = block.text.filter(|t| !t.trim().is_empty()) else {
                        continue;
                    };
                    if live.wants_text() {
                        live.push(LiveLine::Text(one_line(&text, SUMMARY_WIDTH)));
                    }
                    self.last_text.clear();
                    self.last_text.push_str(&text);
                }
                "tool_use" => {
                    if !live.wants_tools() {
                        // Nobody will see the line, and without it a denial cannot be named.
                        continue;
                    }
                    let name = block.name.as_deref().unwrap_or("tool");
                    let summary = block
                        .input
                        .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok())
                        .map(|input| summarize_input(&input, &self.workdir))
                        .unwrap_or_default();
                    let line = if summary.is_empty() {
                        name.to_string()
                    } else {
                        format!("{name} {summary}")
                    };
                    live.push(LiveLine::Tool(line.clone()));
                    if let Some(id) = block.id {
                        if self.recent_calls.len() == RECENT {
                            self.recent_calls.pop_front();
                        }
                        self.recent_calls.push_back((id.into_owned(), line));
                    }
                }
                _ => {}
            }
        }
    }

    fn user(&mut self, message: Message, live: &mut dyn LiveSink) {
        for block in message.content.0 {
            if block.kind != "tool_result" || block.is_error != Some(true) || !live.wants_tools() {
                continue;
            }
            if block
                .tool_use_id
                .as_ref()
                .is_some_and(|id| self.denied_ids.iter().any(|d| d == id))
            {
                continue;
            }
            let content = block
                .content
                .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw.get()).ok());
            let text = match &content {
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(serde_json::Value::Array(items)) => items
                    .iter()
                    .filter_map(|i| i.get("text").and_then(|t| t.as_str()))
                    .collect::<Vec<_>>()
                    .join(" "),
                _ => String::new(),
            };
            let text = text
                .replace("<tool_use_error>", "")
                .replace("</tool_use_error>", "");
            live.push(LiveLine::Note(format!(
                "tool error: {}",
                one_line(&text, SUMMARY_WIDTH)
            )));
        }
    }

    fn system(&mut self, event: Event, live: &mut dyn LiveSink) {
        match event.subtype.as_deref() {
            Some("init") => {
                self.model = event.model.clone();
                let model = event.model.as_deref().unwrap_or("default model");
                live.push(LiveLine::Note(format!("session started ({model})")));
            }
            Some("permission_denied") => {
                let tool = event.tool_name.unwrap_or_else(|| "tool".into());
                let call = self
                    .call_summary(event.tool_use_id.as_deref())
                    .map(str::to_string);
                let input = call
                    .as_deref()
                    .and_then(|c| c.strip_prefix(tool.as_str()))
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default();
                live.push(LiveLine::Note(format!(
                    "denied: {}",
                    call.unwrap_or_else(|| tool.clone())
                )));
                if let Some(id) = event.tool_use_id {
                    if self.denied_ids.len() == RECENT {
                        self.denied_ids.pop_front();
                    }
                    self.denied_ids.push_back(id);
                }
                if self.denials.len() < 100 {
                    self.denials.push(PermissionDenial { tool, input });
                }
            }
            Some("api_retry") => {
                let attempt = number(event.attempt.as_ref())
                    .map(|a| format!(" (attempt {a})"))
                    .unwrap_or_default();
                let error = event.error.as_ref().map(error_text).unwrap_or_default();
                let message = format!(
                    "API request failed{attempt}; retrying{}",
                    if error.is_empty() {
                        String::new()
                    } else {
                        format!(": {error}")
                    }
                );
                live.push(LiveLine::Note(one_line(&message, SUMMARY_WIDTH)));
                if self.api_errors.len() < 20 && !error.is_empty() {
                    self.api_errors.push(error);
                }
            }
            _ => {}
        }
    }

    fn result(&mut self, event: Event, live: &mut dyn LiveSink) {
        let usage = event.usage.unwrap_or_default();
        let input_tokens = match (
            usage.input_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
        ) {
            (None, None, None) => None,
            (a, b, c) => Some(a.unwrap_or(0) + b.unwrap_or(0) + c.unwrap_or(0)),
        };
        let errors = match &event.errors {
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(error_text)
                .filter(|e| !e.is_empty())
                .collect(),
            Some(other) => vec![error_text(other)],
            None => Vec::new(),
        };
        let facts = ResultFacts {
            subtype: event.subtype.map(Cow::into_owned).unwrap_or_default(),
            is_error: event.is_error.unwrap_or(false),
            turns: event.num_turns,
            text: event.result,
            cost_usd: number(event.total_cost_usd.as_ref()),
            input_tokens,
            output_tokens: usage.output_tokens,
            denials: event
                .permission_denials
                .0
                .into_iter()
                .map(|d| PermissionDenial {
                    input: d
                        .tool_input
                        .map(|i| summarize_input(&i, &self.workdir))
                        .unwrap_or_default(),
                    tool: d.tool_name,
                })
                .collect(),
            errors,
            terminal_reason: event.terminal_reason,
        };
        let turns = facts
            .turns
            .map(|t| format!(", {t} turns"))
            .unwrap_or_default();
        let cost = facts
            .cost_usd
            .map(|c| format!(", ${c:.4}"))
            .unwrap_or_default();
        let state = if facts.is_error { "error" } else { "ok" };
        live.push(LiveLine::Note(format!(
            "result: {} ({state}{turns}{cost})",
            facts.subtype
        )));
        self.result = Some(facts);
    }
}

/// The readable text of an error value: a string, or an object's `message`.
fn error_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Object(map) => map
            .get("message")
            .and_then(|m| m.as_str())
            .map(str::to_string)
            .or_else(|| map.get("error").map(error_text))
            .unwrap_or_else(|| value.to_string()),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

impl StreamParser for ClaudeParser {
    fn line(&mut self, line: &[u8], _cut: bool, live: &mut dyn LiveSink) -> bool {
        let Ok(event) = serde_json::from_slice::<Event>(line) else {
            return false;
        };
        match event.kind.as_ref() {
            "assistant" => {
                if let StrOr::Value(message) = event.message {
                    self.assistant(message, live);
                }
            }
            "user" => {
                if let StrOr::Value(message) = event.message {
                    self.user(message, live);
                }
            }
            "system" => self.system(event, live),
            "result" => self.result(event, live),
            "" => return false,
            _ => {}
        }
        true
    }

    fn finish(self: Box<Self>, exit: ExitInfo) -> Parsed {
        let this = *self;
        let mut parsed = Parsed {
            model: this.model,
            ..Parsed::default()
        };
        let Some(result) = this.result else {
            parsed.outcome = Some(Outcome::Failed);
            let code = exit
                .code
                .map(|c| format!("exit code {c}"))
                .unwrap_or_else(|| "no exit code".into());
            let mut error = format!("claude ended without a result event ({code})");
            if let Some(last) = this.api_errors.last() {
                error.push_str(&format!("; last API error: {last}"));
            }
            parsed.error = Some(error);
            parsed.final_text =
                (!this.last_text.is_empty()).then(|| cap_text(&this.last_text, MAX_FINAL_TEXT));
            parsed.permission_denials = this.denials;
            return parsed;
        };
        let outcome = match result.subtype.as_str() {
            "error_max_turns" => Outcome::TurnLimit,
            "error_max_budget_usd" => Outcome::BudgetLimit,
            _ if result.is_error => Outcome::Failed,
            _ if exit.code != Some(0) => Outcome::Failed,
            _ => Outcome::Success,
        };
        if outcome != Outcome::Success {
            let mut why: Vec<String> = Vec::new();
            if result.is_error
                && let Some(text) = result.text.as_ref().filter(|t| !t.trim().is_empty())
            {
                why.push(one_line(text, 500));
            }
            why.extend(result.errors.iter().map(|e| one_line(e, 500)));
            if why.is_empty() {
                why.push(match (&result.terminal_reason, exit.code) {
                    (_, Some(code)) if code != 0 && !result.is_error => {
                        format!(
                            "claude reported {} but exited with code {code}",
                            result.subtype
                        )
                    }
                    (Some(reason), _) => format!("{} ({reason})", result.subtype),
                    (None, _) => result.subtype.clone(),
                });
            }
            parsed.error = Some(why.join("; "));
        }
        parsed.outcome = Some(outcome);
        parsed.turns = result.turns;
        parsed.input_tokens = result.input_tokens;
        parsed.output_tokens = result.output_tokens;
        parsed.cost_usd = result.cost_usd;
        parsed.final_text = result
            .text
            .or((!this.last_text.is_empty()).then_some(this.last_text))
            .map(|t| cap_text(&t, MAX_FINAL_TEXT));
        parsed.permission_denials = if result.denials.is_empty() {
            this.denials
        } else {
            result.denials
        };
        parsed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], code: i32) -> (Parsed, Vec<LiveLine>) {
        let mut parser: Box<dyn StreamParser> = Box::new(ClaudeParser::new(Path::new("/repo")));
        let mut live = Vec::new();
        for line in lines {
            parser.line(line.as_bytes(), false, &mut |l| live.push(l));
        }
        (parser.finish(ExitInfo { code: Some(code) }), live)
    }

    const INIT: &str = r#"{"type":"system","subtype":"init","cwd":"/repo","model":"claude-sonnet-5","tools":["Read"]}"#;
    const TOOL: &str = r#"{"type":"assistant","message":{"id":"m1","content":[{"type":"text","text":"Let me look.\nMore."},{"type":"tool_use","id":"t1","name":"Write","input":{"file_path":"/repo/README.md","content":"x"}}]}}"#;
    const DENIED: &str = r#"{"type":"system","subtype":"permission_denied","tool_name":"Write","tool_use_id":"t1","message":"Permission to use Write has been denied"}"#;
    const DENIED_RESULT: &str = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","is_error":true,"content":"denied"}]}}"#;
    const TOOL_ERROR: &str = r#"{"type":"user","message":{"role":"user","content":[{"type":"tool_result","tool_use_id":"t2","is_error":true,"content":"<tool_use_error>File does not exist.</tool_use_error>"}]}}"#;
    const USER_TEXT: &str =
        r#"{"type":"user","message":{"role":"user","content":"plain string content"}}"#;

    fn result(subtype: &str, is_error: bool, text: &str) -> String {
        serde_json::json!({
            "type": "result", "subtype": subtype, "is_error": is_error, "num_turns": 3, "result": text,
            "duration_ms": 1234, "total_cost_usd": 0.0123,
            "usage": {"input_tokens": 100, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 5, "output_tokens": 40},
            "permission_denials": [{"tool_name": "Write", "tool_use_id": "t1", "tool_input": {"file_path": "/repo/README.md"}}],
        })
        .to_string()
    }

    #[test]
    fn a_successful_session() {
        let ok = result("success", false, "Plan written.");
        let (parsed, live) = run(
            &[
                INIT,
                TOOL,
                DENIED,
                DENIED_RESULT,
                TOOL_ERROR,
                USER_TEXT,
                &ok,
            ],
            0,
        );
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        assert_eq!(parsed.turns, Some(3));
        assert_eq!(parsed.input_tokens, Some(125));
        assert_eq!(parsed.output_tokens, Some(40));
        assert_eq!(parsed.cost_usd, Some(0.0123));
        assert_eq!(parsed.final_text.as_deref(), Some("Plan written."));
        assert_eq!(parsed.model.as_deref(), Some("claude-sonnet-5"));
        assert_eq!(
            parsed.permission_denials,
            [PermissionDenial {
                tool: "Write".into(),
                input: "README.md".into()
            }]
        );
        assert_eq!(
            live,
            [
                LiveLine::Note("session started (claude-sonnet-5)".into()),
                LiveLine::Text("Let me look. More.".into()),
                LiveLine::Tool("Write README.md".into()),
                LiveLine::Note("denied: Write README.md".into()),
                LiveLine::Note("tool error: File does not exist.".into()),
                LiveLine::Note("result: success (ok, 3 turns, $0.0123)".into()),
            ]
        );
    }

    #[test]
    fn limits_and_errors() {
        let (parsed, _) = run(&[&result("error_max_turns", true, "")], 1);
        assert_eq!(parsed.outcome, Some(Outcome::TurnLimit));
        let (parsed, _) = run(&[&result("error_max_budget_usd", true, "")], 1);
        assert_eq!(parsed.outcome, Some(Outcome::BudgetLimit));
        // An API failure says "success" with is_error: is_error decides.
        let (parsed, _) = run(
            &[&result("success", true, "API Error: 401 invalid x-api-key")],
            1,
        );
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(
            parsed.error.as_deref(),
            Some("API Error: 401 invalid x-api-key")
        );
        let (parsed, _) = run(&[&result("success", false, "ok")], 2);
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(
            parsed.error.as_deref(),
            Some("claude reported success but exited with code 2")
        );
        let errors = r#"{"type":"result","subtype":"error_during_execution","is_error":true,"errors":["boom",{"message":"bang"}]}"#;
        let (parsed, _) = run(&[errors], 1);
        assert_eq!(parsed.error.as_deref(), Some("boom; bang"));
    }

    #[test]
    fn survives_garbage_and_a_missing_result() {
        let mut parser = ClaudeParser::new(Path::new("/repo"));
        let mut sink = |_l: LiveLine| {};
        assert!(!parser.line(b"not json", false, &mut sink));
        assert!(!parser.line(
            br#"{"type":"assistant","message":{"content":[{"type":"text","text":"cut"#,
            true,
            &mut sink
        ));
        assert!(!parser.line(b"[1,2]", false, &mut sink));
        assert!(!parser.line(br#"{"no_type":1}"#, false, &mut sink));
        assert!(parser.line(br#"{"type":"future_event","x":[1]}"#, false, &mut sink));
        assert!(parser.line(TOOL.as_bytes(), false, &mut sink));
        let retry = r#"{"type":"system","subtype":"api_retry","attempt":2,"error":{"message":"overloaded"}}"#;
        assert!(parser.line(retry.as_bytes(), false, &mut sink));
        let parsed = Box::new(parser).finish(ExitInfo { code: Some(0) });
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(
            parsed.error.as_deref(),
            Some("claude ended without a result event (exit code 0); last API error: overloaded")
        );
        assert_eq!(parsed.final_text.as_deref(), Some("Let me look.\nMore."));
    }

    fn settings() -> SessionSettings {
        SessionSettings {
            model: Some("sonnet".into()),
            max_turns: Some(40),
            budget_usd: Some(2.5),
            protected_paths: vec!["/.github/workflows/**".into()],
            ..SessionSettings::default()
        }
    }

    #[test]
    fn plan_args_allow_only_reading_and_impl_writes() {
        let args = args(Phase::Plan, &settings());
        let joined = args.join(" ");
        assert!(joined.starts_with("-p --output-format stream-json --verbose --no-session-persistence --model sonnet --max-turns 40 --max-budget-usd 2.5 --permission-mode dontAsk --allowedTools Read Glob Grep LS Edit(.impl/**) Write(.impl/**) Bash(git log:*)"), "{joined}");
        assert!(
            joined.contains("--disallowedTools Bash(git * --output*) WebFetch WebSearch"),
            "{joined}"
        );
        assert!(
            !args
                .iter()
                .any(|a| a == "Bash" || a == "Edit" || a == "Write"),
            "{joined}"
        );
    }

    #[test]
    fn implement_args_deny_git_writes_and_protected_paths() {
        let args = args(Phase::Implement, &settings());
        let joined = args.join(" ");
        assert!(joined.contains("--permission-mode acceptEdits --allowedTools Bash Read Glob Grep LS --disallowedTools Edit(.impl/**) Edit(.worker-impl/**) Edit(.git/**) Edit(.github/workflows/**) Bash(git commit:*) Bash(git push:*)"), "{joined}");
    }
}
