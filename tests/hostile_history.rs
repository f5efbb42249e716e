//! Issue 12, finding 3: an implementing agent that rewrites history or moves refs in CI
//! (`exec run-implement` against the fake GitHub). Each hostile session runs real git commands;
//! afterwards the remote branch holds exactly the step commits, with oneshot's messages, and
//! nothing else is pushed. What cannot be repaired without losing a finished step fails the step
//! and says what the agent did.

use serde_json::{Value, json};

use crate::agent_fakes::{init, result, write};
use crate::implement::{BRANCH, Job, job, session, states};
use crate::support::stdout_json;
use crate::support::succeeded;

/// `git commit` as the agent would run it (the agent's environment has no git identity).
pub(crate) const AGENT_COMMIT: &str =
    "git -c user.name=agent -c user.email=agent@example.com commit --quiet --no-verify";

/// A session that runs `shell` in the work tree, then writes `src/step2.txt` and succeeds.
pub(crate) fn hostile(shell: &str) -> Vec<Value> {
    vec![
        init(),
        json!({"run": ["sh", "-c", shell]}),
        write("src/step2.txt", "two\n"),
        result("success", false, "Done."),
    ]
}

/// Step 1 as usual, step 2 hostile, step 3 as usual; runs the implement job.
fn run_with_hostile_step_two(shell: &str) -> (Job, std::process::Output) {
    let job = job();
    job.agent.script_for(1, session("src/step1.txt", "one\n"));
    job.agent.script_for(2, hostile(shell));
    job.agent.script_for(3, session("src/step3.txt", "three\n"));
    job.fetch_plan();
    let out = job.run_implement(&[]);
    (job, out)
}

const STEP_SUBJECTS: [&str; 4] = [
    "Add the oneshot task",
    "Step 1: Parse the flag",
    "Step 2: Print requests",
    "Step 3: Document it",
];

/// The remote has the three step commits, step 2 with the session's file, and no other ref.
fn assert_folded(job: &Job, out: std::process::Output) -> Value {
    let json = succeeded(out);
    assert_eq!(json["completed_steps"], 3);
    assert_eq!(job.remote_subjects(), STEP_SUBJECTS);
    let origin = &job.w.repo.origin;
    assert_eq!(
        job.w
            .env
            .git(origin, ["show", &format!("{BRANCH}:src/step2.txt")]),
        "two\n"
    );
    // Step 2's commit is made by oneshot, with oneshot's message and no agent commit below it.
    let step2 = job.w.env.git(
        origin,
        ["log", "-1", "--format=%an%n%B", &format!("{BRANCH}~1")],
    );
    assert!(
        step2.starts_with("oneshot\nStep 2: Print requests\n"),
        "{step2}"
    );
    assert!(!step2.contains("agent"), "{step2}");
    assert_eq!(
        job.w
            .env
            .git(origin, ["for-each-ref", "--format=%(refname)"]),
        format!("refs/heads/main\nrefs/heads/{BRANCH}\n"),
        "no tag and no other branch is pushed"
    );
    assert_eq!(
        job.step_states(),
        states(&[(1, "done"), (2, "done"), (3, "done")])
    );
    json
}

/// Step 2 failed with `expected` in its cause; the remote and the job's branch still end at
/// step 1's commit, with nothing of the session in them.
fn assert_refused(job: &Job, out: std::process::Output, expected: &[&str]) {
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    let message = json["message"].as_str().unwrap();
    for e in expected {
        assert!(message.contains(e), "missing {e:?} in {message}");
    }
    assert_eq!(job.remote_subjects(), &STEP_SUBJECTS[..2]);
    assert_eq!(
        job.step_states(),
        states(&[(1, "done"), (2, "failed"), (3, "not_started")])
    );
    let remote_tip = job.w.env.git(&job.w.repo.origin, ["rev-parse", BRANCH]);
    assert_eq!(
        job.w
            .env
            .git(&job.dir, ["rev-parse", &format!("refs/heads/{BRANCH}")]),
        remote_tip,
        "the job's branch is put back at step 1's commit"
    );
    assert_eq!(
        job.w.env.git(&job.dir, ["symbolic-ref", "HEAD"]).trim(),
        format!("refs/heads/{BRANCH}")
    );
    // The failure report on the PR says what happened.
    let comments: Vec<String> = job
        .w
        .fake
        .state()
        .comments(
            crate::support::github::OWNER,
            crate::support::github::NAME,
            job.pr,
        )
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert!(
        comments.iter().any(|c| c.contains(expected[0])),
        "{comments:?}"
    );
}

#[test]
fn a_reset_hard_that_drops_step_one_fails_step_two_and_names_the_commit() {
    let (job, out) = run_with_hostile_step_two("git reset --quiet --hard HEAD~1");
    assert_refused(
        &job,
        out,
        &[
            "the agent reset the branch",
            "Step 1's commit",
            "is no longer in its history",
        ],
    );
}

#[test]
fn an_amend_of_step_one_fails_step_two_and_keeps_step_one_as_it_was() {
    let (job, out) = run_with_hostile_step_two(&format!(
        "echo amended > src/amend.txt && git add -A && {AGENT_COMMIT} --amend -m 'agent amended'"
    ));
    assert_refused(
        &job,
        out,
        &[
            "rewrote the branch",
            "Step 1's commit",
            "no longer in its history",
        ],
    );
    assert_eq!(
        job.w
            .env
            .git(&job.w.repo.origin, ["log", "-1", "--format=%an %s", BRANCH]),
        "oneshot Step 1: Parse the flag\n"
    );
}

#[test]
fn own_commits_of_the_agent_are_folded_into_the_step_commit() {
    let (job, out) = run_with_hostile_step_two(&format!(
        "echo a > src/a.txt && git add -A && {AGENT_COMMIT} -m 'agent commit one' && \
         echo b > src/b.txt && git add -A && {AGENT_COMMIT} -m 'agent commit two'"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_folded(&job, out);
    assert!(
        stderr.contains("committed on the branch itself") && stderr.contains("folded"),
        "{stderr}"
    );
    let files = job.w.env.git(
        &job.w.repo.origin,
        [
            "diff",
            "--name-only",
            &format!("{BRANCH}~2"),
            &format!("{BRANCH}~1"),
        ],
    );
    assert_eq!(files, "src/a.txt\nsrc/b.txt\nsrc/step2.txt\n");
}

#[test]
fn a_checkout_of_a_new_branch_is_undone_and_the_work_lands_on_the_step_branch() {
    let (job, out) = run_with_hostile_step_two(&format!(
        "git checkout --quiet -b other && echo o > src/o.txt && git add -A && {AGENT_COMMIT} -m 'on other'"
    ));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_folded(&job, out);
    assert!(
        stderr.contains("switched HEAD to the branch `other`"),
        "{stderr}"
    );
    assert_eq!(
        job.w.env.git(
            &job.w.repo.origin,
            ["show", &format!("{BRANCH}~1:src/o.txt")]
        ),
        "o\n"
    );
}

#[test]
fn a_detached_head_is_put_back_on_the_branch() {
    let (job, out) = run_with_hostile_step_two("git checkout --quiet --detach");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_folded(&job, out);
    assert!(stderr.contains("(a detached HEAD)"), "{stderr}");
}

#[test]
fn tags_and_branches_the_agent_creates_are_not_pushed() {
    let (job, out) = run_with_hostile_step_two(
        "git tag agent-tag && git branch agent-branch && git update-ref refs/agent/x HEAD",
    );
    // assert_folded checks that the remote has only the step branch and main.
    assert_folded(&job, out);
}

#[test]
fn a_verify_command_that_commits_detaches_and_tags_changes_nothing_that_is_pushed() {
    // The check runs code the agent wrote: it gets the same scrutiny as a session.
    let mut job = job();
    job.w.env.set(
        "ONESHOT_VERIFY_COMMAND",
        format!(
            "git checkout --quiet --detach && {AGENT_COMMIT} --allow-empty -m 'agent commit from the check' && git tag -f verify-tag"
        ),
    );
    job.agent.script_for(1, session("src/step1.txt", "one\n"));
    job.agent.script_for(2, session("src/step2.txt", "two\n"));
    job.agent.script_for(3, session("src/step3.txt", "three\n"));
    job.fetch_plan();
    let out = job.run_implement(&[]);
    assert_folded(&job, out);
}
