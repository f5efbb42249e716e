//! A creating POST counts as landed only if what it creates is found. For every creating call
//! (the workflow dispatch, the draft PR, the plan issue, oneshot's comments) three faults on the
//! fake GitHub: a 5xx that did not land (sent again once, then it works), two of them (the
//! command fails and undoes what it made), and a 5xx for a request that did land (found, not
//! sent again).

use std::process::Output;

use serde_json::Value;

use crate::support::fake_github::Fault;
use crate::support::github::{NAME, OWNER, PLAN, World};
use crate::support::{describe, stdout_json};

const PROMPT: &str = "Add a --verbose flag to the submit command";
const DISPATCHES: &str = "/repos/acme/app/actions/workflows/*/dispatches";
const PULLS: &str = "/repos/acme/app/pulls";
const ISSUES: &str = "/repos/acme/app/issues";
const COMMENTS: &str = "/repos/acme/app/issues/*/comments";
const PLAN_BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";

fn dispatch_world() -> World {
    let mut w = World::new();
    w.init_on_main();
    // The look for a dispatched run lasts as long as the retry budget: short here.
    w.env.set("ONESHOT_RETRY_BUDGET_MS", "3000");
    w.fake.clear_requests();
    w
}

fn dispatch(w: &World) -> Output {
    w.env
        .oneshot(&w.repo.work)
        .args(["dispatch", "--json", PROMPT])
        .output()
        .unwrap()
}

fn ok_json(w: &World, out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}\nrequests:\n{}",
        describe(out),
        w.fake.request_summary()
    );
    stdout_json(out)
}

/// A failed dispatch leaves nothing behind: no branch, every PR it opened closed.
fn assert_rolled_back(w: &World, out: &Output) {
    assert_eq!(out.status.code(), Some(6), "{}", describe(out));
    assert_eq!(
        w.remote_branches(),
        vec!["main"],
        "the branch was left behind"
    );
    for pull in w.fake.state().pulls(OWNER, NAME) {
        assert_eq!(pull.state, "closed", "the draft PR was left open");
    }
    let json = stdout_json(out);
    assert_eq!(json["success"], false);
    assert_eq!(json["error_type"], "github");
    let hints = json["hints"].to_string();
    assert!(hints.contains("nothing was left behind"), "{json}");
}

// ---- the workflow dispatch ----

#[test]
fn dispatch_that_did_not_land_is_sent_again_once_and_the_run_is_reported() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", DISPATCHES).server_error(502));
    let json = ok_json(&w, &dispatch(&w));
    assert_eq!(w.fake.count("POST", DISPATCHES), 2, "sent again once");
    let dispatches = w.fake.state().dispatches();
    assert_eq!(dispatches.len(), 1);
    let run_id = json["run_id"].as_u64().expect("the run is known");
    let run = w.fake.state().run(run_id).unwrap();
    assert!(
        run.display_title
            .contains(&dispatches[0].inputs["distinct_id"])
    );
}

#[test]
fn dispatch_that_failed_twice_fails_and_removes_the_branch_and_the_pr() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", DISPATCHES).server_error(502).times(2));
    let out = dispatch(&w);
    assert_rolled_back(&w, &out);
    assert_eq!(w.fake.count("POST", DISPATCHES), 2, "sent twice, not more");
    assert!(w.fake.state().dispatches().is_empty());
    assert!(w.fake.state().runs().is_empty());
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("could not dispatch the workflow"),
        "{message}"
    );
    assert!(message.contains("neither attempt landed"), "{message}");
    assert_eq!(
        w.fake.state().pulls(OWNER, NAME).len(),
        1,
        "{}",
        w.fake.request_summary()
    );
}

#[test]
fn dispatch_that_failed_twice_and_could_not_be_undone_says_what_is_left() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", DISPATCHES).server_error(503).times(2));
    w.fake.inject(
        Fault::on("PATCH", "/repos/acme/app/pulls/*")
            .status(
                403,
                serde_json::json!({"message": "Resource not accessible"}),
            )
            .times(5),
    );
    let out = dispatch(&w);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(message.contains("left behind"), "{message}");
    assert!(message.contains("gh pr close 1"), "{message}");
    assert_eq!(w.remote_branches(), vec!["main"], "the branch was deleted");
}

#[test]
fn dispatch_that_landed_despite_a_5xx_is_found_and_not_sent_again() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", DISPATCHES).landed_then_server_error(502));
    let json = ok_json(&w, &dispatch(&w));
    assert_eq!(w.fake.count("POST", DISPATCHES), 1, "not sent again");
    assert_eq!(w.fake.state().dispatches().len(), 1);
    let run_id = json["run_id"].as_u64().expect("the run was found");
    assert!(w.fake.state().run(run_id).is_some());
    assert!(w.remote_branches().len() == 2);
}

#[test]
fn dispatch_whose_second_attempt_landed_despite_a_5xx_is_found() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", DISPATCHES).server_error(502));
    w.fake
        .inject(Fault::on("POST", DISPATCHES).landed_then_server_error(502));
    let json = ok_json(&w, &dispatch(&w));
    assert_eq!(w.fake.count("POST", DISPATCHES), 2);
    assert_eq!(w.fake.state().dispatches().len(), 1, "no duplicate run");
    assert!(json["run_id"].as_u64().is_some());
}

// ---- the draft pull request ----

#[test]
fn pr_that_did_not_land_is_sent_again_once() {
    let w = dispatch_world();
    w.fake.inject(Fault::on("POST", PULLS).server_error(502));
    ok_json(&w, &dispatch(&w));
    assert_eq!(w.fake.count("POST", PULLS), 2);
    assert_eq!(w.fake.state().pulls(OWNER, NAME).len(), 1);
    assert_eq!(w.fake.state().dispatches().len(), 1);
}

#[test]
fn pr_that_failed_twice_fails_and_removes_the_branch() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", PULLS).server_error(502).times(2));
    let out = dispatch(&w);
    assert_rolled_back(&w, &out);
    assert_eq!(w.fake.count("POST", PULLS), 2);
    assert!(w.fake.state().pulls(OWNER, NAME).is_empty());
    assert!(
        w.fake.state().dispatches().is_empty(),
        "nothing was dispatched"
    );
    let message = stdout_json(&out)["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("could not open the draft pull request"),
        "{message}"
    );
}

#[test]
fn pr_that_landed_despite_a_5xx_is_found_and_not_sent_again() {
    let w = dispatch_world();
    w.fake
        .inject(Fault::on("POST", PULLS).landed_then_server_error(502));
    let json = ok_json(&w, &dispatch(&w));
    assert_eq!(w.fake.count("POST", PULLS), 1, "not sent again");
    let pulls = w.fake.state().pulls(OWNER, NAME);
    assert_eq!(pulls.len(), 1);
    assert_eq!(json["pr_number"].as_u64(), Some(pulls[0].number));
    assert_eq!(pulls[0].state, "open");
}

// ---- the plan issue ----

fn save_plan(w: &World, pr: u64) -> Output {
    w.env
        .oneshot(&w.repo.work)
        .args(["exec", "plan-save-to-issue", "--pr", &pr.to_string()])
        .output()
        .unwrap()
}

fn plan_world() -> (World, u64) {
    let w = World::new();
    let pr = w.draft_pr(PLAN_BRANCH);
    w.write_plan(PLAN);
    w.fake.clear_requests();
    (w, pr)
}

#[test]
fn plan_issue_that_did_not_land_is_sent_again_once() {
    let (w, pr) = plan_world();
    w.fake.inject(Fault::on("POST", ISSUES).server_error(502));
    let json = ok_json(&w, &save_plan(&w, pr));
    assert_eq!(w.fake.count("POST", ISSUES), 2);
    let issues = w.fake.state().issues(OWNER, NAME);
    let plans: Vec<_> = issues.iter().filter(|i| i.number != pr).collect();
    assert_eq!(plans.len(), 1);
    assert_eq!(json["issue_number"].as_u64(), Some(plans[0].number));
}

#[test]
fn plan_issue_that_failed_twice_fails_and_creates_nothing() {
    let (w, pr) = plan_world();
    let before = w.fake.state().issues(OWNER, NAME).len();
    w.fake
        .inject(Fault::on("POST", ISSUES).server_error(502).times(2));
    let out = save_plan(&w, pr);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    assert_eq!(w.fake.count("POST", ISSUES), 2);
    assert_eq!(w.fake.state().issues(OWNER, NAME).len(), before);
    let json = stdout_json(&out);
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("neither attempt landed"),
        "{json}"
    );
}

#[test]
fn plan_issue_that_landed_despite_a_5xx_is_found_and_not_sent_again() {
    let (w, pr) = plan_world();
    let before = w.fake.state().issues(OWNER, NAME).len();
    w.fake
        .inject(Fault::on("POST", ISSUES).landed_then_server_error(502));
    ok_json(&w, &save_plan(&w, pr));
    assert_eq!(w.fake.count("POST", ISSUES), 1, "not sent again");
    assert_eq!(w.fake.state().issues(OWNER, NAME).len(), before + 1);
}

#[test]
fn a_label_that_landed_despite_a_5xx_is_asked_for_again_safely() {
    // Creating a label is not a creating POST in the sense above: a second one answers 422
    // "already exists", which is fine, so it is retried like any idempotent request.
    let (w, pr) = plan_world();
    w.fake
        .inject(Fault::on("POST", "/repos/acme/app/labels").landed_then_server_error(502));
    ok_json(&w, &save_plan(&w, pr));
    assert_eq!(w.fake.count("POST", "/repos/acme/app/labels"), 2);
    let labels = w.fake.state().labels(OWNER, NAME);
    assert_eq!(
        labels.iter().filter(|l| l.name == "oneshot:plan").count(),
        1
    );
}

// ---- oneshot's comments ----

fn register(w: &World, issue: u64, pr: u64) -> Output {
    w.env
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
        .unwrap()
}

/// The plan is saved as an issue (and not yet linked to the PR).
fn saved_world() -> (World, u64, u64) {
    let (w, pr) = plan_world();
    let issue = ok_json(&w, &save_plan(&w, pr))["issue_number"]
        .as_u64()
        .unwrap();
    w.fake.clear_requests();
    (w, issue, pr)
}

#[test]
fn comment_that_did_not_land_is_sent_again_once() {
    let (w, issue, pr) = saved_world();
    w.fake.inject(Fault::on("POST", COMMENTS).server_error(502));
    let json = ok_json(&w, &register(&w, issue, pr));
    assert_eq!(json["failed_operations"], "");
    assert_eq!(w.fake.count("POST", COMMENTS), 2);
    assert_eq!(w.fake.state().comments(OWNER, NAME, issue).len(), 1);
}

#[test]
fn comment_that_failed_twice_is_reported_as_failed() {
    let (w, issue, pr) = saved_world();
    w.fake
        .inject(Fault::on("POST", COMMENTS).server_error(502).times(2));
    let out = register(&w, issue, pr);
    // The link comment is not essential to the step: it is reported, not fatal, and not done.
    let json = ok_json(&w, &out);
    assert_eq!(json["failed_operations"], "link comment on the plan issue");
    assert_eq!(w.fake.count("POST", COMMENTS), 2);
    assert!(w.fake.state().comments(OWNER, NAME, issue).is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("neither attempt landed"),
        "{}",
        describe(&out)
    );
}

#[test]
fn comment_that_landed_despite_a_5xx_is_found_and_not_sent_again() {
    let (w, issue, pr) = saved_world();
    w.fake
        .inject(Fault::on("POST", COMMENTS).landed_then_server_error(502));
    let json = ok_json(&w, &register(&w, issue, pr));
    assert_eq!(json["failed_operations"], "");
    assert_eq!(w.fake.count("POST", COMMENTS), 1, "not sent again");
    assert_eq!(w.fake.state().comments(OWNER, NAME, issue).len(), 1);
}

// ---- the draft pull request of `exec prepare` (a one-shot started from the Actions tab) ----

fn prepare(w: &World) -> Output {
    w.env
        .oneshot(&w.repo.work)
        .args(["exec", "prepare", "--trunk", "main"])
        .output()
        .unwrap()
}

fn prepare_world() -> World {
    let mut w = World::new();
    w.env.set("ONESHOT_PROMPT", PROMPT);
    w.fake.clear_requests();
    w
}

#[test]
fn prepare_pr_that_did_not_land_is_sent_again_once() {
    let w = prepare_world();
    w.fake.inject(Fault::on("POST", PULLS).server_error(502));
    let json = ok_json(&w, &prepare(&w));
    assert_eq!(w.fake.count("POST", PULLS), 2);
    let pulls = w.fake.state().pulls(OWNER, NAME);
    assert_eq!(pulls.len(), 1);
    assert_eq!(json["pr_number"].as_u64(), Some(pulls[0].number));
}

#[test]
fn prepare_pr_that_failed_twice_fails_and_removes_the_branch() {
    let w = prepare_world();
    w.fake
        .inject(Fault::on("POST", PULLS).server_error(502).times(2));
    let out = prepare(&w);
    assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
    assert_eq!(w.fake.count("POST", PULLS), 2);
    assert!(w.fake.state().pulls(OWNER, NAME).is_empty());
    assert_eq!(
        w.remote_branches(),
        vec!["main"],
        "the branch was left behind"
    );
    let json = stdout_json(&out);
    assert!(
        json["hints"]
            .to_string()
            .contains("the branch and the draft PR made so far were removed"),
        "{json}"
    );
}

#[test]
fn prepare_pr_that_landed_despite_a_5xx_is_found_and_not_sent_again() {
    let w = prepare_world();
    w.fake
        .inject(Fault::on("POST", PULLS).landed_then_server_error(504));
    let json = ok_json(&w, &prepare(&w));
    assert_eq!(w.fake.count("POST", PULLS), 1, "not sent again");
    let pulls = w.fake.state().pulls(OWNER, NAME);
    assert_eq!(pulls.len(), 1);
    assert_eq!(json["pr_number"].as_u64(), Some(pulls[0].number));
}

// ---- `oneshot resume`: its run carries no distinct id, so it is never sent blindly again ----

#[test]
fn a_resume_dispatch_that_failed_is_reported_as_failed_and_not_sent_again() {
    for landed in [false, true] {
        let (w, issue, pr) = saved_world();
        ok_json(&w, &register(&w, issue, pr));
        w.init_on_main();
        w.fake.clear_requests();
        let fault = Fault::on("POST", DISPATCHES);
        w.fake.inject(if landed {
            fault.landed_then_server_error(502)
        } else {
            fault.server_error(502)
        });
        let out = w
            .env
            .oneshot(&w.repo.work)
            .args(["resume", &pr.to_string(), "--json"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(6), "{}", describe(&out));
        assert_eq!(w.fake.count("POST", DISPATCHES), 1, "not sent again");
        assert_eq!(w.fake.state().dispatches().len(), usize::from(landed));
        let json = stdout_json(&out);
        assert!(
            json["hints"]
                .to_string()
                .contains("the run may have started anyway"),
            "{json}"
        );
    }
}
