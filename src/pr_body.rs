//! The part of the pull request body that oneshot owns, between `oneshot:body` markers, and the
//! hidden metadata. Text a person writes outside the markers is kept on every rewrite.
//! `dispatch` writes the first version, `register-one-shot-plan` the planned one, and the
//! implement steps only replace the progress block inside it.

use crate::markers::{self, BODY_END, BODY_START, Meta, PROGRESS_END, PROGRESS_START, StepRecord};

/// The prompt is quoted in full up to this many characters; the full text is on the branch
/// (`.worker-impl/task.md`) and in the plan issue.
const PROMPT_QUOTE_LIMIT: usize = 4000;

/// What the owned section shows.
#[derive(Debug, Default)]
pub struct Section<'a> {
    pub prompt: &'a str,
    pub issue: Option<u64>,
    pub run_url: Option<&'a str>,
    pub submitted_by: Option<&'a str>,
    pub agent: Option<&'a str>,
    pub model: Option<&'a str>,
    pub steps: &'a [StepRecord],
    /// A line shown when there are no steps yet ("Planning…").
    pub status: Option<&'a str>,
}

/// The owned section's Markdown (without the body markers): blocks separated by blank lines.
pub fn render_section(s: &Section) -> String {
    let mut blocks = vec![format!("## Task\n\n{}", quote(s.prompt).trim_end())];

    let mut facts = Vec::new();
    if let Some(issue) = s.issue {
        facts.push(format!("**Plan:** #{issue}"));
    }
    if let Some(url) = s.run_url {
        facts.push(format!("**Run:** [workflow run]({url})"));
    }
    if let Some(who) = s.submitted_by.filter(|w| !w.is_empty()) {
        facts.push(format!(
            "**Submitted by:** @{}",
            markers::escape_inline(who)
        ));
    }
    if let Some(agent) = s.agent.filter(|a| !a.is_empty()) {
        let model = s
            .model
            .filter(|m| !m.is_empty())
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        facts.push(format!(
            "**Agent:** {}{}",
            markers::escape_inline(agent),
            markers::escape_inline(&model)
        ));
    }
    if !facts.is_empty() {
        blocks.push(facts.join(" · "));
    }
    if let Some(issue) = s.issue {
        blocks.push(format!("Closes #{issue}"));
    }

    let progress = if s.steps.is_empty() {
        format!("_{}_\n", s.status.unwrap_or("Planning…"))
    } else {
        markers::render_progress(s.steps)
    };
    blocks.push(format!(
        "## Progress\n\n{PROGRESS_START}\n{progress}{PROGRESS_END}"
    ));
    blocks.join("\n\n") + "\n"
}

/// `body` with the owned section and the metadata replaced; everything else kept.
pub fn apply(body: &str, section: &Section, meta: &Meta) -> String {
    let with_section =
        markers::replace_region(body, BODY_START, BODY_END, &render_section(section));
    markers::set_meta(&with_section, meta)
}

/// `body` with only the progress block replaced (used while steps run).
pub fn update_progress(body: &str, steps: &[StepRecord], meta: &Meta) -> String {
    let with_progress = markers::replace_region(
        body,
        PROGRESS_START,
        PROGRESS_END,
        &markers::render_progress(steps),
    );
    markers::set_meta(&with_progress, meta)
}

/// The prompt as a Markdown quote that cannot open or close an HTML comment.
fn quote(prompt: &str) -> String {
    let mut text: String = prompt.trim().chars().take(PROMPT_QUOTE_LIMIT).collect();
    let cut = text.len() < prompt.trim().len();
    text = text.replace("<!--", "&lt;!--").replace("-->", "--&gt;");
    let mut out: String = text.lines().map(|l| format!("> {l}\n")).collect();
    if cut {
        out.push_str("> …\n>\n> _(shortened; the full task is in `.worker-impl/task.md` and the plan issue)_\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::StepState;

    fn steps() -> Vec<StepRecord> {
        vec![StepRecord {
            number: 1,
            title: "Add flag".into(),
            state: StepState::Queued,
            duration_s: None,
            cost_usd: None,
            commit: None,
            note: None,
        }]
    }

    #[test]
    fn human_text_outside_the_markers_is_kept() {
        let section = Section {
            prompt: "Add a flag\n<!-- sneaky -->",
            issue: Some(43),
            ..Default::default()
        };
        let first = apply("", &section, &Meta::new());
        let edited = format!("A reviewer's note.\n\n{first}\n\nMore notes.");
        let steps = steps();
        let second = apply(
            &edited,
            &Section {
                steps: &steps,
                ..section
            },
            &Meta::new(),
        );
        assert!(second.starts_with("A reviewer's note.\n\n<!-- oneshot:body:start -->"));
        assert!(second.contains("More notes."));
        assert!(second.contains("**Step 1: Add flag** — queued"));
        assert!(second.contains("Closes #43"));
        assert!(second.contains("&lt;!-- sneaky --&gt;"));
        assert_eq!(second.matches("oneshot:meta").count(), 1);
    }

    #[test]
    fn progress_update_touches_only_the_progress_block() {
        let steps = steps();
        let body = apply(
            "note",
            &Section {
                prompt: "p",
                steps: &steps,
                ..Default::default()
            },
            &Meta::new(),
        );
        let mut done = steps.clone();
        done[0].state = StepState::Done;
        let updated = update_progress(&body, &done, &Meta::new());
        assert!(updated.contains("— done"));
        assert!(updated.contains("## Task"));
        assert!(updated.ends_with(&markers::render_meta(&Meta::new())));
    }

    #[test]
    fn long_prompts_are_shortened() {
        let long = "x".repeat(PROMPT_QUOTE_LIMIT + 10);
        assert!(quote(&long).contains("shortened"));
    }
}
