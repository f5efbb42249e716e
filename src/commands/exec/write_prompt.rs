//! `oneshot exec write-prompt`: puts the task where the planner reads it, `.impl/task.md`.

use std::os::unix::ffi::OsStrExt;

use super::Context;
use crate::actions::Outputs;
use crate::cli::WritePromptArgs;
use crate::error::{Error, IoContext, Result};
use crate::task::validate_prompt;
use crate::workspace::{self, Workspace};

pub fn run(args: &WritePromptArgs, ctx: &Context) -> Result<Outputs> {
    let ws = Workspace::find(&ctx.dir)?;
    let worker_task = ws.path(workspace::WORKER_TASK);

    // The committed task wins: it is exactly what the user dispatched.
    let (bytes, origin) = if worker_task.is_file() {
        let bytes = std::fs::read(&worker_task)
            .io_context(|| format!("could not read {}", workspace::WORKER_TASK))?;
        (bytes, workspace::WORKER_TASK.to_string())
    } else if let Some(file) = &args.prompt_file {
        let path = ctx.dir.join(file);
        let bytes = std::fs::read(&path)
            .user_file(|| format!("could not read the prompt file {}", file.display()))?;
        (bytes, file.display().to_string())
    } else if let Some(value) = &ctx.env.prompt {
        (value.as_bytes().to_vec(), "ONESHOT_PROMPT".to_string())
    } else {
        return Err(Error::input("no prompt was given")
            .cause(format!("{} does not exist in {}", workspace::WORKER_TASK, ws.root.display()))
            .cause("--prompt-file was not given")
            .cause("ONESHOT_PROMPT is not set")
            .hint("in a workflow, pass the prompt through `env: ONESHOT_PROMPT: ${{ inputs.prompt }}`"));
    };
    let prompt = validate_prompt(&bytes, &origin)?;

    ws.ensure_impl_dir()?;
    let task = ws.path(workspace::TASK);
    std::fs::write(&task, &prompt).io_context(|| format!("could not write {}", workspace::TASK))?;
    ctx.runner.info(&format!(
        "Wrote {} ({} bytes) from {origin}",
        workspace::TASK,
        prompt.len()
    ));
    Ok(Outputs::new())
}
