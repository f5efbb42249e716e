//! Where a one-shot keeps its plan and shows its progress: the "tracker".
//!
//! In CI that is GitHub (the plan issue, the PR body's progress block, oneshot's comments); for
//! `oneshot run` it is a local plan store under `.git/oneshot/`. The implement steps talk only to
//! this trait, so the step logic is the same code in both places.

pub mod github;
pub mod local;

use crate::error::Result;
use crate::markers::StepRecord;
use crate::plan::Plan;

/// The plan as the tracker holds it (a human may have edited it).
#[derive(Debug, Clone)]
pub struct PlanRecord {
    /// The Markdown of the plan.
    pub text: String,
    pub plan: Plan,
    /// The branch the plan belongs to, when the tracker records it.
    pub branch: Option<String>,
}

/// What failed, for the failure report.
#[derive(Debug, Clone)]
pub struct FailureReport {
    pub step: u32,
    pub step_title: String,
    /// One line: what went wrong.
    pub cause: String,
    /// The last part of the agent's output (final text or stderr), if any.
    pub agent_output: Option<String>,
    /// The step's unpushed changes as a patch, when small enough to show.
    pub diff: Option<String>,
    /// Where the full patch and the transcripts are kept.
    pub artifacts_note: Option<String>,
    /// The exact command or workflow input that continues from the failed step.
    pub resume: String,
}

/// What the finished one-shot did, for the completion summary.
#[derive(Debug, Clone)]
pub struct Completion {
    pub steps: Vec<StepRecord>,
    /// `git diff --stat` of the whole change.
    pub diffstat: String,
    pub files_changed: usize,
    pub duration_s: f64,
    pub cost_usd: f64,
}

pub trait Tracker {
    /// The plan to implement.
    fn plan(&mut self) -> Result<PlanRecord>;

    /// The recorded state of every step (empty when none was recorded yet).
    fn recorded_steps(&mut self) -> Result<Vec<StepRecord>>;

    /// Records every step's state and shows it (the PR's progress block).
    fn set_progress(&mut self, steps: &[StepRecord]) -> Result<()>;

    /// Tells the people watching what failed and how to resume; one report, updated in place.
    fn report_failure(&mut self, failure: &FailureReport) -> Result<()>;

    /// Marks the work finished: ready for review, with the summary.
    fn complete(&mut self, completion: &Completion) -> Result<()>;
}

/// The plan's steps with the states recorded for them. A step a human added or renamed in the
/// plan starts `queued`; steps the plan no longer has are dropped.
pub fn merge_states(plan: &Plan, recorded: &[StepRecord]) -> Vec<StepRecord> {
    plan.steps
        .iter()
        .map(|step| {
            match recorded
                .iter()
                .find(|r| r.number == step.number && r.title == step.title)
            {
                Some(r) => r.clone(),
                None => StepRecord::queued(step.number, &step.title),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::markers::StepState;
    use crate::plan::Step;

    #[test]
    fn states_follow_the_plan() {
        let plan = Plan {
            title: "T".into(),
            summary: String::new(),
            steps: vec![
                Step {
                    number: 1,
                    title: "A".into(),
                    body: "x".into(),
                },
                Step {
                    number: 2,
                    title: "B (edited)".into(),
                    body: "y".into(),
                },
            ],
        };
        let recorded = vec![
            StepRecord {
                number: 1,
                title: "A".into(),
                state: StepState::Done,
                duration_s: Some(1.0),
                cost_usd: None,
                commit: None,
                note: None,
            },
            StepRecord {
                number: 2,
                title: "B".into(),
                state: StepState::Failed,
                duration_s: None,
                cost_usd: None,
                commit: None,
                note: None,
            },
            StepRecord {
                number: 3,
                title: "C".into(),
                state: StepState::Done,
                duration_s: None,
                cost_usd: None,
                commit: None,
                note: None,
            },
        ];
        let merged = merge_states(&plan, &recorded);
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].state, StepState::Done);
        assert_eq!(merged[1].state, StepState::Queued);
        assert_eq!(merged[1].title, "B (edited)");
    }
}
