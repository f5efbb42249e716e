//! Which agent runs a session (`claude`, `codex`, `gemini` or `command:<program> [args…]`) and
//! which model it uses.

use std::fmt;

use crate::error::{Error, Result};

/// The agent that runs a session, parsed from `--agent`, the workflow input `agent` or the
/// config key `agent`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum AgentSpec {
    /// Claude Code (`claude`), the default.
    #[default]
    Claude,
    /// OpenAI Codex CLI (`codex exec`).
    Codex,
    /// Gemini CLI (`gemini`).
    Gemini,
    /// Any program: `command:<program> [args…]`, split like a shell would split it but without
    /// a shell (no expansion, no redirection). The prompt arrives on stdin, or as a file path
    /// where an argument contains `{prompt_file}`. Success is judged by the exit code.
    Command { program: String, args: Vec<String> },
}

/// The names accepted by [`AgentSpec::parse`], for error messages and help.
pub const AGENT_CHOICES: &str = "claude, codex, gemini, or command:<program> [args…]";

impl AgentSpec {
    pub fn parse(text: &str) -> Result<Self> {
        let trimmed = text.trim();
        if let Some(rest) = strip_prefix_ignore_case(trimmed, "command:") {
            let words = shlex::split(rest).ok_or_else(|| {
                Error::input(format!(
                    "invalid agent command {rest:?}: a quote is not closed"
                ))
                .hint("quote arguments like a shell would: command:my-agent --flag \"two words\"")
            })?;
            let mut words = words.into_iter();
            let Some(program) = words.next().filter(|p| !p.is_empty()) else {
                return Err(Error::input("the agent `command:` names no program")
                    .hint("write the program and its arguments after `command:`, e.g. command:my-agent --prompt-file {prompt_file}"));
            };
            return Ok(AgentSpec::Command {
                program,
                args: words.collect(),
            });
        }
        match trimmed.to_ascii_lowercase().as_str() {
            "claude" => Ok(AgentSpec::Claude),
            "codex" => Ok(AgentSpec::Codex),
            "gemini" => Ok(AgentSpec::Gemini),
            _ => Err(Error::input(format!("unknown agent {trimmed:?}"))
                .hint(format!("valid agents: {AGENT_CHOICES}"))),
        }
    }

    /// The short name used in logs, reports and the step summary.
    pub fn name(&self) -> &str {
        match self {
            AgentSpec::Claude => "claude",
            AgentSpec::Codex => "codex",
            AgentSpec::Gemini => "gemini",
            AgentSpec::Command { .. } => "command",
        }
    }

    /// Resolves a model name given by the user to the name this agent understands.
    ///
    /// Shortcuts `h`/`haiku`, `s`/`sonnet`, `o`/`opus` (any case) map through [`MODEL_TABLE`].
    /// (a `command:` agent gets the spelled-out shortcut, `haiku`/`sonnet`/`opus`). Any other
    /// name is passed through when the agent is not `claude`, or when it looks like a full
    /// Claude model id (`claude-…`, also with a Bedrock or Vertex prefix or suffix).
    pub fn resolve_model(&self, model: &str) -> Result<String> {
        let name = model.trim();
        if let Some(tier) = ModelTier::from_shortcut(name) {
            return Ok(tier.model_for(self).to_string());
        }
        let plausible = !name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '-' | '.' | '_' | ':' | '@' | '/' | '[' | ']')
            });
        let accepted = plausible
            && match self {
                AgentSpec::Claude => looks_like_claude_id(name),
                _ => true,
            };
        if accepted {
            return Ok(name.to_string());
        }
        let mut err = Error::input(format!(
            "unknown model {name:?} for the agent {}",
            self.name()
        ));
        err = match self {
            AgentSpec::Claude => err.hint(
                "valid models: h or haiku, s or sonnet, o or opus (any case), or a full model id such as claude-sonnet-4-5",
            ),
            _ => err.hint(
                "valid models: h or haiku, s or sonnet, o or opus (any case), or the agent's own model name \
                 (letters, digits and - . _ : @ / only)",
            ),
        };
        Err(err)
    }
}

impl fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentSpec::Command { program, args } => {
                let words =
                    std::iter::once(program.as_str()).chain(args.iter().map(String::as_str));
                let joined = shlex::try_join(words).unwrap_or_else(|_| program.clone());
                write!(f, "command:{joined}")
            }
            other => f.write_str(other.name()),
        }
    }
}

/// The model sizes the shortcuts name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelTier {
    Small,
    Medium,
    Large,
}

/// The one table from shortcut to each agent's model name. Claude Code and Gemini CLI accept
/// aliases that always mean their newest model of that size, so those are used; Codex takes
/// concrete names, which must be in the model catalog of the pinned codex (0.169.0: `codex
/// debug models --bundled`), or codex falls back to generic metadata and loses tools. Small is
/// its "fast and affordable" model, medium its default workhorse, large its "frontier" one.
pub const MODEL_TABLE: &[(ModelTier, &str, &str, &str)] = &[
    // tier,            claude,   codex,          gemini
    (ModelTier::Small, "haiku", "gpt-6-luna", "flash-lite"),
    (ModelTier::Medium, "sonnet", "gpt-6.1-sol", "flash"),
    (ModelTier::Large, "opus", "gpt-6-astra", "pro"),
];

impl ModelTier {
    pub fn from_shortcut(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "h" | "haiku" => Some(ModelTier::Small),
            "s" | "sonnet" => Some(ModelTier::Medium),
            "o" | "opus" => Some(ModelTier::Large),
            _ => None,
        }
    }

    fn model_for(self, agent: &AgentSpec) -> &'static str {
        let row = MODEL_TABLE
            .iter()
            .find(|row| row.0 == self)
            .expect("every tier has a row");
        match agent {
            AgentSpec::Claude | AgentSpec::Command { .. } => row.1,
            AgentSpec::Codex => row.2,
            AgentSpec::Gemini => row.3,
        }
    }
}

/// `claude-…`, or a provider's form of it: `us.anthropic.claude-…` (Bedrock),
/// `claude-…@20250929` (Vertex).
fn looks_like_claude_id(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let id = lower.rsplit(['.', '/']).next().unwrap_or(&lower);
    id.starts_with("claude-") && id.len() > "claude-".len()
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_named_agents() {
        assert_eq!(AgentSpec::parse("claude").unwrap(), AgentSpec::Claude);
        assert_eq!(AgentSpec::parse(" Codex ").unwrap(), AgentSpec::Codex);
        assert_eq!(AgentSpec::parse("GEMINI").unwrap(), AgentSpec::Gemini);
    }

    #[test]
    fn parses_a_command_with_quotes_and_no_shell() {
        let spec =
            AgentSpec::parse(r#"command:my-agent --name "two words" 'a;b' $HOME {prompt_file}"#)
                .unwrap();
        assert_eq!(
            spec,
            AgentSpec::Command {
                program: "my-agent".into(),
                args: vec![
                    "--name".into(),
                    "two words".into(),
                    "a;b".into(),
                    "$HOME".into(),
                    "{prompt_file}".into()
                ],
            }
        );
        assert_eq!(
            spec.to_string(),
            "command:my-agent --name 'two words' 'a;b' '$HOME' '{prompt_file}'"
        );
        assert_eq!(spec.name(), "command");
    }

    #[test]
    fn bad_agents_list_the_choices() {
        for bad in ["", "gpt", "command:", "command:  ", "command:a \"unclosed"] {
            let err = AgentSpec::parse(bad).unwrap_err();
            assert_eq!(err.kind, crate::error::ErrorKind::InvalidInput, "{bad}");
            assert!(!err.hints.is_empty(), "{bad}");
        }
        let err = AgentSpec::parse("gpt").unwrap_err();
        assert!(
            err.hints[0].contains("claude, codex, gemini, or command:"),
            "{:?}",
            err.hints
        );
    }

    #[test]
    fn shortcuts_map_through_the_table() {
        let cases = [
            (AgentSpec::Claude, "h", "haiku"),
            (AgentSpec::Claude, "SONNET", "sonnet"),
            (AgentSpec::Claude, "O", "opus"),
            (AgentSpec::Codex, "h", "gpt-6-luna"),
            (AgentSpec::Codex, "s", "gpt-6.1-sol"),
            (AgentSpec::Codex, "opus", "gpt-6-astra"),
            (AgentSpec::Gemini, "Haiku", "flash-lite"),
            (AgentSpec::Gemini, "o", "pro"),
        ];
        for (agent, given, expected) in cases {
            assert_eq!(
                agent.resolve_model(given).unwrap(),
                expected,
                "{agent} {given}"
            );
        }
    }

    #[test]
    fn full_ids_pass_for_claude_any_name_for_others() {
        let claude = AgentSpec::Claude;
        for id in [
            "claude-sonnet-4-5",
            "claude-opus-4-1-20250805",
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "claude-opus-4-1@20250805",
        ] {
            assert_eq!(claude.resolve_model(id).unwrap(), id);
        }
        for bad in [
            "gpt-5",
            "claude-",
            "sonnet-4",
            "claude sonnet",
            "",
            "x".repeat(200).as_str(),
        ] {
            let err = claude.resolve_model(bad).unwrap_err();
            assert!(err.hints[0].contains("h or haiku"), "{bad}");
        }
        assert_eq!(
            AgentSpec::Codex.resolve_model("gpt-5-codex").unwrap(),
            "gpt-5-codex"
        );
        assert_eq!(
            AgentSpec::Gemini.resolve_model("gemini-2.5-pro").unwrap(),
            "gemini-2.5-pro"
        );
        assert!(AgentSpec::Gemini.resolve_model("two words").is_err());
        let command = AgentSpec::parse("command:x").unwrap();
        // A command gets the shortcut spelled out; what it means is up to the command.
        assert_eq!(command.resolve_model("s").unwrap(), "sonnet");
        assert_eq!(
            command.resolve_model("local/llama-3:8b").unwrap(),
            "local/llama-3:8b"
        );
    }
}
