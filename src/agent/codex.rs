//! OpenAI Codex CLI (`codex exec`): arguments and `--json` event parsing.
//!
//! Facts this relies on (codex 0.169, `codex-rs/exec/src/exec_events.rs`): `codex exec --json -`
//! reads the prompt on stdin and writes JSON lines `thread.started`, `turn.started`,
//! `item.started|updated|completed` (items `agent_message`, `reasoning`, `command_execution`,
//! `file_change`, `mcp_tool_call`, `web_search`, `todo_list`, `error`), `turn.completed` with
//! `usage {input_tokens, cached_input_tokens, output_tokens}`, `turn.failed {error}` and
//! `error {message}`. It reports no cost and has no turn or budget limit. Its sandbox cannot
//! limit writes to `.impl/`, so in the planning phase the check after the session (nothing
//! outside `.impl/` changed) is the guard.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::json::StrOr;
use super::stream::{
    ExitInfo, LiveLine, LiveSink, MAX_FINAL_TEXT, Parsed, PermissionDenial, SUMMARY_WIDTH,
    StreamParser, cap_text, one_line, relative,
};
use super::{Invocation, Outcome, Phase, SessionSettings};

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

pub(super) fn invocation(
    phase: Phase,
    settings: &SessionSettings,
    prompt: &str,
    workdir: &Path,
) -> Invocation {
    let mut notes = Vec::new();
    if settings.max_turns.is_some() {
        notes.push("codex has no turn limit; the max-turns setting is not applied".into());
    }
    if settings.budget_usd.is_some() {
        notes.push("codex has no budget limit; the budget setting is not applied".into());
    }
    Invocation {
        program: "codex".into(),
        args: args(phase, settings),
        stdin: Some(prompt.as_bytes().to_vec()),
        parser: Box::new(CodexParser::new(workdir)),
        notes,
    }
}

pub(super) const INSTALL_HINT: &str =
    "install the Codex CLI (npm install -g @openai/codex) and make sure `codex` is on PATH";

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
    output_tokens: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Item {
    #[serde(rename = "type", alias = "item_type")]
    kind: String,
    text: Option<String>,
    command: Option<serde_json::Value>,
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

pub(super) struct CodexParser {
    workdir: PathBuf,
    last_text: Option<String>,
    turns: u64,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
    failure: Option<String>,
    denials: Vec<PermissionDenial>,
}

impl CodexParser {
    pub(super) fn new(workdir: &Path) -> Self {
        CodexParser {
            workdir: workdir.to_path_buf(),
            last_text: None,
            turns: 0,
            input_tokens: None,
            output_tokens: None,
            failure: None,
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
                if let Some(text) = item.text.filter(|t| !t.trim().is_empty()) {
                    live.push(LiveLine::Text(one_line(&text, SUMMARY_WIDTH)));
                    self.last_text = Some(text);
                }
            }
            "file_change" => {
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
            "error" => {
                let message = item.message.unwrap_or_default();
                live.push(LiveLine::Note(format!(
                    "error: {}",
                    one_line(&message, SUMMARY_WIDTH)
                )));
            }
            _ => {}
        }
    }
}

impl StreamParser for CodexParser {
    fn line(&mut self, line: &[u8], _cut: bool, live: &mut dyn LiveSink) -> bool {
        let Ok(event) = serde_json::from_slice::<Event>(line) else {
            return false;
        };
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
                self.turns += 1;
                if let Some(usage) = event.usage {
                    if let Some(n) = usage.input_tokens {
                        self.input_tokens = Some(self.input_tokens.unwrap_or(0) + n);
                    }
                    if let Some(n) = usage.output_tokens {
                        self.output_tokens = Some(self.output_tokens.unwrap_or(0) + n);
                    }
                }
            }
            "turn.failed" | "error" => {
                let message = match event.error {
                    StrOr::Str(s) => Some(s),
                    StrOr::Value(body) => body.message,
                    StrOr::Other => None,
                }
                .or(event.message)
                .unwrap_or_else(|| event.kind.clone());
                live.push(LiveLine::Note(format!(
                    "{}: {}",
                    event.kind,
                    one_line(&message, SUMMARY_WIDTH)
                )));
                self.failure = Some(message);
            }
            "" => return false,
            _ => {}
        }
        true
    }

    fn finish(self: Box<Self>, exit: ExitInfo) -> Parsed {
        let this = *self;
        let (outcome, error) = match (&this.failure, exit.code) {
            (Some(message), _) => (Outcome::Failed, Some(one_line(message, 500))),
            (None, Some(0)) => (Outcome::Success, None),
            (None, Some(code)) => (
                Outcome::Failed,
                Some(format!("codex exited with code {code}")),
            ),
            (None, None) => (Outcome::Failed, Some("codex was killed by a signal".into())),
        };
        Parsed {
            outcome: Some(outcome),
            error,
            model: None,
            turns: (this.turns > 0).then_some(this.turns),
            input_tokens: this.input_tokens,
            output_tokens: this.output_tokens,
            cost_usd: None,
            final_text: this.last_text.map(|t| cap_text(&t, MAX_FINAL_TEXT)),
            permission_denials: this.denials,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(lines: &[&str], code: i32) -> (Parsed, Vec<LiveLine>) {
        let mut parser: Box<dyn StreamParser> = Box::new(CodexParser::new(Path::new("/repo")));
        let mut live = Vec::new();
        for line in lines {
            parser.line(line.as_bytes(), false, &mut |l| live.push(l));
        }
        (parser.finish(ExitInfo { code: Some(code) }), live)
    }

    #[test]
    fn a_successful_session() {
        let lines = [
            r#"{"type":"thread.started","thread_id":"th_1"}"#,
            r#"{"type":"turn.started"}"#,
            r#"{"type":"item.started","item":{"id":"i1","type":"command_execution","command":"bash -lc 'git log -1'","aggregated_output":"","exit_code":null,"status":"in_progress"}}"#,
            r#"{"type":"item.completed","item":{"id":"i2","type":"file_change","changes":[{"path":"/repo/.impl/plan.md","kind":"add"}],"status":"completed"}}"#,
            r#"{"type":"item.completed","item":{"id":"i3","type":"agent_message","text":"Wrote the plan."}}"#,
            r#"{"type":"turn.completed","usage":{"input_tokens":1000,"cached_input_tokens":200,"output_tokens":50}}"#,
        ];
        let (parsed, live) = run(&lines, 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        assert_eq!(
            (parsed.input_tokens, parsed.output_tokens, parsed.turns),
            (Some(1000), Some(50), Some(1))
        );
        assert_eq!(parsed.final_text.as_deref(), Some("Wrote the plan."));
        assert_eq!(parsed.cost_usd, None);
        assert_eq!(
            live,
            [
                LiveLine::Note("session started".into()),
                LiveLine::Tool("$ bash -lc 'git log -1'".into()),
                LiveLine::Tool("edit +.impl/plan.md".into()),
                LiveLine::Text("Wrote the plan.".into()),
            ]
        );
    }

    #[test]
    fn failures() {
        let (parsed, _) = run(
            &[r#"{"type":"turn.failed","error":{"message":"stream disconnected"}}"#],
            1,
        );
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(parsed.error.as_deref(), Some("stream disconnected"));
        let (parsed, _) = run(&[r#"{"type":"error","message":"unauthorized"}"#], 1);
        assert_eq!(parsed.error.as_deref(), Some("unauthorized"));
        let (parsed, _) = run(&["garbage"], 3);
        assert_eq!(parsed.error.as_deref(), Some("codex exited with code 3"));
    }

    #[test]
    fn args_put_the_prompt_on_stdin() {
        let settings = SessionSettings {
            model: Some("gpt-5.4".into()),
            ..SessionSettings::default()
        };
        assert_eq!(
            args(Phase::Plan, &settings).join(" "),
            "exec --json --color never --sandbox workspace-write --model gpt-5.4 -"
        );
    }
}
