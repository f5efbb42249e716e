//! A reader for `$GITHUB_OUTPUT` / `$GITHUB_ENV` written to the runner's documented rules, so
//! that tests read the files the way the runner will, not the way oneshot writes them.
//!
//! Rules: the file is UTF-8 lines. A line `name=value` is a plain entry when `=` comes before any
//! `<<`. Otherwise `name<<DELIM` starts a heredoc: the value is every following line up to a line
//! that equals DELIM, joined with newlines, without the final newline. A heredoc whose delimiter
//! never comes fails the step ("Matching delimiter not found"). Empty lines between entries are
//! skipped.

pub fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut entries = Vec::new();
    // The runner splits on "\n" and tolerates "\r\n" (it uses os.EOL on Windows only).
    let mut lines = text.split('\n').peekable();
    // A file ending in a newline yields a final empty piece: not an entry.
    while let Some(line) = lines.next() {
        if line.is_empty() {
            continue;
        }
        let eq = line.find('=');
        let heredoc = line.find("<<");
        match (eq, heredoc) {
            (Some(e), h) if h.is_none_or(|h| e < h) => {
                let name = &line[..e];
                if name.is_empty() {
                    return Err(format!("invalid format {line:?}: empty name"));
                }
                entries.push((name.to_string(), line[e + 1..].to_string()));
            }
            (_, Some(h)) => {
                let name = &line[..h];
                let delimiter = &line[h + 2..];
                if name.is_empty() || delimiter.is_empty() {
                    return Err(format!("invalid format {line:?}"));
                }
                let mut value: Vec<&str> = Vec::new();
                let mut closed = false;
                for next in lines.by_ref() {
                    if next == delimiter {
                        closed = true;
                        break;
                    }
                    value.push(next);
                }
                if !closed {
                    return Err(format!("Matching delimiter not found '{delimiter}'"));
                }
                entries.push((name.to_string(), value.join("\n")));
            }
            _ => return Err(format!("invalid format {line:?}")),
        }
    }
    Ok(entries)
}

/// The last value set for `name` (later entries win, as in the runner).
pub fn get(entries: &[(String, String)], name: &str) -> Option<String> {
    entries
        .iter()
        .rev()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

#[test]
fn parser_follows_the_runner_rules() {
    let text = "a=1\nb<<X\nline1\nline2\nX\nc=x<<y\n\nd<<EOF\n\nEOF\n";
    let entries = parse(text).unwrap();
    assert_eq!(
        entries,
        vec![
            ("a".into(), "1".into()),
            ("b".into(), "line1\nline2".into()),
            ("c".into(), "x<<y".into()),
            ("d".into(), "".into()),
        ]
    );
    assert!(
        parse("a<<X\nvalue\n")
            .unwrap_err()
            .contains("Matching delimiter")
    );
    // A value without a trailing newline glues the delimiter to its last line: a classic bug.
    assert!(parse("a<<X\nvalueX\n").is_err());
}
