//! Gemini CLI (`gemini`): arguments and `stream-json` parsing.
//!
//! Facts this relies on (gemini 0.61, `packages/core/src/output/types.ts`): with
//! `--output-format stream-json` it writes JSON lines `init {session_id, model}`,
//! `message {role, content, delta?}`, `tool_use {tool_name, tool_id, parameters}`,
//! `tool_result {tool_id, status, output?, error?}`, `error {severity, message}` and a final
//! `result {status, error?, stats {input_tokens, output_tokens, tool_calls, duration_ms}}`.
//! Exit codes: 0 ok, 1 error, 42 input error, 53 turn limit. `-p` text is appended to the
//! prompt read from stdin. It reports no cost, and its turn limit is a settings-file key
//! (`model.maxSessionTurns`), not a flag. In the planning phase `auto_edit` lets it edit files
//! but not run shell commands (which would need an approval nobody can give); it cannot limit
//! edits to `.impl/`, so the check after the session is the guard.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::stream::{
    ExitInfo, LiveLine, LiveSink, MAX_FINAL_TEXT, Parsed, SUMMARY_WIDTH, StreamParser, cap_text,
    one_line, summarize_input,
};
use super::{Invocation, Outcome, Phase, SessionSettings};

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

pub(super) fn invocation(
    phase: Phase,
    settings: &SessionSettings,
    prompt: &str,
    workdir: &Path,
) -> Invocation {
    let mut notes = Vec::new();
    if settings.max_turns.is_some() {
        notes.push("gemini takes its turn limit from its settings file (model.maxSessionTurns); the max-turns setting is not applied".into());
    }
    if settings.budget_usd.is_some() {
        notes.push("gemini has no budget limit; the budget setting is not applied".into());
    }
    Invocation {
        program: "gemini".into(),
        args: args(phase, settings),
        stdin: Some(prompt.as_bytes().to_vec()),
        parser: Box::new(GeminiParser::new(workdir)),
        notes,
    }
}

pub(super) const INSTALL_HINT: &str =
    "install the Gemini CLI (npm install -g @google/gemini-cli) and make sure `gemini` is on PATH";

/// The exit code of a session that reached its turn limit.
const EXIT_TURN_LIMIT: i32 = 53;

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
}

struct ResultFacts {
    success: bool,
    error_type: Option<String>,
    error: Option<String>,
    input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

pub(super) struct GeminiParser {
    workdir: PathBuf,
    model: Option<String>,
    /// The assistant message being streamed in delta chunks.
    current: String,
    last_text: Option<String>,
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
                    error: error.message,
                    input_tokens: stats.input_tokens,
                    output_tokens: stats.output_tokens,
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
            this.result
                .as_ref()
                .and_then(|r| r.error.clone())
                .or_else(|| this.errors.last().cloned())
                .map(|e| one_line(&e, 500))
                .unwrap_or_else(|| match (this.result.is_some(), exit.code) {
                    (false, Some(code)) => {
                        format!("gemini ended without a result event (exit code {code})")
                    }
                    (true, Some(code)) => format!("gemini exited with code {code}"),
                    (_, None) => "gemini was killed by a signal".into(),
                })
        });
        Parsed {
            outcome: Some(outcome),
            error,
            model: this.model,
            turns: None,
            input_tokens: this.result.as_ref().and_then(|r| r.input_tokens),
            output_tokens: this.result.as_ref().and_then(|r| r.output_tokens),
            cost_usd: None,
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
            r#"{"type":"init","timestamp":"t","session_id":"s","model":"gemini-3-pro"}"#,
            r#"{"type":"message","timestamp":"t","role":"user","content":"task"}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"Reading ","delta":true}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"the code.","delta":true}"#,
            r#"{"type":"tool_use","timestamp":"t","tool_name":"read_file","tool_id":"1","parameters":{"absolute_path":"/repo/src/lib.rs"}}"#,
            r#"{"type":"tool_result","timestamp":"t","tool_id":"1","status":"error","error":{"type":"x","message":"no such file"}}"#,
            r#"{"type":"message","timestamp":"t","role":"assistant","content":"Done.","delta":true}"#,
            r#"{"type":"result","timestamp":"t","status":"success","stats":{"total_tokens":30,"input_tokens":20,"output_tokens":10,"duration_ms":5,"tool_calls":1}}"#,
        ];
        let (parsed, live) = run(&lines, 0);
        assert_eq!(parsed.outcome, Some(Outcome::Success));
        assert_eq!(parsed.final_text.as_deref(), Some("Done."));
        assert_eq!(
            (parsed.input_tokens, parsed.output_tokens),
            (Some(20), Some(10))
        );
        assert_eq!(
            live,
            [
                LiveLine::Note("session started (gemini-3-pro)".into()),
                LiveLine::Text("Reading the code.".into()),
                LiveLine::Tool("read_file src/lib.rs".into()),
                LiveLine::Note("tool error: no such file".into()),
                LiveLine::Text("Done.".into()),
                LiveLine::Note("result: success".into()),
            ]
        );
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
        assert_eq!(parsed.error.as_deref(), Some("quota exceeded"));
        let (parsed, _) = run(&[], 0);
        assert_eq!(
            parsed.error.as_deref(),
            Some("gemini ended without a result event (exit code 0)")
        );
    }

    #[test]
    fn args_by_phase() {
        let settings = SessionSettings::default();
        assert_eq!(
            args(Phase::Plan, &settings).join(" "),
            "--output-format stream-json --approval-mode auto_edit --prompt Follow the instructions given above."
        );
        assert!(
            args(Phase::Implement, &settings)
                .join(" ")
                .contains("--approval-mode yolo")
        );
    }
}
