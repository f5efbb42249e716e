//! Agent sessions: the adapters (`claude`, `codex`, `gemini`, `command:`) that turn settings
//! into an argument list and the agent's output into one [`SessionReport`], and the
//! supervision of the agent process ([`process`]).
//!
//! A caller resolves a [`SessionSettings`] (agent, model, limits), renders a prompt
//! ([`prompts`]), and calls [`run`], which never fails because of the agent: every way a session
//! can end is an [`Outcome`] in the report. The report is written to `.impl/runs/<phase>.json`;
//! [`SessionReport::error`] turns an unsuccessful one into the step's error.

mod claude;
mod codex;
mod command;
pub mod env;
mod gemini;
pub mod install;
mod json;
pub mod pricing;
pub mod process;
pub mod prompts;
mod spec;
pub mod stream;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::actions::Runner;
use crate::error::{Error, ErrorKind, IoContext, Result};

pub use spec::AgentSpec;
pub use stream::{OutputStats, PermissionDenial};

/// Which session: the planner (reads, writes only `.impl/`) or an implementer (edits the code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Plan,
    Implement,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Plan => "plan",
            Phase::Implement => "implement",
        }
    }
}

/// How a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Success,
    /// The agent reported an error, exited non-zero, or ended without a result.
    Failed,
    /// The wall-clock timeout passed; the agent's process group was ended.
    TimedOut,
    /// The agent stopped at its budget (`--max-budget-usd`).
    BudgetLimit,
    /// The agent stopped at its turn limit (`--max-turns`).
    TurnLimit,
    /// The agent program was not found or could not be executed.
    CouldNotStart,
    /// oneshot was told to stop (SIGINT, SIGTERM, SIGHUP) and ended the agent.
    Interrupted,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failed => "failed",
            Outcome::TimedOut => "timed out",
            Outcome::BudgetLimit => "budget limit",
            Outcome::TurnLimit => "turn limit",
            Outcome::CouldNotStart => "could not start",
            Outcome::Interrupted => "interrupted",
        }
    }
}

/// The settings of one session, resolved from flags (later: the layered configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSettings {
    pub agent: AgentSpec,
    /// The model name as the agent understands it ([`AgentSpec::resolve_model`]); `None` for
    /// the agent's default.
    pub model: Option<String>,
    /// Wall-clock limit of the session.
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL when the session is ended.
    pub kill_grace: Duration,
    pub max_turns: Option<u32>,
    pub budget_usd: Option<f64>,
    /// Paths (globs) an implementation session must not change, besides `.impl/`,
    /// `.worker-impl/` and `.git/`.
    pub protected_paths: Vec<String>,
    /// More environment variable names the agent may see (never a GitHub or runner token).
    pub extra_env: Vec<String>,
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            agent: AgentSpec::Claude,
            model: None,
            timeout: Duration::from_secs(30 * 60),
            kill_grace: Duration::from_secs(10),
            max_turns: None,
            budget_usd: None,
            protected_paths: Vec::new(),
            extra_env: Vec::new(),
        }
    }
}

impl SessionSettings {
    /// The settings of one phase from the layered configuration (agent, model, timeout, turns).
    pub fn from_phase(phase: &crate::config::Phase) -> Result<Self> {
        let agent = AgentSpec::parse(&phase.agent)?;
        let model = phase
            .model
            .as_deref()
            .map(|m| agent.resolve_model(m))
            .transpose()?;
        Ok(SessionSettings {
            agent,
            model,
            timeout: phase.timeout,
            max_turns: phase.max_turns,
            ..SessionSettings::default()
        })
    }

    /// `claude (sonnet)`, `codex`, … for headings and logs.
    pub fn describe(&self) -> String {
        match &self.model {
            Some(model) => format!("{} ({model})", self.agent),
            None => self.agent.to_string(),
        }
    }
}

/// One session to run.
#[derive(Debug, Clone)]
pub struct SessionRequest<'a> {
    pub phase: Phase,
    /// The work tree the agent runs in.
    pub workdir: &'a Path,
    pub prompt: &'a str,
    /// Where the transcript (`<run_name>.jsonl`) and the prompt as sent
    /// (`<run_name>.prompt.md`) go: `.impl/runs`.
    pub run_dir: &'a Path,
    /// `plan-1`, `implement-3`, …: see [`next_run_name`].
    pub run_name: &'a str,
}

/// Everything known about a finished session; written to `.impl/runs/<phase>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionReport {
    pub phase: Phase,
    pub agent: String,
    /// The model the agent reported using, else the one asked for.
    pub model: Option<String>,
    pub outcome: Outcome,
    pub exit_code: Option<i32>,
    /// The signal that ended the agent, when one did.
    pub signal: Option<i32>,
    pub duration_s: f64,
    pub turns: Option<u64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    /// Why the session did not succeed.
    pub error: Option<String>,
    /// The agent's last message.
    pub final_text: Option<String>,
    pub permission_denials: Vec<PermissionDenial>,
    pub stderr_tail: Option<String>,
    /// The full output, relative to the work tree when inside it.
    pub transcript: Option<String>,
    pub output: OutputStats,
    /// Settings the agent could not apply, and problems of the supervision itself.
    pub notes: Vec<String>,
}

/// `<phase>-<n>` for the first `n` whose transcript does not exist yet in `run_dir`, so that a
/// re-run keeps the earlier transcripts.
pub fn next_run_name(run_dir: &Path, phase: &str) -> String {
    (1..)
        .map(|n| format!("{phase}-{n}"))
        .find(|name| !run_dir.join(format!("{name}.jsonl")).exists())
        .expect("some number is free")
}

/// What the adapter tells the supervisor to start.
pub(crate) struct Invocation {
    /// A name to find on PATH, or a path (relative to the work tree when it has a slash).
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    pub parser: Box<dyn stream::StreamParser>,
    /// Settings this agent cannot apply, and what oneshot prepared for it.
    pub notes: Vec<String>,
    /// Variables set for this session on top of the scrubbed environment (they win), e.g. a
    /// `CODEX_HOME` oneshot prepared.
    pub env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// Files prepared for the session (a private CODEX_HOME or gemini home), removed when the
    /// invocation is dropped, after the session.
    pub prepared: Option<tempfile::TempDir>,
}

/// What the adapter starts. `parent` is the environment oneshot inherited (from
/// [`crate::config::inherited_environment`]): an adapter reads the endpoint settings the user
/// gave there.
fn invocation(
    settings: &SessionSettings,
    request: &SessionRequest,
    prompt_file: &Path,
    parent: &[(std::ffi::OsString, std::ffi::OsString)],
) -> Result<Invocation> {
    let (phase, prompt, dir) = (request.phase, request.prompt, request.workdir);
    Ok(match &settings.agent {
        AgentSpec::Claude => claude::invocation(phase, settings, prompt, dir),
        AgentSpec::Codex => codex::invocation(phase, settings, prompt, dir, parent)?,
        AgentSpec::Gemini => gemini::invocation(phase, settings, prompt, dir, parent)?,
        AgentSpec::Command { program, args } => {
            command::invocation(program, args, phase, settings, prompt, prompt_file)
        }
    })
}

/// What to do when the agent program is missing.
pub fn install_hint(agent: &AgentSpec) -> String {
    match agent {
        AgentSpec::Claude => claude::INSTALL_HINT.to_string(),
        AgentSpec::Codex => codex::INSTALL_HINT.to_string(),
        AgentSpec::Gemini => gemini::INSTALL_HINT.to_string(),
        AgentSpec::Command { program, .. } => command::install_hint(program),
    }
}

/// Where the agent's program is, looked up on the PATH the agent session would get, so that a
/// command can check the agent before it creates anything. The error says what was looked for.
pub fn locate(agent: &AgentSpec, workdir: &Path) -> std::result::Result<PathBuf, String> {
    let program = match agent {
        AgentSpec::Claude => "claude",
        AgentSpec::Codex => "codex",
        AgentSpec::Gemini => "gemini",
        AgentSpec::Command { program, .. } => program.as_str(),
    };
    // As in `run`: the parent's environment only decides what the agent inherits.
    let parent = crate::config::inherited_environment();
    let path = env::scrubbed(agent, &parent, &[])
        .into_iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v)
        .unwrap_or_default();
    process::find_program(program, &path, workdir)
}

/// Runs one session: writes the prompt as sent next to the transcript, starts the agent with a
/// scrubbed environment in its own process group, streams the live log through `runner`, and
/// returns the report. An `Err` is a problem on oneshot's side (the run directory cannot be
/// written); whatever the agent does ends up in the report.
pub fn run(
    runner: &Runner,
    settings: &SessionSettings,
    request: &SessionRequest,
) -> Result<SessionReport> {
    std::fs::create_dir_all(request.run_dir)
        .io_context(|| format!("could not create {}", request.run_dir.display()))?;
    let prompt_file = request
        .run_dir
        .join(format!("{}.prompt.md", request.run_name));
    std::fs::write(&prompt_file, request.prompt)
        .io_context(|| format!("could not write {}", prompt_file.display()))?;
    let transcript = request.run_dir.join(format!("{}.jsonl", request.run_name));

    // The parent's environment is read here only to choose what the agent inherits; see
    // `env` for the allow-list.
    let parent = crate::config::inherited_environment();
    let mut invocation = invocation(settings, request, &prompt_file, &parent)?;
    let mut env = env::scrubbed(&settings.agent, &parent, &settings.extra_env);
    for (key, value) in std::mem::take(&mut invocation.env) {
        env.retain(|(k, _)| *k != key);
        env.push((key, value));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();

    let mut report = SessionReport {
        phase: request.phase,
        agent: settings.agent.to_string(),
        model: settings.model.clone(),
        outcome: Outcome::CouldNotStart,
        exit_code: None,
        signal: None,
        duration_s: 0.0,
        turns: None,
        input_tokens: None,
        output_tokens: None,
        cost_usd: None,
        error: None,
        final_text: None,
        permission_denials: Vec::new(),
        stderr_tail: None,
        transcript: Some(display_relative(&transcript, request.workdir)),
        output: OutputStats::default(),
        notes: invocation.notes.clone(),
    };
    for note in &invocation.notes {
        runner.info(&format!("note: {note}"));
    }

    let program = match process::find_program(&invocation.program, &path, request.workdir) {
        Ok(program) => program,
        Err(e) => {
            report.error = Some(e);
            report.transcript = None;
            return Ok(report);
        }
    };
    runner.info(&format!(
        "Starting {}; transcript: {}",
        program.display(),
        report.transcript.as_deref().unwrap_or("none")
    ));

    // Kept until the session has ended; dropping it removes what was prepared.
    let _prepared = invocation.prepared.take();
    let launch = process::Launch {
        program,
        args: invocation.args,
        env,
        workdir: request.workdir.to_path_buf(),
        stdin: invocation.stdin,
        parser: invocation.parser,
        transcript: Some(transcript),
        timeout: settings.timeout,
        grace: settings.kill_grace,
    };
    let runner_files = runner.guard_files();
    let done = process::supervise(launch, &mut |line| runner.info(line));
    // Every process of the session has been ended by now: nothing can write after this.
    runner_files.restore()?;
    report.duration_s = (done.duration.as_secs_f64() * 1000.0).round() / 1000.0;
    report.notes.extend(done.notes);
    if let Err(e) = done.started {
        report.error = Some(format!("could not start {e}"));
        report.transcript = None;
        return Ok(report);
    }
    report.exit_code = done.exit.and_then(|s| s.code());
    report.signal = process::exit_signal(done.exit);
    report.output = done.stats;
    let tail = done.stderr_tail.trim_end();
    report.stderr_tail = (!tail.is_empty()).then(|| tail.to_string());

    let parsed = done.parsed.unwrap_or_default();
    report.turns = parsed.turns;
    report.input_tokens = parsed.input_tokens;
    report.output_tokens = parsed.output_tokens;
    report.cost_usd = parsed.cost_usd;
    report.final_text = parsed.final_text;
    report.permission_denials = parsed.permission_denials;
    // What the agent says it used is more precise than the alias asked for.
    if parsed.model.is_some() {
        report.model = parsed.model;
    }
    let minutes = settings.timeout.as_secs_f64() / 60.0;
    (report.outcome, report.error) = if let Some(signal) = done.interrupted {
        (
            Outcome::Interrupted,
            Some(format!("oneshot received {signal} and ended the agent")),
        )
    } else if let Some(reason) = done.stopped {
        (Outcome::Failed, Some(reason))
    } else if done.timed_out {
        (
            Outcome::TimedOut,
            Some(format!(
                "the session did not finish within its timeout of {}",
                minutes_text(minutes)
            )),
        )
    } else {
        let outcome = parsed.outcome.unwrap_or(Outcome::Failed);
        let error = parsed.error.or_else(|| {
            (outcome != Outcome::Success).then(|| match (report.exit_code, report.signal) {
                (Some(code), _) => format!("the agent exited with code {code}"),
                (None, Some(signal)) => format!("the agent was killed by signal {signal}"),
                _ => "the agent's output could not be read to its end".into(),
            })
        });
        (outcome, error)
    };
    Ok(report)
}

fn minutes_text(minutes: f64) -> String {
    if minutes >= 1.0 && minutes.fract() == 0.0 {
        format!("{minutes} min")
    } else {
        format!("{:.0} s", minutes * 60.0)
    }
}

fn display_relative(path: &Path, base: &Path) -> String {
    path.strip_prefix(base)
        .unwrap_or(path)
        .display()
        .to_string()
}

impl SessionReport {
    /// Writes the report as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<()> {
        let text =
            serde_json::to_string_pretty(self).map_err(|e| Error::internal(e.to_string()))?;
        std::fs::write(path, format!("{text}\n"))
            .io_context(|| format!("could not write {}", path.display()))
    }

    pub fn succeeded(&self) -> bool {
        self.outcome == Outcome::Success
    }

    /// The error a step reports for an unsuccessful session (`None` on success). `session`
    /// names it: "the planning session".
    pub fn error(&self, session: &str, agent: &AgentSpec) -> Option<Error> {
        let why = self
            .error
            .clone()
            .unwrap_or_else(|| self.outcome.as_str().to_string());
        let err = match self.outcome {
            Outcome::Success => return None,
            Outcome::CouldNotStart => {
                return Some(
                    Error::agent(format!(
                        "could not start {session}: {} could not be run",
                        self.agent
                    ))
                    .cause(why)
                    .hint(install_hint(agent)),
                );
            }
            Outcome::Interrupted => {
                Error::new(ErrorKind::Interrupted, format!("{session} was interrupted")).cause(why)
            }
            Outcome::TimedOut => Error::step_failed(format!("{session} timed out"))
                .cause(why)
                .hint("give the session more time (--timeout-minutes), or split the task"),
            Outcome::BudgetLimit => Error::step_failed(format!("{session} reached its budget"))
                .cause(why)
                .hint("raise the budget (--budget-usd), or make the task smaller"),
            Outcome::TurnLimit => Error::step_failed(format!("{session} reached its turn limit"))
                .cause(why)
                .hint("raise the turn limit (--max-turns), or make the task smaller"),
            Outcome::Failed => Error::step_failed(format!("{session} failed")).cause(why),
        };
        let mut err = err;
        if let Some(tail) = &self.stderr_tail {
            let last: Vec<&str> = tail.lines().rev().take(10).collect();
            let last: Vec<&str> = last.into_iter().rev().collect();
            err = err.cause(format!(
                "the agent's stderr ended with:\n{}",
                last.join("\n")
            ));
        }
        if let Some(transcript) = &self.transcript {
            err = err.hint(format!("the full output is in {transcript}"));
        }
        Some(err)
    }

    /// A Markdown table for the step summary.
    pub fn summary_markdown(&self, heading: &str) -> String {
        let tokens = match (self.input_tokens, self.output_tokens) {
            (None, None) => "–".to_string(),
            (i, o) => format!("{} / {}", opt_thousands(i), opt_thousands(o)),
        };
        // Tokens without a cost: the model's price is not known (see `pricing`).
        let cost = match (self.cost_usd, self.input_tokens.or(self.output_tokens)) {
            (Some(c), _) => format!("${c:.2}"),
            (None, Some(_)) => "unknown".into(),
            (None, None) => "–".into(),
        };
        let turns = self
            .turns
            .map(|t| t.to_string())
            .unwrap_or_else(|| "–".into());
        let model = self.model.as_deref().unwrap_or("default");
        let mut md = format!(
            "### {heading}\n\n\
             | Agent | Model | Outcome | Duration | Turns | Tokens in / out | Cost |\n\
             |---|---|---|---|---|---|---|\n\
             | {} | {} | {} | {} | {turns} | {tokens} | {cost} |\n",
            md_cell(&self.agent),
            md_cell(model),
            self.outcome.as_str(),
            duration_text(self.duration_s),
        );
        if let Some(error) = self.error.as_ref().filter(|_| !self.succeeded()) {
            md.push_str(&format!("\n**Why:** {}\n", md_cell(error)));
        }
        if !self.permission_denials.is_empty() {
            md.push_str(&format!(
                "\nPermission denials: {}",
                self.permission_denials.len()
            ));
            for denial in self.permission_denials.iter().take(5) {
                md.push_str(&format!("\n- `{}` {}", denial.tool, md_cell(&denial.input)));
            }
            md.push('\n');
        }
        md
    }
}

/// `1m 05s`, `42s`, `1h 02m`.
pub fn duration_text(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn opt_thousands(n: Option<u64>) -> String {
    n.map(thousands).unwrap_or_else(|| "–".into())
}

/// `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text safe inside a Markdown table cell: one line, pipes escaped, bounded.
fn md_cell(text: &str) -> String {
    stream::one_line(text, 300).replace('|', "\\|")
}

/// Where a run's report goes: `.impl/runs/<phase>.json`.
pub fn report_path(run_dir: &Path, phase: Phase) -> PathBuf {
    run_dir.join(format!("{}.json", phase.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_skip_existing_transcripts() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(next_run_name(dir.path(), "plan"), "plan-1");
        std::fs::write(dir.path().join("plan-1.jsonl"), "").unwrap();
        std::fs::write(dir.path().join("plan-2.jsonl"), "").unwrap();
        assert_eq!(next_run_name(dir.path(), "plan"), "plan-3");
        assert_eq!(next_run_name(dir.path(), "implement"), "implement-1");
    }

    #[test]
    fn number_formats() {
        assert_eq!(duration_text(0.4), "0s");
        assert_eq!(duration_text(65.0), "1m 05s");
        assert_eq!(duration_text(3720.0), "1h 02m");
        assert_eq!(opt_thousands(Some(1234567)), "1,234,567");
        assert_eq!(opt_thousands(Some(999)), "999");
        assert_eq!(minutes_text(30.0), "30 min");
        assert_eq!(minutes_text(0.05), "3 s");
    }

    fn report(outcome: Outcome) -> SessionReport {
        SessionReport {
            phase: Phase::Plan,
            agent: "claude".into(),
            model: Some("sonnet".into()),
            outcome,
            exit_code: Some(1),
            signal: None,
            duration_s: 83.2,
            turns: Some(12),
            input_tokens: Some(45120),
            output_tokens: Some(3210),
            cost_usd: Some(0.4213),
            error: Some("API Error: 500 | overloaded".into()),
            final_text: None,
            permission_denials: vec![PermissionDenial {
                tool: "Write".into(),
                input: "README.md".into(),
            }],
            stderr_tail: Some("line1\nline2".into()),
            transcript: Some(".impl/runs/plan-1.jsonl".into()),
            output: OutputStats::default(),
            notes: vec![],
        }
    }

    #[test]
    fn summary_table() {
        let md = report(Outcome::Failed).summary_markdown("Planning session");
        assert_eq!(
            md,
            "### Planning session\n\n\
             | Agent | Model | Outcome | Duration | Turns | Tokens in / out | Cost |\n\
             |---|---|---|---|---|---|---|\n\
             | claude | sonnet | failed | 1m 23s | 12 | 45,120 / 3,210 | $0.42 |\n\
             \n**Why:** API Error: 500 \\| overloaded\n\
             \nPermission denials: 1\n- `Write` README.md\n"
        );
    }

    #[test]
    fn tokens_without_a_price_say_the_cost_is_unknown() {
        let mut r = report(Outcome::Success);
        r.agent = "codex".into();
        r.cost_usd = None;
        let md = r.summary_markdown("Planning session");
        assert!(md.contains("| 45,120 / 3,210 | unknown |"), "{md}");
        r.input_tokens = None;
        r.output_tokens = None;
        assert!(r.summary_markdown("x").contains("| – | – |"));
    }

    #[test]
    fn errors_by_outcome() {
        assert!(
            report(Outcome::Success)
                .error("the planning session", &AgentSpec::Claude)
                .is_none()
        );
        let err = report(Outcome::Failed)
            .error("the planning session", &AgentSpec::Claude)
            .unwrap();
        assert_eq!(err.kind, ErrorKind::StepFailed);
        assert_eq!(err.message, "the planning session failed");
        assert!(err.causes[1].ends_with("line1\nline2"));
        let err = report(Outcome::CouldNotStart)
            .error("the planning session", &AgentSpec::Claude)
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Agent);
        assert!(err.hints[0].contains("npm install -g @anthropic-ai/claude-code"));
        let err = report(Outcome::Interrupted)
            .error("the planning session", &AgentSpec::Claude)
            .unwrap();
        assert_eq!(err.kind, ErrorKind::Interrupted);
        let err = report(Outcome::TimedOut)
            .error("x", &AgentSpec::Claude)
            .unwrap();
        assert!(err.hints[0].contains("--timeout-minutes"));
    }

    #[test]
    fn report_json_shape() {
        let json = serde_json::to_value(report(Outcome::TimedOut)).unwrap();
        assert_eq!(json["outcome"], "timed_out");
        assert_eq!(json["phase"], "plan");
        assert_eq!(json["permission_denials"][0]["tool"], "Write");
        let back: SessionReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report(Outcome::TimedOut));
    }
}
