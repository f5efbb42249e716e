//! `oneshot status`, `oneshot resume` and `exec close-rejected` against the fake GitHub server.

use serde_json::Value;

use crate::support::github::{NAME, OWNER, PLAN, World};
use crate::support::{render, stdout_json};

const BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";

/// A one-shot whose plan is registered and whose step 2 failed.
fn failed_at_step_two(w: &World) -> (u64, u64) {
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["exec", "plan-save-to-issue", "--pr", &pr.to_string()])
        .output()
        .unwrap();
    let issue = stdout_json(&out)["issue_number"].as_u64().unwrap();
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args([
            "exec",
            "register-one-shot-plan",
            "--issue",
            &issue.to_string(),
            "--pr",
            &pr.to_string(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    w.fake.edit(|state| {
        let repo = state.repo_mut(OWNER, NAME).unwrap();
        let pull = repo.issues.get_mut(&pr).unwrap();
        let body = pull.body.take().unwrap();
        let body = body
            .replacen(
                r#""state":"queued""#,
                r#""state":"done","duration_s":65.0,"cost_usd":0.12"#,
                1,
            )
            .replacen(
                r#""state":"queued""#,
                r#""state":"failed","note":"the check failed""#,
                1,
            )
            .replacen(r#""state":"queued""#, r#""state":"not_started""#, 1);
        pull.body = Some(body);
    });
    (pr, issue)
}

#[test]
fn status_shows_steps_states_time_and_cost() {
    let w = World::new();
    let (pr, issue) = failed_at_step_two(&w);
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["status", &pr.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    insta::assert_snapshot!(render(&out, &w.env));

    // By branch, as JSON.
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["status", BRANCH, "--json"])
        .output()
        .unwrap();
    let json = stdout_json(&out);
    assert_eq!(json["pr_number"].as_u64(), Some(pr));
    assert_eq!(json["issue_number"].as_u64(), Some(issue));
    assert_eq!(json["completed_steps"], 1);
    let states: Vec<&str> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["done", "failed", "not_started"]);
}

#[test]
fn status_of_an_unknown_branch_is_a_clear_error() {
    let w = World::new();
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["status", "no-such-branch", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stdout_json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("no pull request has the branch")
    );
}

#[test]
fn resume_dispatches_the_implement_workflow_from_the_failed_step() {
    let w = World::new();
    let (pr, issue) = failed_at_step_two(&w);
    // The resume workflow `oneshot init` writes, on the trunk.
    w.init_on_main();
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["resume", &pr.to_string(), "--json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    assert_eq!(json["from_step"], 2);
    let dispatches = w.fake.state().dispatches();
    assert_eq!(dispatches.len(), 1);
    let inputs = &dispatches[0].inputs;
    assert_eq!(inputs["issue_number"], issue.to_string());
    assert_eq!(inputs["from_step"], "2");
    assert_eq!(inputs["branch_name"], BRANCH);
    assert_eq!(inputs["pr_number"], pr.to_string());
    assert!(
        w.fake.schema_violations().is_empty(),
        "{}",
        w.fake.request_summary()
    );

    // An explicit step that the plan does not have.
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["resume", &pr.to_string(), "--from-step", "9", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn resume_without_the_resume_workflow_says_to_run_init() {
    let w = World::new();
    let (pr, _) = failed_at_step_two(&w);
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["resume", &pr.to_string()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("oneshot init"), "{stderr}");
}

#[test]
fn a_rejected_task_closes_the_pr_with_the_reason() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.repo.write(
        ".impl/plan-result.json",
        r#"{"rejected": true, "reason": "The task asks to delete the production database."}"#,
    );
    w.repo.write(".git/info/exclude", "/.impl/\n");
    let out = w
        .env
        .oneshot(&w.repo.work)
        .args(["exec", "close-rejected", "--pr", &pr.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = w.fake.state();
    assert_eq!(state.pull(OWNER, NAME, pr).unwrap().state, "closed");
    let comments: Vec<String> = state
        .comments(OWNER, NAME, pr)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].contains("delete the production database"));
    let json: Value = stdout_json(&out);
    assert_eq!(json["rejected"], true);
}

#[test]
fn a_failed_plan_is_said_on_the_draft_pr_once() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    for _ in 0..2 {
        let out = w
            .env
            .oneshot(&w.repo.work)
            .args(["exec", "plan-failed", "--pr", &pr.to_string()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let state = w.fake.state();
    let comments: Vec<String> = state
        .comments(OWNER, NAME, pr)
        .into_iter()
        .map(|c| c.body)
        .collect();
    assert_eq!(comments.len(), 1, "edited in place on a re-run");
    assert!(
        comments[0].contains("Planning failed") && comments[0].contains("actions/runs/9001"),
        "{}",
        comments[0]
    );
    assert!(state.pull(OWNER, NAME, pr).unwrap().draft);
}

#[test]
fn prepare_checks_out_its_branch_and_a_rerun_of_the_job_reuses_it() {
    let mut w = World::new();
    w.env.set(
        "ONESHOT_PROMPT",
        "Add a --verbose flag to the submit command",
    );
    let prepare = |w: &World| {
        let out = w
            .env
            .oneshot(&w.repo.work)
            .args(["exec", "prepare", "--trunk", "main"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout_json(&out)
    };
    let first = prepare(&w);
    let branch = first["branch"].as_str().unwrap().to_string();
    assert_eq!(
        w.env.git(&w.repo.work, ["branch", "--show-current"]).trim(),
        branch
    );
    assert_eq!(
        w.repo.read(".worker-impl/task.md"),
        "Add a --verbose flag to the submit command"
    );

    // "Re-run failed jobs": the same run id, a fresh checkout of the trunk.
    w.env.git(&w.repo.work, ["checkout", "--quiet", "main"]);
    let again = prepare(&w);
    assert_eq!(again["branch"], first["branch"]);
    assert_eq!(again["pr_number"], first["pr_number"]);
    assert_eq!(w.fake.state().pulls(OWNER, NAME).len(), 1, "no second PR");
}
