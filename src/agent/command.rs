//! `command:<program> [args…]`: any program as the agent.
//!
//! The arguments may hold placeholders, replaced wherever they appear in an argument:
//! `{prompt_file}` (the absolute path of a file holding the prompt; the prompt then does not
//! come on stdin), `{model}` (the resolved model name, empty when none is set) and `{phase}`
//! (`plan` or `implement`). Without `{prompt_file}` the prompt arrives on stdin. The program's
//! output is logged as text; success is exit code 0.

use std::path::Path;

use super::stream::{ExitInfo, LiveLine, LiveSink, Parsed, SUMMARY_WIDTH, StreamParser, one_line};
use super::{Invocation, Outcome, Phase, SessionSettings};

pub const PROMPT_FILE: &str = "{prompt_file}";
pub const MODEL: &str = "{model}";
pub const PHASE: &str = "{phase}";

pub(super) fn invocation(
    program: &str,
    args: &[String],
    phase: Phase,
    settings: &SessionSettings,
    prompt: &str,
    prompt_file: &Path,
) -> Invocation {
    let model = settings.model.clone().unwrap_or_default();
    let file = prompt_file.to_string_lossy();
    let uses_file = args.iter().any(|a| a.contains(PROMPT_FILE));
    let uses_model = args.iter().any(|a| a.contains(MODEL));
    let args = args
        .iter()
        .map(|a| {
            a.replace(PROMPT_FILE, &file)
                .replace(MODEL, &model)
                .replace(PHASE, phase.as_str())
        })
        .collect();
    let mut notes = Vec::new();
    if settings.model.is_some() && !uses_model {
        notes.push(format!(
            "the model is passed to the command only where its arguments say {MODEL}"
        ));
    }
    if settings.max_turns.is_some() || settings.budget_usd.is_some() {
        notes.push("a command agent gets no turn or budget limit; only the timeout applies".into());
    }
    Invocation {
        program: program.to_string(),
        args,
        stdin: (!uses_file).then(|| prompt.as_bytes().to_vec()),
        parser: Box::new(CommandParser::new(program)),
        notes,
        env: Vec::new(),
        prepared: None,
    }
}

pub(super) fn install_hint(program: &str) -> String {
    format!(
        "check that `{program}` is installed and on PATH, or give its path: command:/path/to/{program}"
    )
}

/// How much of the command's last output is kept as its final text.
const TAIL_BYTES: usize = 8 * 1024;

pub(super) struct CommandParser {
    program: String,
    tail: std::collections::VecDeque<String>,
    tail_bytes: usize,
}

impl CommandParser {
    fn new(program: &str) -> Self {
        let name = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned());
        CommandParser {
            program: name.unwrap_or_else(|| program.to_string()),
            tail: std::collections::VecDeque::new(),
            tail_bytes: 0,
        }
    }
}

impl StreamParser for CommandParser {
    fn line(&mut self, line: &[u8], _cut: bool, live: &mut dyn LiveSink) -> bool {
        let text = String::from_utf8_lossy(line);
        if text.trim().is_empty() {
            return true;
        }
        live.push(LiveLine::Text(one_line(&text, SUMMARY_WIDTH)));
        let kept: String = text.chars().take(TAIL_BYTES).collect();
        self.tail_bytes += kept.len() + 1;
        self.tail.push_back(kept);
        while self.tail_bytes > TAIL_BYTES && self.tail.len() > 1 {
            if let Some(old) = self.tail.pop_front() {
                self.tail_bytes -= old.len() + 1;
            }
        }
        true
    }

    fn finish(self: Box<Self>, exit: ExitInfo) -> Parsed {
        let (outcome, error) = match exit.code {
            Some(0) => (Outcome::Success, None),
            Some(code) => (
                Outcome::Failed,
                Some(format!("{} exited with code {code}", self.program)),
            ),
            None => (
                Outcome::Failed,
                Some(format!("{} was killed by a signal", self.program)),
            ),
        };
        let text: Vec<String> = self.tail.into_iter().collect();
        Parsed {
            outcome: Some(outcome),
            error,
            final_text: (!text.is_empty()).then(|| text.join("\n")),
            ..Parsed::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_stdin() {
        let settings = SessionSettings {
            model: Some("local-model".into()),
            ..SessionSettings::default()
        };
        let args = vec![
            "--prompt={prompt_file}".to_string(),
            "-m".into(),
            "{model}".into(),
            "{phase}".into(),
        ];
        let inv = invocation(
            "agent",
            &args,
            Phase::Plan,
            &settings,
            "hello",
            Path::new("/r/.impl/runs/plan-1.prompt.md"),
        );
        let args: Vec<String> = inv.args.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            args,
            [
                "--prompt=/r/.impl/runs/plan-1.prompt.md",
                "-m",
                "local-model",
                "plan"
            ]
        );
        assert!(inv.stdin.is_none());
        assert!(inv.notes.is_empty());
        let inv = invocation(
            "agent",
            &[],
            Phase::Implement,
            &settings,
            "hello",
            Path::new("/p"),
        );
        assert_eq!(inv.stdin.as_deref(), Some(&b"hello"[..]));
        assert_eq!(
            inv.notes,
            ["the model is passed to the command only where its arguments say {model}"]
        );
    }

    #[test]
    fn success_is_the_exit_code() {
        let mut parser: Box<dyn StreamParser> = Box::new(CommandParser::new("/usr/bin/my-agent"));
        let mut live = Vec::new();
        for i in 0..5000 {
            parser.line(format!("line {i}").as_bytes(), false, &mut |l| live.push(l));
        }
        let parsed = parser.finish(ExitInfo { code: Some(4) });
        assert_eq!(parsed.outcome, Some(Outcome::Failed));
        assert_eq!(parsed.error.as_deref(), Some("my-agent exited with code 4"));
        let text = parsed.final_text.unwrap();
        assert!(
            text.ends_with("line 4999") && text.len() <= TAIL_BYTES + 20,
            "{}",
            text.len()
        );
        assert_eq!(live.len(), 5000);
    }
}
