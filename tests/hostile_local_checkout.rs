//! An edit of the user's checkout that the run's fingerprint of it does not see.
//!
//! FAILING TODAY (a real hole, kept as a reproduction): `UserRepoWatch::checkout` fingerprints
//! the user's checkout by HEAD, `git ls-files --stage` and `git status`. Neither shows the
//! index's assume-unchanged (or skip-worktree) bit, and `git status` does not look at a file
//! that has it. An agent that sets the bit on a tracked file of the user's checkout and then
//! edits the file changes the user's work with no warning.

use crate::hostile_history::hostile;
use crate::local_run::{TASK, planning, setup, step, text};
use crate::support::github::PLAN;
use crate::support::stdout_json;

#[test]
fn an_edit_hidden_behind_assume_unchanged_is_still_reported() {
    let l = setup();
    let user = l.repo.work.display().to_string();
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(
        3,
        hostile(&format!(
            "git -C '{user}' update-index --assume-unchanged README.md && \
             echo '# changed by the agent' > '{user}/README.md'"
        )),
    );
    l.agent.script_for(4, step("src/step3.txt", "three\n"));
    let out = l.run(&[TASK, "--json"]);
    let readme = std::fs::read_to_string(l.repo.work.join("README.md")).unwrap();
    assert_eq!(
        readme, "# changed by the agent\n",
        "the attack did its part"
    );
    let json = stdout_json(&out);
    let warned = json["warnings"].to_string();
    assert!(
        warned.contains("README.md"),
        "the user's README.md was changed and nothing said so: {warned}\n{}",
        text(&out)
    );
}
