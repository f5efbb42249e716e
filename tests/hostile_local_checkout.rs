//! An edit of the user's checkout that the run's fingerprint of it does not see.
//!
//! The attack, which used to work: `UserRepoWatch::checkout` fingerprints
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

/// The attack, which used to work: the session turns the run's branch into
/// a symbolic ref to the user's `main`. `secure_branch` puts the branch back with
/// `git update-ref refs/heads/<run> <base>`, which follows the symbolic ref and moves the user's
/// `main` to the run's commit; it then fails the step and returns before the user-ref check
/// (`after_agent` returns early), so nothing puts `main` back or says so.
#[test]
fn a_run_branch_made_a_symbolic_ref_does_not_move_the_users_main() {
    let l = setup();
    let main_before = l.git(&["rev-parse", "refs/heads/main"]);
    l.agent.script_for(1, planning(PLAN));
    l.agent.script_for(2, step("src/step1.txt", "one\n"));
    l.agent.script_for(
        3,
        hostile("git symbolic-ref \"refs/heads/$(git branch --show-current)\" refs/heads/main"),
    );
    l.agent.script_for(4, step("src/step3.txt", "three\n"));
    let out = l.run(&[TASK, "--json"]);
    let main_after = l.git(&["rev-parse", "refs/heads/main"]);
    assert_eq!(
        main_after,
        main_before,
        "the user's main was moved by the run\n{}",
        text(&out)
    );
}
