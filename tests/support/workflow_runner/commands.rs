//! Workflow commands in a step's output (`::notice title=T::message`), read as the runner reads
//! them: one per line, on stdout or stderr, escapes undone, `::stop-commands::TOKEN` honoured.
//! Commands the runner has disabled (`set-output`, `set-env`, `add-path`, `save-state`) are
//! errors here, as they fail or warn on GitHub.

/// An annotation or another command a step wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command {
    /// `error`, `warning`, `notice`, `debug`, `group`, `endgroup`, `add-mask`.
    pub name: String,
    pub properties: Vec<(String, String)>,
    pub message: String,
}

impl Command {
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn is_annotation(&self) -> bool {
        matches!(self.name.as_str(), "error" | "warning" | "notice")
    }
}

const KNOWN: &[&str] = &[
    "error",
    "warning",
    "notice",
    "debug",
    "group",
    "endgroup",
    "add-mask",
    "add-matcher",
    "remove-matcher",
    "echo",
];

/// The commands in `text` (one stream of a step's output). `Err` for a disabled or unknown
/// command.
pub fn parse(text: &str) -> Result<Vec<Command>, String> {
    let mut out = Vec::new();
    let mut stopped: Option<String> = None;
    for line in text.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("::") else {
            continue;
        };
        let Some((head, message)) = rest.split_once("::") else {
            continue;
        };
        let (name, props) = match head.split_once(' ') {
            Some((n, p)) => (n, p),
            None => (head, ""),
        };
        if let Some(token) = &stopped {
            if name == token {
                stopped = None;
            }
            continue;
        }
        if name == "stop-commands" {
            stopped = Some(message.to_string());
            continue;
        }
        if matches!(name, "set-output" | "set-env" | "add-path" | "save-state") {
            return Err(format!(
                "the `{name}` command is disabled on GitHub; use the environment files (line: {line})"
            ));
        }
        if !KNOWN.contains(&name) {
            return Err(format!("unknown workflow command `{name}` (line: {line})"));
        }
        let properties = props
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.trim().to_string(), unescape_property(v))
            })
            .collect();
        out.push(Command {
            name: name.to_string(),
            properties,
            message: unescape_data(message),
        });
    }
    Ok(out)
}

fn unescape_data(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%25", "%")
}

fn unescape_property(text: &str) -> String {
    text.replace("%0D", "\r")
        .replace("%0A", "\n")
        .replace("%3A", ":")
        .replace("%2C", ",")
        .replace("%25", "%")
}

#[test]
fn commands_are_read_like_the_runner() {
    let text = "plain\n::notice title=Plan%3A rejected,file=a.rs::The task%0Awas 100%25 vague\n::stop-commands::tok\n::error::ignored\n::tok::\n::warning::back\n";
    let commands = parse(text).unwrap();
    assert_eq!(commands.len(), 2);
    assert_eq!(commands[0].name, "notice");
    assert_eq!(commands[0].property("title"), Some("Plan: rejected"));
    assert_eq!(commands[0].message, "The task\nwas 100% vague");
    assert_eq!(commands[1].message, "back");
    assert!(parse("::set-output name=a::b\n").is_err());
}
