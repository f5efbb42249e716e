//! `oneshot exec validate-outputs`: checks the planner's `.impl/plan.md` and `plan-result.json`.

use super::Context;
use crate::actions::Outputs;
use crate::cli::ValidateOutputsArgs;
use crate::error::{Error, Result};

pub fn run(_args: &ValidateOutputsArgs, _ctx: &Context) -> Result<Outputs> {
    Err(Error::internal("validate-outputs is being written"))
}
