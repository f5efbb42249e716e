//! `oneshot exec <step>`: one file per workflow step. A step returns its outputs; this module
//! publishes them (to $GITHUB_OUTPUT in Actions, as JSON on stdout elsewhere).

mod detect_trunk;
mod run_plan;
mod validate_outputs;
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
    };
    ctx.runner.set_outputs(&outputs)
}
