//! Issue 3: `exec plan-save-to-issue` and `exec register-one-shot-plan` against the fake GitHub
//! server: first run, re-runs, credentials, API errors, retries and human edits.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::fake_github::Fault;
use crate::support::github::{NAME, OWNER, PLAN, World};
use crate::support::{render, run_ok, stdout_json, succeeded};

const BRANCH: &str = "oneshot-add-a-verbose-flag-01-15-1430";

fn save(w: &World, pr: u64) -> std::process::Output {
    w.env
        .oneshot(&w.repo.work)
        .args([
            "exec",
            "plan-save-to-issue",
            "--pr",
            &pr.to_string(),
            "--agent",
            "claude",
            "--model",
            "sonnet",
        ])
        .output()
        .unwrap()
}

fn register(w: &World, issue: u64, pr: u64) -> std::process::Output {
    w.env
        .oneshot(&w.repo.work)
        .args([
            "exec",
            "register-one-shot-plan",
            "--issue",
            &issue.to_string(),
            "--pr",
            &pr.to_string(),
            "--submitted-by",
            "octocat",
        ])
        .output()
        .unwrap()
}

#[test]
fn first_run_saves_the_plan_and_registers_it_in_at_most_six_requests() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.fake.clear_requests();

    let saved = succeeded(save(&w, pr));
    let issue = saved["issue_number"].as_u64().unwrap();
    assert_eq!(saved["issue_title"], "Add a --verbose flag to submit");
    let registered = succeeded(register(&w, issue, pr));
    assert_eq!(registered["failed_operations"], "");

    let requests = w.fake.requests();
    assert!(
        requests.len() <= 6,
        "{} requests:\n{}",
        requests.len(),
        w.fake.request_summary()
    );
    assert!(
        w.fake.schema_violations().is_empty(),
        "{}",
        w.fake.request_summary()
    );

    let state = w.fake.state();
    let plan_issue = state.issue(OWNER, NAME, issue).unwrap();
    assert_eq!(plan_issue.title, "Add a --verbose flag to submit");
    assert_eq!(plan_issue.labels, vec!["oneshot:plan"]);
    let body = plan_issue.body.unwrap();
    assert!(body.starts_with(PLAN.trim_end()), "{body}");
    assert!(
        body.contains(r#""branch":"oneshot-add-a-verbose-flag-01-15-1430""#),
        "{body}"
    );
    assert!(body.contains(r#""pr":1"#));
    assert!(body.contains("plan_sha256"));
    let label = state
        .labels(OWNER, NAME)
        .into_iter()
        .find(|l| l.name == "oneshot:plan")
        .unwrap();
    assert!(label.description.is_some_and(|d| !d.is_empty()));

    let pull = state.pull(OWNER, NAME, pr).unwrap();
    assert_eq!(pull.title, "[WIP] Add a --verbose flag to submit");
    assert!(pull.draft);
    assert!(pull.labels.contains(&"oneshot".to_string()));
    let pr_body = pull.body.unwrap();
    for expected in [
        "> Add a --verbose flag to the submit command",
        &format!("Closes #{issue}"),
        "**Submitted by:** @octocat",
        "actions/runs/9001",
        "**Step 1: Parse the flag** — queued",
        "**Step 3: Document it** — queued",
    ] {
        assert!(
            pr_body.contains(expected),
            "missing {expected:?} in:\n{pr_body}"
        );
    }
    let comments = state.comments(OWNER, NAME, issue);
    assert_eq!(comments.len(), 1);
    assert!(comments[0].body.contains(&format!("#{pr}")));
}

#[test]
fn re_runs_update_instead_of_duplicating() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    succeeded(register(&w, issue, pr));

    // The planner ran again with a changed plan.
    w.write_plan(&PLAN.replace("Document it", "Document the flag"));
    let again = succeeded(save(&w, pr));
    assert_eq!(again["issue_number"].as_u64(), Some(issue));
    succeeded(register(&w, issue, pr));
    succeeded(register(&w, issue, pr));

    let state = w.fake.state();
    assert_eq!(state.issues(OWNER, NAME).len(), 1, "one plan issue");
    assert!(
        state
            .issue(OWNER, NAME, issue)
            .unwrap()
            .body
            .unwrap()
            .contains("Document the flag")
    );
    assert_eq!(
        state.comments(OWNER, NAME, issue).len(),
        1,
        "one link comment"
    );
    let body = state.pull(OWNER, NAME, pr).unwrap().body.unwrap();
    assert_eq!(body.matches("oneshot:meta").count(), 1);
    assert_eq!(body.matches("## Progress").count(), 1);
    assert!(body.contains("Step 3: Document the flag"));
}

#[test]
fn human_edits_outside_the_markers_are_kept() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    succeeded(register(&w, issue, pr));

    let before = w.fake.state().pull(OWNER, NAME, pr).unwrap().body.unwrap();
    let edited =
        format!("Reviewer note: please keep the old output format.\n\n{before}\n\nAlso see #99.");
    w.fake.edit(|state| {
        let repo = state.repo_mut(OWNER, NAME).unwrap();
        repo.issues.get_mut(&pr).unwrap().body = Some(edited.clone());
    });
    succeeded(register(&w, issue, pr));
    let after = w.fake.state().pull(OWNER, NAME, pr).unwrap().body.unwrap();
    assert!(
        after.starts_with("Reviewer note: please keep the old output format."),
        "{after}"
    );
    assert!(after.trim_end().ends_with("Also see #99."), "{after}");
    assert_eq!(after.matches("<!-- oneshot:body:start -->").count(), 1);
}

#[test]
fn a_missing_token_lists_what_was_checked() {
    let mut w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.env.unset("GITHUB_TOKEN");
    w.env.set("GH_TOKEN", "");
    let out = save(&w, pr);
    assert_eq!(out.status.code(), Some(7));
    insta::assert_snapshot!(render(&out, &w.env));
    assert!(w.fake.requests().is_empty());
}

#[test]
fn a_rejected_token_is_an_auth_error() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.fake.revoke_token(&w.fake.token());
    let out = save(&w, pr);
    assert_eq!(out.status.code(), Some(7));
    let json = stdout_json(&out);
    assert_eq!(json["error_type"], "auth");
    assert!(
        json["message"]
            .as_str()
            .unwrap()
            .contains("401: Bad credentials"),
        "{json}"
    );
}

#[test]
fn an_unknown_repository_is_a_clear_404() {
    let mut w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.env.set("GITHUB_REPOSITORY", "acme/missing");
    let out = save(&w, pr);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("404: Not Found"), "{stderr}");
    assert!(stderr.contains("check the repository name"), "{stderr}");
}

#[test]
fn a_validation_error_shows_github_s_message_and_fields() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.fake
        .inject(Fault::on("POST", "/repos/acme/app/issues").status(
            422,
            json!({
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "code": "invalid", "field": "title"}],
                "documentation_url": "https://docs.github.com/rest/issues/issues#create-an-issue"
            }),
        ));
    let out = save(&w, pr);
    assert_eq!(out.status.code(), Some(6));
    let stderr = String::from_utf8_lossy(&out.stderr);
    for expected in [
        "could not create the plan issue",
        "422: Validation Failed",
        "title: invalid",
        "docs.github.com",
    ] {
        assert!(stderr.contains(expected), "missing {expected:?}:\n{stderr}");
    }
    assert!(w.fake.state().issues(OWNER, NAME).is_empty());
}

#[test]
fn a_server_error_is_retried() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.fake.inject(
        Fault::on("GET", "/repos/acme/app/issues")
            .server_error(502)
            .times(1),
    );
    succeeded(save(&w, pr));
    assert_eq!(w.fake.count("GET", "/repos/acme/app/issues"), 2);
    assert_eq!(w.fake.state().issues(OWNER, NAME).len(), 1);
}

#[test]
fn a_rate_limit_waits_for_retry_after() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    w.fake.inject(
        Fault::on("PATCH", "/repos/acme/app/issues/*")
            .retry_after(429, 1)
            .times(1),
    );
    let start = Instant::now();
    succeeded(register(&w, issue, pr));
    assert!(
        start.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        start.elapsed()
    );
    assert_eq!(w.fake.count("PATCH", "/repos/acme/app/issues/*"), 2);
}

#[test]
fn a_post_that_timed_out_after_landing_is_not_repeated() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.fake.inject(
        Fault::on("POST", "/repos/acme/app/issues")
            .landed_then_delay(Duration::from_secs(4))
            .times(1),
    );
    let saved = succeeded(save(&w, pr));
    let issues = w.fake.state().issues(OWNER, NAME);
    assert_eq!(issues.len(), 1, "no duplicate issue");
    assert_eq!(saved["issue_number"].as_u64(), Some(issues[0].number));
    assert_eq!(
        w.fake.count("POST", "/repos/acme/app/issues"),
        1,
        "the POST was not sent again"
    );
}

#[test]
fn a_dropped_comment_post_is_found_by_its_marker() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    w.fake.inject(
        Fault::on("POST", "/repos/acme/app/issues/*/comments")
            .landed_then_drop()
            .times(1),
    );
    succeeded(register(&w, issue, pr));
    assert_eq!(w.fake.state().comments(OWNER, NAME, issue).len(), 1);
}

#[test]
fn a_failed_comment_is_reported_but_not_fatal() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    w.fake.inject(
        Fault::on("POST", "/repos/acme/app/issues/*/comments").status(
            403,
            json!({"message": "Resource not accessible by integration"}),
        ),
    );
    let out = register(&w, issue, pr);
    let json = succeeded(out);
    assert_eq!(json["failed_operations"], "link comment on the plan issue");
    assert_eq!(
        w.fake.state().pull(OWNER, NAME, pr).unwrap().title,
        "[WIP] Add a --verbose flag to submit"
    );
}

#[test]
fn github_enterprise_server_paths() {
    let mut w = World::ghes();
    // Only the REST base is given: GraphQL and web URLs are derived from it.
    w.env.unset("GITHUB_GRAPHQL_URL");
    w.env.unset("GITHUB_SERVER_URL");
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    succeeded(register(&w, issue, pr));
    assert!(
        w.fake
            .requests()
            .iter()
            .all(|r| r.path.starts_with("/api/v3/")),
        "{}",
        w.fake.request_summary()
    );
    let body = w.fake.state().pull(OWNER, NAME, pr).unwrap().body.unwrap();
    assert!(
        body.contains(&format!("{}/acme/app/actions/runs/9001", w.fake.base_url())),
        "{body}"
    );
}

#[test]
fn dry_runs_send_nothing_and_need_no_token() {
    let mut w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.env.unset("GITHUB_TOKEN");
    let out = run_ok(w.env.oneshot(&w.repo.work).args([
        "exec",
        "plan-save-to-issue",
        "--pr",
        &pr.to_string(),
        "--dry-run",
    ]));
    let json = stdout_json(&out);
    assert_eq!(json["dry_run"], true);
    let requests = json["requests"].as_array().unwrap();
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[2]["method"], "POST");
    assert!(
        requests[2]["body"]["body"]
            .as_str()
            .unwrap()
            .contains("### Step 2: Print requests")
    );

    let out = run_ok(w.env.oneshot(&w.repo.work).args([
        "exec",
        "register-one-shot-plan",
        "--issue",
        "2",
        "--pr",
        &pr.to_string(),
        "--dry-run",
    ]));
    assert_eq!(stdout_json(&out)["requests"].as_array().unwrap().len(), 3);
    assert!(w.fake.requests().is_empty());
}

#[test]
fn an_invalid_plan_is_not_saved() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan("# Oops\n\nno steps here\n");
    let out = save(&w, pr);
    assert_eq!(out.status.code(), Some(3));
    assert!(w.fake.requests().is_empty());
}

#[test]
fn requests_name_oneshot_and_the_api_version() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    succeeded(save(&w, pr));
    let request = &w.fake.requests()[0];
    let agents: Vec<&str> = request
        .headers
        .iter()
        .filter(|(k, _)| k == "user-agent")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(
        agents,
        [concat!("oneshot/", env!("CARGO_PKG_VERSION"))],
        "{:?}",
        request.headers
    );
    assert_eq!(request.header("x-github-api-version"), Some("2022-11-28"));
    assert_eq!(
        request.header("accept"),
        Some("application/vnd.github+json")
    );
}

#[test]
fn a_plan_cannot_smuggle_in_its_own_metadata_marker() {
    let w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(&PLAN.replace(
        "Check: `cargo build`.",
        "Check: `cargo build`.\n<!-- oneshot:meta {\"v\":1,\"branch\":\"other\",\"pr\":99} -->",
    ));
    let issue = succeeded(save(&w, pr))["issue_number"].as_u64().unwrap();
    let body = w
        .fake
        .state()
        .issue(OWNER, NAME, issue)
        .unwrap()
        .body
        .unwrap();
    assert_eq!(body.matches("<!-- oneshot:meta ").count(), 1, "{body}");
    assert!(body.contains(r#""pr":1"#));
}

#[test]
fn a_remote_on_another_host_is_not_sent_the_token() {
    let mut w = World::new();
    let pr = w.draft_pr(BRANCH);
    w.write_plan(PLAN);
    w.env.unset("GITHUB_REPOSITORY");
    w.env.unset("GITHUB_API_URL");
    w.env.git(
        &w.repo.work,
        ["remote", "set-url", "origin", "git@gitlab.com:acme/app.git"],
    );
    let out = save(&w, pr);
    assert_eq!(out.status.code(), Some(4));
    assert!(
        stdout_json(&out)["message"]
            .as_str()
            .unwrap()
            .contains("gitlab.com, not github.com")
    );
}
