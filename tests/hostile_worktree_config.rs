//! `.git/config` is snapshotted and restored around every session, but not the work tree's own
//! config file, which git reads whenever the repository has `extensions.worktreeConfig = true`
//! (what `git sparse-checkout` sets, and so a sparse `actions/checkout`).
//!
//! The attack, which used to work: the session writes
//! `.git/config.worktree` with a `pushurl` to a local repository of the agent's; nothing restores
//! it, oneshot's authenticated push goes there (`file` is an allowed transport) and that
//! repository's `pre-receive` hook reads the pushing git's environment, with the
//! `AUTHORIZATION` header in it.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;

use crate::agent_fakes::{init, result, write};
use crate::hostile_git::ImplementJob;

#[test]
fn a_session_cannot_redirect_the_push_through_the_work_tree_config() {
    let job = ImplementJob::new();
    job.git(&job.dir, &["config", "extensions.worktreeConfig", "true"]);
    let decoy = job.w.env.root.path().join("decoy.git");
    let stolen = job.w.env.root.path().join("stolen.txt");
    job.w.env.git(
        job.w.env.root.path(),
        ["init", "--quiet", "--bare", decoy.to_str().unwrap()],
    );
    let hook = decoy.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        format!(
            "#!/bin/sh\np=$PPID\nwhile [ \"$p\" -gt 1 ]; do\n  tr '\\0' '\\n' < /proc/$p/environ 2>/dev/null | grep -a -i authorization >> '{}'\n  p=$(awk '{{print $4}}' /proc/$p/stat)\ndone\nexit 0\n",
            stolen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
    let plant = format!(
        "git config --worktree remote.origin.pushurl '{}'",
        decoy.display()
    );
    job.agent.script_for(
        1,
        vec![
            init(),
            json!({"run": ["sh", "-c", plant]}),
            write("src/step1.txt", "step 1\n"),
            result("success", false, "Done."),
        ],
    );
    for n in 2..=3 {
        job.agent.script_for(
            n,
            vec![
                init(),
                write(&format!("src/step{n}.txt"), &format!("step {n}\n")),
                result("success", false, "Done."),
            ],
        );
    }
    job.give_to_job_user();
    let out = job.run_implement().output().unwrap();
    let stolen = std::fs::read_to_string(&stolen).unwrap_or_default();
    assert!(
        stolen.is_empty(),
        "a hook of the agent's read the push credential (exit {:?}):\n{stolen}",
        out.status.code()
    );
}
