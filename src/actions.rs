//! The runner layer: the one place that talks to the GitHub Actions runner, and so the one place
//! that decides where output goes.
//!
//! Inside Actions (`GITHUB_ACTIONS=true`) step outputs are appended to `$GITHUB_OUTPUT` in the
//! heredoc form with a random delimiter, Markdown goes to `$GITHUB_STEP_SUMMARY`, and annotations,
//! groups and masks are workflow commands on stdout. Outside Actions the outputs are one JSON
//! object on stdout, annotations become plain `error: …` lines on stderr, and everything a person
//! reads goes to stderr, so stdout stays machine-readable.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, IoContext, Result};

/// GitHub refuses a step summary over 1 MiB (the upload fails with an annotation).
pub const STEP_SUMMARY_LIMIT: usize = 1024 * 1024;

/// The outputs of one step, in the order they were set. Values are JSON so that the
/// outside-Actions object keeps numbers and booleans typed; in `$GITHUB_OUTPUT` they become text.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outputs(Vec<(String, Value)>);

impl Outputs {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `name` (replacing an earlier value of the same name).
    pub fn set(&mut self, name: &str, value: impl Into<Value>) -> &mut Self {
        let value = value.into();
        match self.0.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.0.push((name.to_string(), value)),
        }
        self
    }

    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.set(name, value);
        self
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// `{"success": true, …outputs}`: the JSON form of DESIGN.md §3.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("success".into(), Value::Bool(true));
        for (name, value) in &self.0 {
            map.insert(name.clone(), value.clone());
        }
        Value::Object(map)
    }
}

/// How a JSON value is written as an Actions output: strings as they are, `null` as empty.
pub fn output_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// An annotation: a message, optionally tied to a place in a file.
#[derive(Debug, Clone, Default)]
pub struct Annotation {
    pub title: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    pub end_line: Option<usize>,
    pub col: Option<usize>,
    pub end_column: Option<usize>,
}

impl Annotation {
    pub fn file_line(file: impl Into<String>, line: usize) -> Self {
        Annotation {
            file: Some(file.into()),
            line: Some(line),
            ..Default::default()
        }
    }
}

/// The variables naming the files a step writes for the runner.
const RUNNER_FILES: &[&str] = &[
    "GITHUB_ENV",
    "GITHUB_PATH",
    "GITHUB_OUTPUT",
    "GITHUB_STATE",
    "GITHUB_STEP_SUMMARY",
];

/// The step's runner files as they were before agent code ran; [`RunnerFilesGuard::restore`]
/// puts them back.
pub struct RunnerFilesGuard<'a> {
    runner: &'a Runner,
    saved: Vec<(&'static str, &'a Path, Option<Vec<u8>>)>,
}

impl RunnerFilesGuard<'_> {
    /// Puts every runner file back as it was, and warns for each one the agent changed. Called
    /// once every process of the agent has been ended, so nothing can write after it.
    pub fn restore(self) -> Result<()> {
        for (name, path, before) in self.saved {
            let now = std::fs::read(path).ok();
            if now == before {
                continue;
            }
            match &before {
                Some(bytes) => std::fs::write(path, bytes),
                None => std::fs::remove_file(path).or_else(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Ok(())
                    } else {
                        Err(e)
                    }
                }),
            }
            .map_err(|e| {
                Error::new(
                    ErrorKind::Agent,
                    format!("agent code changed ${name} and oneshot could not put it back"),
                )
                .cause(format!("{}: {e}", path.display()))
                .hint("do not trust the later steps of this job; re-run it")
            })?;
            self.runner.annotate(
                Level::Warning,
                &format!(
                    "agent code wrote to ${name}, the file through which this step talks to the runner; oneshot put it back as it was"
                ),
                &Annotation::default(),
            );
        }
        Ok(())
    }
}

/// Where output goes; built once in `main` from the environment.
#[derive(Debug)]
pub struct Runner {
    in_actions: bool,
    output_file: Option<PathBuf>,
    summary_file: Option<PathBuf>,
    /// `$GITHUB_PATH`: directories later steps find programs in.
    path_file: Option<PathBuf>,
    /// Every file through which a step talks to the runner (outputs, summary, PATH, environment
    /// and state of later steps): what an agent must not write to, see [`Runner::guard_files`].
    command_files: Vec<(&'static str, PathBuf)>,
    /// Bytes written to the step summary by this process, to hold the 1 MiB limit.
    summary_written: Mutex<usize>,
    stdout: Mutex<()>,
}

impl Runner {
    /// Reads `GITHUB_ACTIONS`, `GITHUB_OUTPUT`, `GITHUB_STEP_SUMMARY` and `GITHUB_PATH`.
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let in_actions = std::env::var("GITHUB_ACTIONS").is_ok_and(|v| v == "true");
        Runner::new(
            in_actions,
            var("GITHUB_OUTPUT").map(PathBuf::from),
            var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        )
        .with_path_file(var("GITHUB_PATH").map(PathBuf::from))
        .with_command_files(
            RUNNER_FILES
                .iter()
                .filter_map(|name| Some((*name, PathBuf::from(var(name)?))))
                .collect(),
        )
    }

    /// The files [`Runner::guard_files`] keeps as they were.
    pub fn with_command_files(mut self, files: Vec<(&'static str, PathBuf)>) -> Self {
        self.command_files = files;
        self
    }

    /// Takes a copy of the step's runner files before agent code runs (a session, the verify
    /// command). The agent runs as the job's user and can find them (under
    /// `$RUNNER_TEMP/_runner_file_commands/`): a line it added to `GITHUB_PATH` or `GITHUB_ENV`
    /// would run its program in a later step of the job, one that gets the token.
    pub fn guard_files(&self) -> RunnerFilesGuard<'_> {
        let saved = self
            .command_files
            .iter()
            .map(|(name, path)| (*name, path.as_path(), std::fs::read(path).ok()))
            .collect();
        RunnerFilesGuard {
            runner: self,
            saved,
        }
    }

    /// Where [`Runner::add_path`] writes.
    pub fn with_path_file(mut self, path_file: Option<PathBuf>) -> Self {
        self.path_file = path_file;
        self
    }

    pub fn new(
        in_actions: bool,
        output_file: Option<PathBuf>,
        summary_file: Option<PathBuf>,
    ) -> Self {
        Runner {
            in_actions,
            output_file,
            summary_file,
            path_file: None,
            command_files: Vec::new(),
            summary_written: Mutex::new(0),
            stdout: Mutex::new(()),
        }
    }

    pub fn in_actions(&self) -> bool {
        self.in_actions
    }

    /// Publishes a step's outputs: into `$GITHUB_OUTPUT` inside Actions, else as one JSON object
    /// on stdout.
    pub fn set_outputs(&self, outputs: &Outputs) -> Result<()> {
        match (&self.output_file, self.in_actions) {
            (Some(path), true) => write_output_file(path, outputs),
            (None, true) => {
                self.annotate(
                    Level::Warning,
                    "GITHUB_OUTPUT is not set; printing the outputs as JSON instead",
                    &Annotation::default(),
                );
                self.print_json(&outputs.to_json())
            }
            (_, false) => self.print_json(&outputs.to_json()),
        }
    }

    /// Prints one JSON object as one line on stdout.
    pub fn print_json(&self, value: &Value) -> Result<()> {
        let _guard = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = io::stdout().lock();
        let text = serde_json::to_string(value).map_err(|e| Error::internal(e.to_string()))?;
        writeln!(out, "{text}")
            .and_then(|()| out.flush())
            .or_else(ignore_broken_pipe)
            .io_context(|| "could not write to stdout".into())
    }

    /// A result line on stdout for a person (a command's final answer, e.g. the PR URL).
    pub fn print_line(&self, text: &str) {
        let _guard = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{text}").and_then(|()| out.flush());
    }

    /// Puts `dir` on PATH for the later steps of the job (`$GITHUB_PATH`, one directory a
    /// line). Outside Actions there are no later steps: says what to add instead.
    pub fn add_path(&self, dir: &Path) -> Result<()> {
        let text = dir
            .to_str()
            .filter(|t| !t.contains(['\n', '\r']))
            .ok_or_else(|| {
                Error::input(format!(
                    "{} cannot go on PATH: it is not UTF-8 or holds a line break",
                    dir.display()
                ))
            })?;
        match (&self.path_file, self.in_actions) {
            (Some(file), true) => append(file, format!("{text}\n").as_bytes())
                .io_context(|| format!("could not write to GITHUB_PATH ({})", file.display())),
            (None, true) => Err(Error::internal(
                "GITHUB_PATH is not set, so later steps cannot find the agent's program",
            )),
            (_, false) => {
                self.info(&format!("Add {text} to PATH to use it"));
                Ok(())
            }
        }
    }

    /// Appends Markdown to the step summary (inside Actions only). What would pass GitHub's
    /// 1 MiB limit is cut, with a visible note, instead of failing the upload.
    pub fn summary(&self, markdown: &str) -> Result<()> {
        let (Some(path), true) = (&self.summary_file, self.in_actions) else {
            return Ok(());
        };
        let mut written = self
            .summary_written
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let existing = std::fs::metadata(path)
            .map(|m| m.len() as usize)
            .unwrap_or(0);
        let used = existing.max(*written);
        let text = fit_summary(markdown, STEP_SUMMARY_LIMIT.saturating_sub(used));
        if text.is_empty() {
            return Ok(());
        }
        append(path, text.as_bytes())
            .io_context(|| format!("could not write the step summary {}", path.display()))?;
        *written = used + text.len();
        Ok(())
    }

    /// An annotation inside Actions; a plain `error: …` line on stderr outside.
    pub fn annotate(&self, level: Level, message: &str, at: &Annotation) {
        if self.in_actions {
            self.command_line(&annotation_command(level, message, at));
        } else {
            let mut place = String::new();
            if let Some(file) = &at.file {
                place.push_str(file);
                if let Some(line) = at.line {
                    place.push_str(&format!(":{line}"));
                }
                place.push_str(": ");
            }
            let title = at
                .title
                .as_deref()
                .map(|t| format!("{t}: "))
                .unwrap_or_default();
            self.eprint(&format!("{}: {place}{title}{message}", level.command()));
        }
    }

    /// Hides a secret in every later log line of the job.
    pub fn mask(&self, secret: &str) {
        if self.in_actions && !secret.trim().is_empty() {
            // A multi-line secret is masked line by line, as the runner only masks within lines.
            for line in secret.lines().filter(|l| !l.trim().is_empty()) {
                self.command_line(&format!("::add-mask::{}", escape_data(line)));
            }
        }
    }

    /// Starts a collapsible group in the Actions log (a heading on stderr outside).
    /// The group ends when the guard is dropped.
    pub fn group(&self, title: &str) -> Group<'_> {
        if self.in_actions {
            self.command_line(&format!("::group::{}", escape_data(title)));
        } else {
            self.eprint(&format!("==> {title}"));
        }
        Group { runner: self }
    }

    /// A transient status line on stderr (a spinner), only when stderr is a terminal and not in
    /// Actions; replaced by the next one and cleared by [`Runner::info`].
    pub fn status_line(&self, text: &str) {
        use std::io::IsTerminal;
        if !self.in_actions && io::stderr().is_terminal() {
            let mut err = io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K{text}");
            let _ = err.flush();
        }
    }

    /// A line a person reads: the Actions log inside Actions, stderr outside.
    pub fn info(&self, message: &str) {
        if self.in_actions {
            // In the log stdout and stderr interleave; stdout keeps the order with workflow commands.
            // Text that could hold a workflow command (`::cmd::` anywhere after leading space, or
            // the legacy `##[cmd]` anywhere in a line) is printed with commands switched off, as
            // the runner documents: `::stop-commands::<token>` … `::<token>::`.
            let _guard = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
            let mut out = io::stdout().lock();
            let risky = message.contains("::") || message.contains("##[");
            let token = risky.then(|| random_uuid().replace('-', ""));
            if let Some(token) = &token {
                let _ = writeln!(out, "::stop-commands::{token}");
            }
            for line in message.lines() {
                let _ = writeln!(out, "{line}");
            }
            if let Some(token) = &token {
                let _ = writeln!(out, "::{token}::");
            }
            let _ = out.flush();
        } else {
            self.eprint(message);
        }
    }

    fn eprint(&self, message: &str) {
        use std::io::IsTerminal;
        let mut err = io::stderr().lock();
        if err.is_terminal() {
            // Clears a status line that may be showing.
            let _ = write!(err, "\r\x1b[2K");
        }
        let _ = writeln!(err, "{message}");
    }

    fn command_line(&self, line: &str) {
        let _guard = self.stdout.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

/// Ends an Actions log group when dropped.
pub struct Group<'a> {
    runner: &'a Runner,
}

impl Drop for Group<'_> {
    fn drop(&mut self) {
        if self.runner.in_actions {
            self.runner.command_line("::endgroup::");
        }
    }
}

fn ignore_broken_pipe(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

fn append(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(bytes)
}

/// Appends every output in the heredoc form with a fresh random delimiter, as actions/toolkit
/// does: `name<<ghadelimiter_<uuid>` / value / delimiter, each line ending in a newline.
fn write_output_file(path: &Path, outputs: &Outputs) -> Result<()> {
    let mut text = String::new();
    for (name, value) in outputs.iter() {
        text.push_str(&heredoc_entry(name, &output_text(value))?);
    }
    append(path, text.as_bytes())
        .io_context(|| format!("could not write step outputs to {}", path.display()))
}

/// One `GITHUB_OUTPUT`/`GITHUB_ENV` entry. Refuses a name that is not a plain identifier and a
/// name or value that contains the delimiter (which would end the value early).
pub fn heredoc_entry(name: &str, value: &str) -> Result<String> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(Error::internal(format!("invalid output name {name:?}")));
    }
    let delimiter = format!("ghadelimiter_{}", random_uuid());
    if value.contains(&delimiter) {
        return Err(Error::input(format!(
            "the value of output {name} contains the delimiter {delimiter}; refusing to write it"
        )));
    }
    Ok(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// A random UUID v4, as text.
pub fn random_uuid() -> String {
    let mut b = random_bytes::<16>();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    // The OS random source does not fail on Linux or macOS once booted; a clock-based fallback
    // keeps a delimiter unique enough if it ever does.
    if getrandom::fill(&mut b).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
            ^ u128::from(std::process::id());
        for (i, byte) in b.iter_mut().enumerate() {
            *byte = (nanos >> ((i % 16) * 8)) as u8;
        }
    }
    b
}

/// Cuts `markdown` to fit in `room` bytes, at a char boundary, with a visible note.
fn fit_summary(markdown: &str, room: usize) -> String {
    if markdown.len() <= room {
        return markdown.to_string();
    }
    const NOTE: &str =
        "\n\n> **Note:** the rest of this summary was cut: GitHub shows at most 1 MiB per step.\n";
    if room <= NOTE.len() {
        return String::new();
    }
    let mut end = room - NOTE.len();
    while !markdown.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{NOTE}", &markdown[..end])
}

/// Escaping of a workflow command's message (actions/toolkit `command.ts` `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escaping of a workflow command's property value (`escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// `::error file=F,line=L,…::message`, properties in toolkit order; empty ones omitted.
pub fn annotation_command(level: Level, message: &str, at: &Annotation) -> String {
    let num = |n: Option<usize>| n.map(|n| n.to_string());
    let props: Vec<String> = [
        ("title", at.title.clone()),
        ("file", at.file.clone()),
        ("line", num(at.line)),
        ("endLine", num(at.end_line)),
        ("col", num(at.col)),
        ("endColumn", num(at.end_column)),
    ]
    .into_iter()
    .filter_map(|(k, v)| {
        v.filter(|v| !v.is_empty())
            .map(|v| format!("{k}={}", escape_property(&v)))
    })
    .collect();
    let sep = if props.is_empty() { "" } else { " " };
    format!(
        "::{}{sep}{}::{}",
        level.command(),
        props.join(","),
        escape_data(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_escaping_follows_the_toolkit() {
        assert_eq!(escape_data("100%\r\nok"), "100%25%0D%0Aok");
        // `%` is escaped first, so an already-escaped sequence is not unescaped later.
        assert_eq!(escape_data("%0A"), "%250A");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }

    #[test]
    fn annotation_properties() {
        let at = Annotation {
            title: Some("Plan: bad".into()),
            file: Some(".impl/plan.md".into()),
            line: Some(3),
            end_line: None,
            col: Some(1),
            end_column: Some(9),
        };
        assert_eq!(
            annotation_command(Level::Error, "no steps\nat all", &at),
            "::error title=Plan%3A bad,file=.impl/plan.md,line=3,col=1,endColumn=9::no steps%0Aat all"
        );
        assert_eq!(
            annotation_command(Level::Notice, "hi", &Annotation::default()),
            "::notice::hi"
        );
    }

    #[test]
    fn heredoc_entry_has_a_fresh_delimiter_and_trailing_newline() {
        let a = heredoc_entry("plan_title", "EOF\nx").unwrap();
        let b = heredoc_entry("plan_title", "EOF\nx").unwrap();
        assert_ne!(a, b);
        let lines: Vec<&str> = a.lines().collect();
        assert!(lines[0].starts_with("plan_title<<ghadelimiter_"));
        assert_eq!(&lines[1..3], &["EOF", "x"]);
        assert_eq!(lines[3], &lines[0]["plan_title<<".len()..]);
        assert!(a.ends_with('\n'));
    }

    #[test]
    fn heredoc_entry_refuses_bad_names() {
        assert!(heredoc_entry("a=b", "x").is_err());
        assert!(heredoc_entry("", "x").is_err());
        assert!(heredoc_entry("a\nb", "x").is_err());
    }

    #[test]
    fn uuid_is_v4_shaped() {
        let u = random_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
    }

    #[test]
    fn summary_is_cut_with_a_note() {
        let text = "é".repeat(1000);
        let cut = fit_summary(&text, 500);
        assert!(cut.len() <= 500);
        assert!(cut.contains("was cut"));
        assert_eq!(fit_summary("short", 500), "short");
    }

    #[test]
    fn summary_respects_the_limit_across_calls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.md");
        let runner = Runner::new(true, None, Some(path.clone()));
        let chunk = "x".repeat(700 * 1024);
        runner.summary(&chunk).unwrap();
        runner.summary(&chunk).unwrap();
        runner.summary(&chunk).unwrap();
        let len = std::fs::metadata(&path).unwrap().len() as usize;
        assert!(len <= STEP_SUMMARY_LIMIT, "{len}");
        assert!(std::fs::read_to_string(&path).unwrap().contains("was cut"));
    }

    #[test]
    fn outputs_keep_order_and_replace() {
        let mut o = Outputs::new();
        o.set("a", 1).set("b", "x").set("a", 2);
        assert_eq!(o.to_json().to_string(), r#"{"success":true,"a":2,"b":"x"}"#);
        assert_eq!(output_text(&Value::Bool(false)), "false");
        assert_eq!(output_text(&Value::Null), "");
    }
}
