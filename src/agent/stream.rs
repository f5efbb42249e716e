//! Reading an agent's output: lines of bounded length, the live log, and what each adapter's
//! parser hands back.

use std::io::{self, BufRead};
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

/// Turns an agent's output lines into live-log lines and, at the end, a [`Parsed`] result.
/// Every parser must accept any bytes: non-JSON lines, cut lines and unknown events.
pub trait StreamParser: Send {
    /// One line without its newline; `cut` when it was longer than [`MAX_LINE`]. Returns
    /// whether the line was an event the parser could read.
    fn line(&mut self, line: &[u8], cut: bool, live: &mut dyn FnMut(LiveLine)) -> bool;
    fn finish(self: Box<Self>, exit: ExitInfo) -> Parsed;
}

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

/// Reads one line of at most `max` bytes into `buf` (cleared first), the newline included.
/// A longer line is cut: the rest of it is read in chunks and dropped. `seen` gets every byte
/// read, in order (the kept part, then the dropped chunks), e.g. for a transcript.
/// Returns `(bytes read, cut)`; 0 bytes means end of output.
pub fn read_bounded_line<R: BufRead>(
    reader: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
    mut seen: impl FnMut(&[u8]),
) -> io::Result<(usize, bool)> {
    buf.clear();
    let n = read_until_retrying(&mut io::Read::take(&mut *reader, max as u64), buf)?;
    if n > 0 {
        seen(buf);
    }
    if n < max || buf.last() == Some(&b'\n') {
        return Ok((n, false));
    }
    let mut total = n;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        let (used, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        seen(&chunk[..used]);
        reader.consume(used);
        total += used;
        if done {
            break;
        }
    }
    Ok((total, true))
}

fn read_until_retrying<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>) -> io::Result<usize> {
    loop {
        match reader.read_until(b'\n', buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
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
    fn bounded_lines() {
        let data = b"short\nxxxxxxxxxxxxxxxxxxxxxxxxy\nlast-without-newline";
        let mut reader = io::BufReader::with_capacity(4, &data[..]);
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        let read = |reader: &mut io::BufReader<&[u8]>, buf: &mut Vec<u8>, seen: &mut Vec<u8>| {
            read_bounded_line(reader, buf, 10, |s| seen.extend_from_slice(s)).unwrap()
        };
        assert_eq!(read(&mut reader, &mut buf, &mut seen), (6, false));
        assert_eq!(buf, b"short\n");
        assert_eq!(read(&mut reader, &mut buf, &mut seen), (26, true));
        assert_eq!(buf, b"xxxxxxxxxx");
        assert_eq!(read(&mut reader, &mut buf, &mut seen), (20, true));
        assert_eq!(buf, b"last-witho");
        assert_eq!(read(&mut reader, &mut buf, &mut seen), (0, false));
        // Every byte passed through `seen`, in order.
        assert_eq!(seen, data);
        // A line of exactly max bytes with its newline is complete.
        let mut reader = io::BufReader::new(&b"123456789\nx"[..]);
        assert_eq!(read(&mut reader, &mut buf, &mut seen), (10, false));
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
        let mut tools = 0;
        for _ in 0..LiveBudget::MAX_LINES * 2 {
            if budget.admit(LiveLine::Tool("Read x".into())).is_some() {
                tools += 1;
            }
        }
        assert_eq!(printed + tools, LiveBudget::MAX_LINES + 1);
    }

    #[test]
    fn cap_text_cuts_at_a_char_boundary() {
        assert_eq!(cap_text("abc", 5), "abc");
        assert_eq!(cap_text("ééé", 3), "é\n[… cut: 4 more bytes]");
    }
}
