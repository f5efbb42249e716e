//! Hidden markers in issue, PR and comment bodies (DESIGN.md §3 "Hidden markers").
//!
//! They make every GitHub write idempotent: a re-run finds its own artifacts through them and
//! updates them. Humans may edit around them; everything outside a marked region is kept.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const META_PREFIX: &str = "<!-- oneshot:meta ";
pub const MARKER_SUFFIX: &str = " -->";
pub const PROGRESS_START: &str = "<!-- oneshot:progress:start -->";
pub const PROGRESS_END: &str = "<!-- oneshot:progress:end -->";
pub const BODY_START: &str = "<!-- oneshot:body:start -->";
pub const BODY_END: &str = "<!-- oneshot:body:end -->";

/// The metadata oneshot keeps in a plan issue or PR body, as `<!-- oneshot:meta {json} -->`.
/// Unknown fields are kept, so an older binary does not drop what a newer one wrote.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    pub v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pr: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepRecord>,
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

impl Meta {
    pub fn new() -> Self {
        Meta {
            v: 1,
            ..Default::default()
        }
    }
}

/// One step's state as recorded in the PR's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub number: u32,
    pub title: String,
    pub state: StepState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl StepRecord {
    /// A step that has not run yet.
    pub fn queued(number: u32, title: &str) -> Self {
        StepRecord {
            number,
            title: title.to_string(),
            state: StepState::Queued,
            duration_s: None,
            cost_usd: None,
            commit: None,
            note: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepState {
    NotStarted,
    Queued,
    InProgress,
    Done,
    Failed,
}

impl StepState {
    pub fn label(self) -> &'static str {
        match self {
            StepState::NotStarted => "not started",
            StepState::Queued => "queued",
            StepState::InProgress => "in progress",
            StepState::Done => "done",
            StepState::Failed => "failed",
        }
    }

    fn icon(self) -> &'static str {
        match self {
            StepState::NotStarted => "⬜",
            StepState::Queued => "🕓",
            StepState::InProgress => "🔄",
            StepState::Done => "✅",
            StepState::Failed => "❌",
        }
    }
}

/// `<!-- oneshot:meta {json} -->`. `>` is written as `\u003e` so that no value can close the
/// comment early (a branch name or title containing `-->`).
pub fn render_meta(meta: &Meta) -> String {
    let json = serde_json::to_string(meta).unwrap_or_else(|_| "{\"v\":1}".into());
    format!(
        "{META_PREFIX}{}{MARKER_SUFFIX}",
        json.replace('>', "\\u003e")
    )
}

/// The metadata in `body`, if it has a well-formed marker. A damaged marker (a human edit)
/// counts as none; the caller then rebuilds it.
pub fn parse_meta(body: &str) -> Option<Meta> {
    let (_, json) = find_meta(body)?;
    serde_json::from_str::<Meta>(json).ok()
}

/// The byte range of the whole marker and the JSON inside it.
/// The last marker counts: oneshot writes its own after any text it quotes, so a marker that a
/// plan or a person's text imitates earlier in the body is never taken for it.
fn find_meta(body: &str) -> Option<(std::ops::Range<usize>, &str)> {
    let start = body.rfind(META_PREFIX)?;
    let json_start = start + META_PREFIX.len();
    let end_rel = body[json_start..].find(MARKER_SUFFIX)?;
    let json = &body[json_start..json_start + end_rel];
    Some((start..json_start + end_rel + MARKER_SUFFIX.len(), json))
}

/// `body` with its meta marker replaced by `meta` (appended at the end when it has none).
pub fn set_meta(body: &str, meta: &Meta) -> String {
    let marker = render_meta(meta);
    match find_meta(body) {
        Some((range, _)) => format!("{}{marker}{}", &body[..range.start], &body[range.end..]),
        None if body.is_empty() => marker,
        None => format!("{}\n\n{marker}", body.trim_end()),
    }
}

/// The text before the meta marker: for a plan issue, the plan as the human sees and edits it.
pub fn before_meta(body: &str) -> &str {
    match find_meta(body) {
        Some((range, _)) => &body[..range.start],
        None => body,
    }
}

/// Replaces the region between `start` and `end` (markers included) with `content` wrapped in
/// the same markers; appends the region when the body has none. Text outside is kept.
pub fn replace_region(body: &str, start: &str, end: &str, content: &str) -> String {
    let region = format!("{start}\n{}\n{end}", content.trim_end_matches('\n'));
    if let Some(s) = body.find(start)
        && let Some(e_rel) = body[s..].find(end)
    {
        let e = s + e_rel + end.len();
        return format!("{}{region}{}", &body[..s], &body[e..]);
    }
    if body.trim().is_empty() {
        region
    } else {
        format!("{region}\n\n{}", body.trim_start())
    }
}

/// The first line of a comment oneshot owns: `<!-- oneshot:comment:<kind> -->`.
pub fn comment_marker(kind: &str) -> String {
    format!("<!-- oneshot:comment:{kind} -->")
}

/// The progress block's lines (without the markers): one line per step with its state, time and cost.
pub fn render_progress(steps: &[StepRecord]) -> String {
    let mut out = String::new();
    for step in steps {
        let mut line = format!(
            "- {} **Step {}: {}** — {}",
            step.state.icon(),
            step.number,
            escape_inline(&step.title),
            step.state.label()
        );
        let mut facts = Vec::new();
        if let Some(d) = step.duration_s {
            facts.push(format_duration(d));
        }
        if let Some(c) = step.cost_usd {
            facts.push(format!("${c:.2}"));
        }
        if let Some(commit) = &step.commit {
            facts.push(commit.chars().take(7).collect());
        }
        if !facts.is_empty() {
            line.push_str(&format!(" ({})", facts.join(", ")));
        }
        if let Some(note) = &step.note {
            line.push_str(&format!(": {}", escape_inline(note)));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// `1m 05s`, `42s`, `1h 02m`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `text` as a Markdown code block whose fence is longer than any run of backticks inside it,
/// so the text is shown exactly as it is (a patch stays applicable when copied).
pub fn code_block(text: &str, lang: &str) -> String {
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}", text.trim_end_matches('\n'))
}

/// Keeps user text on one line and unable to open an HTML comment or close ours.
pub fn escape_inline(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
        .replace("<!--", "&lt;!--")
        .replace("-->", "--&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The content between two markers, if both are there.
    fn region<'a>(body: &'a str, start: &str, end: &str) -> Option<&'a str> {
        let s = body.find(start)? + start.len();
        let e = body[s..].find(end)? + s;
        Some(body[s..e].trim_matches('\n'))
    }

    fn sample() -> Meta {
        Meta {
            branch: Some("oneshot-x-->y".into()),
            pr: Some(7),
            ..Meta::new()
        }
    }

    #[test]
    fn meta_round_trips_and_cannot_close_the_comment_early() {
        let body = set_meta("Human text", &sample());
        assert_eq!(body.matches("-->").count(), 1, "{body}");
        assert_eq!(parse_meta(&body), Some(sample()));
        assert!(body.starts_with("Human text\n\n<!-- oneshot:meta "));
    }

    #[test]
    fn set_meta_replaces_in_place_and_keeps_text_around() {
        let body = format!("before\n{}\nafter", render_meta(&Meta::new()));
        let updated = set_meta(&body, &sample());
        assert!(updated.starts_with("before\n<!-- oneshot:meta "));
        assert!(updated.ends_with(" -->\nafter"));
        assert_eq!(parse_meta(&updated), Some(sample()));
    }

    #[test]
    fn unknown_meta_fields_are_kept() {
        let body = r#"<!-- oneshot:meta {"v":1,"future":{"x":1}} -->"#;
        let meta = parse_meta(body).unwrap();
        assert!(render_meta(&meta).contains(r#""future":{"x":1}"#));
    }

    #[test]
    fn damaged_meta_is_none() {
        assert_eq!(parse_meta("<!-- oneshot:meta {not json -->"), None);
        assert_eq!(parse_meta("<!-- oneshot:meta {\"v\":1}"), None);
        assert_eq!(parse_meta("no marker"), None);
    }

    #[test]
    fn regions_are_replaced_or_added() {
        let body =
            "intro\n<!-- oneshot:progress:start -->\nold\n<!-- oneshot:progress:end -->\noutro";
        let updated = replace_region(body, PROGRESS_START, PROGRESS_END, "new\n");
        assert_eq!(
            updated,
            "intro\n<!-- oneshot:progress:start -->\nnew\n<!-- oneshot:progress:end -->\noutro"
        );
        assert_eq!(region(&updated, PROGRESS_START, PROGRESS_END), Some("new"));
        let added = replace_region("human", BODY_START, BODY_END, "ours");
        assert_eq!(
            added,
            "<!-- oneshot:body:start -->\nours\n<!-- oneshot:body:end -->\n\nhuman"
        );
    }

    #[test]
    fn code_blocks_outgrow_the_backticks_inside() {
        assert_eq!(code_block("a\n", "text"), "```text\na\n```");
        assert_eq!(
            code_block("+```rust\n+x\n", "diff"),
            "````diff\n+```rust\n+x\n````"
        );
        assert_eq!(code_block("`````", ""), "``````\n`````\n``````");
    }

    #[test]
    fn progress_lines() {
        let steps = vec![
            StepRecord {
                number: 1,
                title: "Add <!-- flag".into(),
                state: StepState::Done,
                duration_s: Some(65.0),
                cost_usd: Some(0.1234),
                commit: Some("abcdef0123".into()),
                note: None,
            },
            StepRecord {
                number: 2,
                title: "Test".into(),
                state: StepState::Queued,
                duration_s: None,
                cost_usd: None,
                commit: None,
                note: None,
            },
        ];
        assert_eq!(
            render_progress(&steps),
            "- ✅ **Step 1: Add &lt;!-- flag** — done (1m 05s, $0.12, abcdef0)\n- 🕓 **Step 2: Test** — queued\n"
        );
    }
}
