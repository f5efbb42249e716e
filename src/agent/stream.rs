//! Reading an agent's output: lines of bounded length, the live log, and what each adapter's
//! parser hands back.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::Outcome;

/// The longest line kept in memory. Longer lines go to the transcript in full but reach the
/// parser cut to this length (and so usually fail to parse as JSON, which is counted).
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// How the process ended, as the parser needs to know it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExitInfo {
    /// The exit code, if the process exited (rather than being killed by a signal).
    pub code: Option<i32>,
}

/// One line for the live log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveLine {
    /// A tool call or an action the agent takes; always shown (within the line budget).
    Tool(String),
    /// Text the agent writes; shown summarised, within a smaller budget.
    Text(String),
    /// Something oneshot points out (a denial, a retry, an error event).
    Note(String),
}

/// What an adapter's parser made of a session's output.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The outcome the output and exit code show (timeouts and interruptions are decided by
    /// the supervisor, not here).
    pub outcome: Option<Outcome>,
    /// Why the session did not succeed, in the agent's words where it gave them.
    pub error: Option<String>,
    pub model: Option<String>,
    pub turns: Option<u64>,
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    pub final_text: Option<String>,
    pub permission_denials: Vec<PermissionDenial>,
}

/// A tool call the agent's permission rules refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PermissionDenial {
    pub tool: String,
    /// A one-line summary of what the call wanted (a command, a path).
    pub input: String,
}

/// Where a parser's live-log lines go. A sink can say that it takes no more text or tool lines
/// (the live log has a budget), so that a parser does not build lines nobody will print.
pub trait LiveSink {
    fn push(&mut self, line: LiveLine);
    fn wants_text(&self) -> bool {
        true
    }
    fn wants_tools(&self) -> bool {
        true
    }
}

/// Any closure is a sink that takes everything (handy in tests).
impl<F: FnMut(LiveLine)> LiveSink for F {
    fn push(&mut self, line: LiveLine) {
        self(line)
    }
}

/// Turns an agent's output lines into live-log lines and, at the end, a [`Parsed`] result.
/// Every parser must accept any bytes: non-JSON lines, cut lines and unknown events.
pub trait StreamParser: Send {
    /// One line without its newline; `cut` when it was longer than [`MAX_LINE`]. Returns
    /// whether the line was an event the parser could read.
    fn line(&mut self, line: &[u8], cut: bool, live: &mut dyn LiveSink) -> bool;
    fn finish(self: Box<Self>, exit: ExitInfo) -> Parsed;

    /// The parser's verdict, asked after every line: `Some(why)` when the output shows that the
    /// session cannot succeed although the agent goes on (it retries an API it cannot reach
    /// without end). The supervisor then ends the agent and reports `why` as the failure.
    fn stop_reason(&mut self) -> Option<String> {
        None
    }

    /// A watcher of the agent's stderr lines, for agents that report some failures only
    /// there; it gives a stop reason as [`StreamParser::stop_reason`] does. Taken once, before
    /// the agent starts.
    fn stderr_watch(&mut self) -> Option<StderrWatch> {
        None
    }
}

/// Sees each stderr line of the agent (without its newline, cut at 4 KiB); `Some(why)` asks
/// the supervisor to end the session.
pub type StderrWatch = Box<dyn FnMut(&str) -> Option<String> + Send>;

/// Counts of what the output contained, for the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OutputStats {
    pub bytes: u64,
    pub lines: u64,
    /// Lines that were not a JSON event the adapter understood (blank lines excluded).
    pub unparsed_lines: u64,
    /// Lines longer than [`MAX_LINE`], cut before parsing.
    pub cut_lines: u64,
    /// Whether the transcript stopped early because it reached its size limit.
    pub transcript_cut: bool,
}

/// Splits output into lines of at most `max` bytes without copying them: a line that lies
/// within one chunk of input is handed out as a slice of that chunk; only a line that spans
/// chunks is gathered, up to `max` bytes (the rest of an overlong line is dropped, and the line
/// reported as cut).
#[derive(Debug)]
pub struct LineSplitter {
    max: usize,
    carry: Vec<u8>,
    /// The length of the line being gathered, dropped bytes included.
    carry_len: usize,
}

impl LineSplitter {
    pub fn new(max: usize) -> Self {
        LineSplitter {
            max,
            carry: Vec::new(),
            carry_len: 0,
        }
    }

    /// Feeds the next chunk; `on_line(line, cut)` gets every line it completes, newline
    /// included.
    pub fn feed(&mut self, mut chunk: &[u8], on_line: &mut impl FnMut(&[u8], bool)) {
        while let Some(i) = memchr::memchr(b'\n', chunk) {
            let (line, rest) = chunk.split_at(i + 1);
            if self.carry_len == 0 {
                if line.len() <= self.max {
                    on_line(line, false);
                } else {
                    on_line(&line[..self.max], true);
                }
            } else {
                self.gather(line);
                on_line(&self.carry, self.carry_len > self.max);
                self.reset();
            }
            chunk = rest;
        }
        if !chunk.is_empty() {
            self.gather(chunk);
        }
    }

    /// At the end of the output: the last line, if it had no newline.
    pub fn finish(&mut self, on_line: &mut impl FnMut(&[u8], bool)) {
        if self.carry_len > 0 {
            on_line(&self.carry, self.carry_len > self.max);
            self.reset();
        }
    }

    fn gather(&mut self, part: &[u8]) {
        let room = self.max.saturating_sub(self.carry.len());
        self.carry.extend_from_slice(&part[..part.len().min(room)]);
        self.carry_len += part.len();
    }

    fn reset(&mut self) {
        self.carry_len = 0;
        if self.carry.capacity() > 1024 * 1024 {
            // An overlong line passed; do not keep its buffer.
            self.carry = Vec::new();
        } else {
            self.carry.clear();
        }
    }
}

/// The line without its newline (and a `\r` before it).
pub fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Limits what reaches the live log, so that a flood of output cannot flood the job log:
/// at most [`LiveBudget::MAX_LINES`] lines, of which at most [`LiveBudget::MAX_TEXT`] are text.
/// One note says when the limit is reached; the transcript always has everything.
#[derive(Debug, Default)]
pub struct LiveBudget {
    lines: usize,
    text: usize,
    text_note: bool,
    full_note: bool,
}

impl LiveBudget {
    pub const MAX_LINES: usize = 5_000;
    pub const MAX_TEXT: usize = 1_000;

    /// Whether a text line would be printed (or the note that text stops).
    pub fn wants_text(&self) -> bool {
        self.lines < Self::MAX_LINES && !self.text_note
    }

    /// Whether a tool or note line would be printed (or the note that the log stops).
    pub fn wants_tools(&self) -> bool {
        !self.full_note
    }

    /// The line to print, if it is within budget (or the note that the budget is spent).
    pub fn admit(&mut self, line: LiveLine) -> Option<String> {
        if self.lines >= Self::MAX_LINES {
            if self.full_note {
                return None;
            }
            self.full_note = true;
            return Some(format!(
                "note: the live log stops after {} lines; the transcript has the rest",
                Self::MAX_LINES
            ));
        }
        let text = match line {
            LiveLine::Tool(s) => format!("tool: {s}"),
            LiveLine::Note(s) => format!("note: {s}"),
            LiveLine::Text(s) => {
                if self.text >= Self::MAX_TEXT {
                    if self.text_note {
                        return None;
                    }
                    self.text_note = true;
                    self.lines += 1;
                    return Some(format!(
                        "note: the live log shows no more text after {} messages; tool calls still follow",
                        Self::MAX_TEXT
                    ));
                }
                self.text += 1;
                format!("text: {s}")
            }
        };
        self.lines += 1;
        Some(text)
    }
}

/// One line of at most `max` characters: whitespace runs become one space, the end is cut
/// with `…`.
pub fn one_line(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max + 4));
    let mut count = 0;
    let mut space = false;
    for c in text.trim().chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
            continue;
        }
        if space {
            if count >= max {
                out.push('…');
                return out;
            }
            out.push(' ');
            count += 1;
            space = false;
        }
        if count >= max {
            out.push('…');
            return out;
        }
        out.push(c);
        count += 1;
    }
    out
}

/// The width of a summary in the live log.
pub const SUMMARY_WIDTH: usize = 160;

/// A one-line summary of a tool call's input: the command, the path, the pattern… whatever
/// says most about it. Paths inside `workdir` are shown relative to it.
pub fn summarize_input(input: &serde_json::Value, workdir: &Path) -> String {
    const KEYS: &[&str] = &[
        "command",
        "cmd",
        "file_path",
        "path",
        "absolute_path",
        "notebook_path",
        "pattern",
        "url",
        "query",
        "description",
        "prompt",
    ];
    if let Some(obj) = input.as_object() {
        for key in KEYS {
            if let Some(value) = obj.get(*key) {
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(" "),
                    other => other.to_string(),
                };
                return one_line(&relative(&text, workdir), SUMMARY_WIDTH);
            }
        }
        if obj.is_empty() {
            return String::new();
        }
    }
    if input.is_null() {
        return String::new();
    }
    one_line(&input.to_string(), SUMMARY_WIDTH)
}

/// `text` with the work directory prefix removed, if it is a path inside it.
pub fn relative(text: &str, workdir: &Path) -> String {
    let dir = workdir.to_string_lossy();
    let dir = dir.trim_end_matches('/');
    match text
        .strip_prefix(dir)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        Some(rest) if !dir.is_empty() => rest.to_string(),
        _ => text.to_string(),
    }
}

/// Keeps at most `max` bytes of text, at a char boundary, with a note when cut.
pub fn cap_text(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… cut: {} more bytes]", &text[..end], text.len() - end)
}

/// The largest final text kept in a report.
pub const MAX_FINAL_TEXT: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_chunks_and_overlong_ones_are_cut() {
        let data: &[u8] = b"short\nxxxxxxxxxxxxxxxxxxxxxxxxy\n\n12345678\nlast-without-newline";
        for chunk_size in [1, 3, 7, 64] {
            let mut splitter = LineSplitter::new(10);
            let mut lines: Vec<(Vec<u8>, bool)> = Vec::new();
            let mut on_line = |line: &[u8], cut: bool| lines.push((line.to_vec(), cut));
            for chunk in data.chunks(chunk_size) {
                splitter.feed(chunk, &mut on_line);
            }
            splitter.finish(&mut on_line);
            let expected: Vec<(Vec<u8>, bool)> = vec![
                (b"short\n".to_vec(), false),
                (b"xxxxxxxxxx".to_vec(), true),
                (b"\n".to_vec(), false),
                (b"12345678\n".to_vec(), false),
                (b"last-witho".to_vec(), true),
            ];
            assert_eq!(lines, expected, "chunks of {chunk_size}");
        }
        // A line of exactly max bytes with its newline is whole.
        let mut splitter = LineSplitter::new(10);
        let mut lines = Vec::new();
        splitter.feed(b"123456789\n", &mut |l: &[u8], cut| {
            lines.push((l.to_vec(), cut))
        });
        assert_eq!(lines, [(b"123456789\n".to_vec(), false)]);
    }

    #[test]
    fn one_line_summaries() {
        assert_eq!(one_line("  a\n\n b\tc  ", 10), "a b c");
        assert_eq!(one_line("abcdefghijkl", 5), "abcde…");
        assert_eq!(one_line("ab cd ef", 5), "ab cd…");
        assert_eq!(one_line("ééééé", 3), "ééé…");
    }

    #[test]
    fn input_summaries_prefer_the_telling_field() {
        let dir = Path::new("/repo");
        let input = serde_json::json!({"file_path": "/repo/src/main.rs", "content": "x"});
        assert_eq!(summarize_input(&input, dir), "src/main.rs");
        let input = serde_json::json!({"command": "git log\n--oneline", "description": "d"});
        assert_eq!(summarize_input(&input, dir), "git log --oneline");
        assert_eq!(
            summarize_input(&serde_json::json!({"x": 1}), dir),
            r#"{"x":1}"#
        );
        assert_eq!(
            summarize_input(&serde_json::json!({"command": ["bash", "-lc", "ls"]}), dir),
            "bash -lc ls"
        );
        assert_eq!(relative("/repository/x", dir), "/repository/x");
    }

    #[test]
    fn the_live_budget_holds() {
        let mut budget = LiveBudget::default();
        let mut printed = 0;
        for i in 0..LiveBudget::MAX_TEXT + 10 {
            if budget.admit(LiveLine::Text(format!("t{i}"))).is_some() {
                printed += 1;
            }
        }
        assert_eq!(printed, LiveBudget::MAX_TEXT + 1);
        assert!(!budget.wants_text() && budget.wants_tools());
        let mut tools = 0;
        for _ in 0..LiveBudget::MAX_LINES * 2 {
            if budget.admit(LiveLine::Tool("Read x".into())).is_some() {
                tools += 1;
            }
        }
        assert_eq!(printed + tools, LiveBudget::MAX_LINES + 1);
        assert!(!budget.wants_text() && !budget.wants_tools());
    }

    #[test]
    fn cap_text_cuts_at_a_char_boundary() {
        assert_eq!(cap_text("abc", 5), "abc");
        assert_eq!(cap_text("ééé", 3), "é\n[… cut: 4 more bytes]");
    }
}
