//! `oneshot exec <step>`: one file per workflow step. A step returns its outputs; this module
//! publishes them (to $GITHUB_OUTPUT in Actions, as JSON on stdout elsewhere).

mod close_rejected;
pub mod detect_trunk;
mod fetch_plan;
mod finalize;
mod install_agent;
mod plan_failed;
mod plan_save_to_issue;
mod prepare;
mod register_one_shot_plan;
mod run_implement;
pub mod run_plan;
pub mod validate_outputs;
mod write_prompt;

use super::Context;
use crate::cli::ExecCommand;
use crate::error::Result;

pub fn run(step: ExecCommand, ctx: &Context) -> Result<()> {
    let outputs = match step {
        ExecCommand::WritePrompt(args) => write_prompt::run(&args, ctx)?,
        ExecCommand::DetectTrunk(args) => detect_trunk::run(&args, ctx)?,
        ExecCommand::ValidateOutputs(args) => validate_outputs::run(&args, ctx)?,
        ExecCommand::RunPlan(args) => run_plan::run(&args, ctx)?,
        ExecCommand::Prepare(args) => prepare::run(&args, ctx)?,
        ExecCommand::FetchPlan(args) => fetch_plan::run(&args, ctx)?,
        ExecCommand::RunImplement(args) => run_implement::run(&args, ctx)?,
        ExecCommand::Finalize(args) => finalize::run(&args, ctx)?,
        ExecCommand::CloseRejected(args) => close_rejected::run(&args, ctx)?,
        ExecCommand::PlanFailed(args) => plan_failed::run(&args, ctx)?,
        ExecCommand::InstallAgent(args) => install_agent::run(&args, ctx)?,
        ExecCommand::PlanSaveToIssue(args) => plan_save_to_issue::run(&args, ctx)?,
        ExecCommand::RegisterOneShotPlan(args) => register_one_shot_plan::run(&args, ctx)?,
    };
    ctx.runner.set_outputs(&outputs)
}
