//! A hostile implementation session against the job it runs in, not only against its own
//! process: the agent runs as the job's user, and the job's later steps get the token.
//!
//! The attack, which used to work: during `run-implement` the agent appends
//! a directory of its own to the step's `GITHUB_PATH` file (on a runner
//! `$RUNNER_TEMP/_runner_file_commands/add_path_*`, two levels above the checkout; here the
//! workflow runner's `files/add_path_*`, three levels above). The runner prepends it to PATH
//! for every later step, so the `Finish` step's `exec oneshot exec finalize` starts the agent's
//! `oneshot` with `ONESHOT_TOKEN` in its environment. The same works through `GITHUB_ENV`
//! (`BASH_ENV=…` runs a file of the agent's in every later `bash` step) and through any
//! directory on PATH that the job's user can write (the agent CLI's own `node_modules/.bin`,
//! which install-agent puts first on PATH; `~/.local/bin`); none needs sudo.
//!
//! oneshot now puts the step's runner files back after every session and check command, so
//! the `GITHUB_PATH`/`GITHUB_ENV` route is closed (this test). A program the job's user can
//! overwrite in place is not: docs/agents.md's threat model says so.

use serde_json::json;

use crate::agent_fakes::{init, result, write};
use crate::e2e_workflows::Scenario;

#[test]
fn an_agent_cannot_plant_a_program_that_a_later_step_runs_with_the_token() {
    let s = Scenario::new();
    let stash = s.w.env.root.path().join("stash");
    std::fs::create_dir_all(&stash).unwrap();
    let stash = stash.display().to_string();
    let plant = format!(
        r#"set -e
real=$(command -v oneshot)
mkdir -p '{stash}/bin'
printf '#!/bin/sh\nprintf %%s "$ONESHOT_TOKEN" >> "{stash}/stolen"\nexec "%s" "$@"\n' "$real" > '{stash}/bin/oneshot'
chmod +x '{stash}/bin/oneshot'
top=$(git rev-parse --show-toplevel)
for f in "$top"/../../../files/add_path_* "$top"/../../_temp/_runner_file_commands/add_path_*; do
  [ -f "$f" ] && echo '{stash}/bin' >> "$f"
done
true
"#
    );
    s.script_plan(1);
    s.agent.script_for(
        2,
        vec![
            init(),
            json!({"run": ["sh", "-c", plant]}),
            write("src/step1.txt", "step 1\n"),
            result("success", false, "Done."),
        ],
    );
    for step in 2..=3 {
        s.script_step(step + 1, step);
    }
    let (_pr, run_id) = s.dispatch();
    let report = s.runner(false).run_dispatched(run_id);
    let stolen = std::fs::read_to_string(format!("{stash}/stolen")).unwrap_or_default();
    assert!(
        !stolen.contains(&s.w.fake.token()),
        "a later step of the job ran the agent's program with the push token ({} bytes stolen)\n{}",
        stolen.len(),
        report.log()
    );
}
