//! Self-tests of the fake GitHub server (tests/support/fake_github): driven with octocrab (the
//! client the binary uses, so its models prove the payloads deserialize) and with raw HTTP (for
//! status codes, headers and faults). Every test ends by checking that each answer of the fake
//! matched GitHub's official response schema.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use octocrab::Octocrab;
use octocrab::models::IssueState;
use serde_json::{Value, json};

use crate::support::TestEnv;
use crate::support::fake_github::{
    DEFAULT_LOGIN, FakeGitHub, Fault, check_request_body, check_response_body, endpoints,
    schema_keywords,
};

// ------------------------------------------------------------------------------------------------
// Helpers

/// An octocrab client with its own runtime (octocrab must be built inside one).
struct Gh {
    rt: tokio::runtime::Runtime,
    octocrab: Octocrab,
}

impl Gh {
    fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.rt.block_on(future)
    }
}

impl std::ops::Deref for Gh {
    type Target = Octocrab;
    fn deref(&self) -> &Octocrab {
        &self.octocrab
    }
}

fn client_with(fake: &FakeGitHub, token: &str) -> Gh {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let octocrab = rt.block_on(async {
        Octocrab::builder()
            .base_uri(fake.api_url())
            .expect("base uri")
            .personal_token(token.to_string())
            .build()
            .expect("octocrab client")
    });
    Gh { rt, octocrab }
}

fn client(fake: &FakeGitHub) -> Gh {
    client_with(fake, &fake.token())
}

/// GitHub's status and message from an octocrab error.
fn github_error(e: octocrab::Error) -> (u16, String) {
    match e {
        octocrab::Error::GitHub { source, .. } => (source.status_code.as_u16(), source.message),
        other => panic!("expected a GitHub error, got {other:?}"),
    }
}

/// An answer read with plain std::net (the server closes after each answer).
#[derive(Debug)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one request to `path` (absolute on the server) and reads the answer; `Err` when the
/// connection closed without one.
fn raw(
    fake: &FakeGitHub,
    method: &str,
    path: &str,
    auth: Option<&str>,
    body: Option<&str>,
    timeout: Duration,
) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(fake.addr())?;
    stream.set_read_timeout(Some(timeout))?;
    let body = body.unwrap_or("");
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: selftest\r\n",
        fake.addr()
    );
    if let Some(auth) = auth {
        request.push_str(&format!("Authorization: {auth}\r\n"));
    }
    request.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    stream.write_all(request.as_bytes())?;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes)?;
    if bytes.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "closed without an answer",
        ));
    }
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).expect("JSON body")
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// A REST request with the default token; `route` is relative to the API root.
fn api(fake: &FakeGitHub, method: &str, route: &str, body: Option<Value>) -> Reply {
    let prefix = fake
        .api_url()
        .trim_start_matches(&fake.base_url())
        .to_string();
    let auth = format!("Bearer {}", fake.token());
    let body = body.map(|b| b.to_string());
    raw(
        fake,
        method,
        &format!("{prefix}{route}"),
        Some(&auth),
        body.as_deref(),
        Duration::from_secs(5),
    )
    .unwrap_or_else(|e| panic!("{method} {route}: {e}"))
}

/// Polls `condition` for up to five seconds (for effects that land on the server's threads).
fn wait_until(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Every answer the fake gave matched GitHub's response schema.
fn assert_payloads_match_github(fake: &FakeGitHub) {
    let bad: Vec<String> = fake
        .response_violations()
        .iter()
        .map(|r| {
            format!(
                "{}: {}",
                r.summary(),
                r.response_violation.as_deref().unwrap_or("")
            )
        })
        .collect();
    assert!(
        bad.is_empty(),
        "answers that do not match GitHub's schema:\n{}",
        bad.join("\n")
    );
}

const WORKFLOW: &str = r#"name: oneshot
run-name: "oneshot ${{ inputs.distinct_id }} by ${{ github.actor }}"
on:
  workflow_dispatch:
    inputs:
      prompt:
        description: The task
        required: true
      distinct_id:
        description: Set by dispatch
        required: false
        default: ""
      model:
        type: choice
        options: [sonnet, opus]
        default: sonnet
jobs:
  plan:
    runs-on: ubuntu-latest
    steps:
      - run: echo planning
"#;

// ------------------------------------------------------------------------------------------------
// Start, stop, basics

#[test]
fn starts_fast_and_stops_when_dropped() {
    let started = Instant::now();
    let fake = FakeGitHub::start();
    let elapsed = started.elapsed();
    // The budget is 50 ms; the assertion leaves room for a loaded machine.
    assert!(
        elapsed < Duration::from_millis(500),
        "start took {elapsed:?}"
    );
    let addr = fake.addr();
    assert!(fake.api_url().starts_with("http://127.0.0.1:"));
    assert_eq!(fake.graphql_url(), format!("{}/graphql", fake.api_url()));
    assert_eq!(fake.server_url(), "https://github.com");
    let mut env = TestEnv::new();
    fake.set_env(&mut env);
    assert_eq!(env.var("GITHUB_API_URL"), Some(fake.api_url()));
    assert_eq!(env.var("GITHUB_GRAPHQL_URL"), Some(fake.graphql_url()));
    drop(fake);
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err(),
        "still listening after drop"
    );
}

#[test]
fn user_and_repository_deserialize_with_octocrab() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let gh = client(&fake);
    gh.run(async {
        let me = gh.current().user().await.expect("GET /user");
        assert_eq!(me.login, DEFAULT_LOGIN);
        let repo = gh.repos("acme", "app").get().await.expect("GET /repos");
        assert_eq!(repo.default_branch.as_deref(), Some("main"));
        assert_eq!(repo.full_name.as_deref(), Some("acme/app"));
        assert_eq!(
            repo.html_url.map(|u| u.to_string()).as_deref(),
            Some("https://github.com/acme/app")
        );
    });
    assert_payloads_match_github(&fake);
}

#[test]
fn unauthenticated_and_bad_tokens_get_401() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let none = raw(
        &fake,
        "GET",
        "/repos/acme/app",
        None,
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(none.status, 401);
    assert_eq!(none.body["message"], "Requires authentication");
    let bad = raw(
        &fake,
        "GET",
        "/repos/acme/app",
        Some("Bearer nope"),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(bad.status, 401);
    assert_eq!(bad.body["message"], "Bad credentials");
    assert_eq!(
        bad.body["documentation_url"],
        "https://docs.github.com/rest"
    );
    let scheme = format!("token {}", fake.token());
    let ok = raw(
        &fake,
        "GET",
        "/repos/acme/app",
        Some(&scheme),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(ok.status, 200, "the `token` scheme works too");

    // An installation token (Actions' GITHUB_TOKEN) cannot read /user.
    fake.add_app_token("ghs_installation");
    let app = raw(
        &fake,
        "GET",
        "/user",
        Some("Bearer ghs_installation"),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(app.status, 403);
    assert_eq!(
        app.body["message"],
        "Resource not accessible by integration"
    );

    let gh = client_with(&fake, "wrong");
    let (status, message) = gh
        .run(gh.repos("acme", "app").get())
        .map(|_| ())
        .map_err(github_error)
        .unwrap_err();
    assert_eq!((status, message.as_str()), (401, "Bad credentials"));
}

#[test]
fn unknown_repositories_and_routes_are_404() {
    let fake = FakeGitHub::start();
    let reply = api(&fake, "GET", "/repos/acme/missing", None);
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["message"], "Not Found");
    fake.add_repo("acme", "app");
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app/unknown", None).status,
        404
    );
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app/", None).status,
        404,
        "trailing slash"
    );
    assert_eq!(
        api(&fake, "GET", "/repos/ACME/App", None).status,
        200,
        "names are case-insensitive"
    );
}

// ------------------------------------------------------------------------------------------------
// Issues, labels, comments

#[test]
fn issues_are_created_listed_filtered_and_updated() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let gh = client(&fake);
    gh.run(async {
        let issues = gh.issues("acme", "app");
        let plan = issues
            .create("Plan: add a flag")
            .body("## Steps")
            .labels(vec!["oneshot-plan".to_string()])
            .send()
            .await
            .expect("create issue");
        assert_eq!(plan.number, 1);
        assert_eq!(
            plan.labels[0].name, "oneshot-plan",
            "unknown labels are created, as on GitHub"
        );
        assert_eq!(
            plan.html_url.as_str(),
            "https://github.com/acme/app/issues/1"
        );
        let other = issues.create("Unrelated").send().await.unwrap();
        assert_eq!(other.number, 2);

        let labelled = issues
            .list()
            .labels(&["oneshot-plan".to_string()])
            .send()
            .await
            .unwrap();
        assert_eq!(
            labelled.items.iter().map(|i| i.number).collect::<Vec<_>>(),
            vec![1]
        );
        let all = issues.list().send().await.unwrap();
        assert_eq!(
            all.items.iter().map(|i| i.number).collect::<Vec<_>>(),
            vec![2, 1],
            "newest first"
        );

        let closed = issues
            .update(2)
            .state(IssueState::Closed)
            .send()
            .await
            .unwrap();
        assert_eq!(closed.state, IssueState::Closed);
        assert!(closed.closed_at.is_some());
        let open = issues.list().send().await.unwrap();
        assert_eq!(open.items.len(), 1);
        let edited = issues
            .update(1)
            .body("## Steps\n### Step 1: do it")
            .send()
            .await
            .unwrap();
        assert_eq!(edited.body.as_deref(), Some("## Steps\n### Step 1: do it"));
        let got = issues.get(1).await.unwrap();
        assert_eq!(got.title, "Plan: add a flag");
    });
    let creator = api(
        &fake,
        "GET",
        &format!("/repos/acme/app/issues?state=all&creator={DEFAULT_LOGIN}"),
        None,
    );
    assert_eq!(creator.body.as_array().unwrap().len(), 2);
    let nobody = api(
        &fake,
        "GET",
        "/repos/acme/app/issues?state=all&creator=someone-else",
        None,
    );
    assert_eq!(nobody.body.as_array().unwrap().len(), 0);
    let state = fake.state();
    assert_eq!(state.issues("acme", "app").len(), 2);
    assert_eq!(state.issue("acme", "app", 2).unwrap().state, "closed");
    assert_eq!(fake.count("POST", "/repos/acme/app/issues"), 2);
    assert!(fake.schema_violations().is_empty());
    assert_payloads_match_github(&fake);
}

#[test]
fn issue_lists_are_paginated_with_link_headers() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    for i in 1..=5 {
        fake.create_issue("acme", "app", &format!("Issue {i}"), "", &["bug"]);
    }
    let first = api(
        &fake,
        "GET",
        "/repos/acme/app/issues?labels=bug&per_page=2",
        None,
    );
    assert_eq!(first.body.as_array().unwrap().len(), 2);
    let link = first.header("link").expect("a Link header");
    let api_url = fake.api_url();
    assert!(
        link.contains(&format!(
            "<{api_url}/repos/acme/app/issues?labels=bug&per_page=2&page=2>; rel=\"next\""
        )),
        "{link}"
    );
    assert!(link.contains("page=3>; rel=\"last\""), "{link}");
    let last = api(
        &fake,
        "GET",
        "/repos/acme/app/issues?labels=bug&per_page=2&page=3",
        None,
    );
    assert_eq!(last.body.as_array().unwrap().len(), 1);
    assert!(last.header("link").unwrap().contains("rel=\"prev\""));

    // octocrab follows the same links.
    let gh = client(&fake);
    let numbers = gh.run(async {
        let page = gh
            .issues("acme", "app")
            .list()
            .per_page(2u8)
            .send()
            .await
            .unwrap();
        let all = gh.all_pages(page).await.unwrap();
        all.iter().map(|i| i.number).collect::<Vec<_>>()
    });
    assert_eq!(numbers, vec![5, 4, 3, 2, 1]);
    assert_payloads_match_github(&fake);
}

#[test]
fn labels_are_created_added_and_removed() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let number = fake.create_issue("acme", "app", "Plan", "body", &[]);
    let gh = client(&fake);
    gh.run(async {
        let issues = gh.issues("acme", "app");
        let label = issues
            .create_label("oneshot-plan", "0e8a16", "Plans made by oneshot")
            .await
            .expect("create label");
        assert_eq!(label.description.as_deref(), Some("Plans made by oneshot"));
        let again = issues
            .create_label("Oneshot-Plan", "0e8a16", "")
            .await
            .map_err(github_error)
            .unwrap_err();
        assert_eq!(again.0, 422);
        let got = issues.get_label("oneshot-plan").await.expect("get label");
        assert_eq!(got.color, "0e8a16");
        let now = issues
            .add_labels(number, &["oneshot-plan".to_string(), "oneshot".to_string()])
            .await
            .unwrap();
        assert_eq!(
            now.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["oneshot-plan", "oneshot"]
        );
        let left = issues.remove_label(number, "oneshot").await.unwrap();
        assert_eq!(left.len(), 1);
    });
    let spaced = api(
        &fake,
        "POST",
        "/repos/acme/app/labels",
        Some(json!({"name": "good first issue"})),
    );
    assert_eq!(
        spaced.body["url"],
        format!(
            "{}/repos/acme/app/labels/good%20first%20issue",
            fake.api_url()
        )
    );
    assert_eq!(
        api(
            &fake,
            "GET",
            "/repos/acme/app/labels/good%20first%20issue",
            None
        )
        .status,
        200
    );
    let missing = api(&fake, "GET", "/repos/acme/app/labels/nope", None);
    assert_eq!(missing.status, 404);
    let set = api(
        &fake,
        "PUT",
        &format!("/repos/acme/app/issues/{number}/labels"),
        Some(json!({"labels": ["a", "b"]})),
    );
    assert_eq!(set.status, 200);
    assert_eq!(
        fake.state().issue("acme", "app", number).unwrap().labels,
        ["a", "b"]
    );
    let bad_color = api(
        &fake,
        "POST",
        "/repos/acme/app/labels",
        Some(json!({"name": "x", "color": "red"})),
    );
    assert_eq!(bad_color.status, 422);
    assert_eq!(bad_color.body["errors"][0]["field"], "color");
    assert!(fake.schema_violations().is_empty());
    assert_payloads_match_github(&fake);
}

#[test]
fn comments_are_created_listed_and_updated_with_patch_or_post() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let number = fake.create_issue("acme", "app", "Plan", "body", &[]);
    let gh = client(&fake);
    let id = gh.run(async {
        let issues = gh.issues("acme", "app");
        let c = issues
            .create_comment(number, "<!-- oneshot:comment:progress -->\nstarted")
            .await
            .unwrap();
        assert_eq!(
            c.html_url.as_str(),
            format!(
                "https://github.com/acme/app/issues/{number}#issuecomment-{}",
                c.id
            )
        );
        // octocrab sends POST for comment updates.
        let updated = issues
            .update_comment(c.id, "<!-- oneshot:comment:progress -->\ndone")
            .await
            .unwrap();
        assert_eq!(
            updated.body.as_deref(),
            Some("<!-- oneshot:comment:progress -->\ndone")
        );
        let list = issues.list_comments(number).send().await.unwrap();
        assert_eq!(list.items.len(), 1);
        c.id.0
    });
    assert_eq!(fake.count("POST", "/repos/acme/app/issues/comments/*"), 1);
    let patched = api(
        &fake,
        "PATCH",
        &format!("/repos/acme/app/issues/comments/{id}"),
        Some(json!({"body": "final"})),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(
        fake.state().comments("acme", "app", number)[0].body,
        "final"
    );
    let blank = api(
        &fake,
        "POST",
        &format!("/repos/acme/app/issues/{number}/comments"),
        Some(json!({"body": " "})),
    );
    assert_eq!(blank.status, 422);
    let too_long = "x".repeat(65_537);
    let long = api(
        &fake,
        "POST",
        &format!("/repos/acme/app/issues/{number}/comments"),
        Some(json!({"body": too_long})),
    );
    assert_eq!(long.status, 422);
    assert_eq!(
        api(
            &fake,
            "DELETE",
            &format!("/repos/acme/app/issues/comments/{id}"),
            None
        )
        .status,
        204
    );
    assert!(fake.state().comments("acme", "app", number).is_empty());
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app/issues/99/comments", None).status,
        404
    );
    assert_payloads_match_github(&fake);
}

// ------------------------------------------------------------------------------------------------
// Pull requests and GraphQL

#[test]
fn pulls_are_created_as_drafts_listed_updated_and_marked_ready_with_graphql() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.add_file(
        "acme",
        "app",
        "oneshot-add-flag",
        ".worker-impl/task.md",
        "Add a flag\n",
    );
    let issue = fake.create_issue("acme", "app", "Plan", "", &[]);
    let gh = client(&fake);
    gh.run(async {
        let pulls = gh.pulls("acme", "app");
        let pr = pulls
            .create("[WIP] Add a flag", "oneshot-add-flag", "main")
            .body("Working on it")
            .draft(true)
            .send()
            .await
            .expect("create pull");
        assert_eq!(pr.number, issue + 1, "issues and pull requests share numbers");
        assert_eq!(pr.draft, Some(true));
        assert_eq!(pr.head.ref_field, "oneshot-add-flag");
        assert_eq!(pr.html_url.as_ref().map(|u| u.as_str()), Some("https://github.com/acme/app/pull/2"));

        let by_head = pulls.list().head("acme:oneshot-add-flag").send().await.unwrap();
        assert_eq!(by_head.items.len(), 1);
        let other_head = pulls.list().head("acme:nothing").send().await.unwrap();
        assert!(other_head.items.is_empty());

        let renamed = pulls.update(pr.number).title("Add a flag").send().await.unwrap();
        assert_eq!(renamed.title.as_deref(), Some("Add a flag"));

        let reviewers = pulls.request_reviews(pr.number, vec!["reviewer1".to_string()], Vec::<String>::new()).await;
        assert!(reviewers.is_ok(), "{reviewers:?}");
        let author = pulls.request_reviews(pr.number, vec![DEFAULT_LOGIN.to_string()], Vec::<String>::new()).await;
        assert_eq!(author.map_err(github_error).unwrap_err().0, 422);

        let node_id = pr.node_id.clone().expect("node id");
        let data: Value = gh
            .graphql(&json!({
                "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id isDraft number } } }",
                "variables": {"id": node_id}
            }))
            .await
            .expect("graphql");
        assert_eq!(data["markPullRequestReadyForReview"]["pullRequest"], json!({"id": node_id, "isDraft": false, "number": 2}));
        let got = pulls.get(pr.number).await.unwrap();
        assert_eq!(got.draft, Some(false));
    });
    // REST cannot take a pull request out of draft: the field is ignored.
    fake.create_pull("acme", "app", "oneshot-add-flag", "main", "second", true);
    let patched = api(
        &fake,
        "PATCH",
        "/repos/acme/app/pulls/3",
        Some(json!({"draft": false})),
    );
    assert_eq!(patched.status, 200);
    assert_eq!(patched.body["draft"], true);
    // Pull requests show up in the issues list, with `pull_request`.
    let listed = api(&fake, "GET", "/repos/acme/app/issues", None);
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["number"] == 2 && i["pull_request"].is_object())
    );
    let state = fake.state();
    let pull = state.pull("acme", "app", 2).unwrap();
    assert!(!pull.draft);
    assert_eq!(pull.requested_reviewers, ["reviewer1"]);
    assert_eq!(state.pulls("acme", "app").len(), 2);
    assert!(state.issues("acme", "app").iter().all(|i| i.pull.is_none()));
    assert!(fake.schema_violations().is_empty());
    assert_payloads_match_github(&fake);
}

#[test]
fn pull_creation_is_refused_like_github() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let create = |head: &str| {
        api(
            &fake,
            "POST",
            "/repos/acme/app/pulls",
            Some(json!({"title": "t", "head": head, "base": "main"})),
        )
    };
    let missing = create("no-such-branch");
    assert_eq!(missing.status, 422);
    assert_eq!(missing.body["message"], "Validation Failed");
    assert_eq!(
        missing.body["errors"],
        json!([{"resource": "PullRequest", "field": "head", "code": "invalid"}])
    );

    fake.add_branch("acme", "app", "same", "main");
    let no_commits = create("same");
    assert_eq!(no_commits.status, 422);
    assert_eq!(
        no_commits.body["errors"][0]["message"],
        "No commits between main and same"
    );

    fake.add_file("acme", "app", "feature", "a.txt", "a");
    assert_eq!(create("acme:feature").status, 201);
    let twice = create("feature");
    assert_eq!(twice.status, 422);
    assert_eq!(
        twice.body["errors"][0]["message"],
        "A pull request already exists for acme:feature."
    );
    let no_title = api(
        &fake,
        "POST",
        "/repos/acme/app/pulls",
        Some(json!({"head": "feature", "base": "main"})),
    );
    assert_eq!(no_title.status, 422);
    assert_payloads_match_github(&fake);
}

#[test]
fn graphql_answers_errors_like_github() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let post = |query: &str| {
        let auth = format!("Bearer {}", fake.token());
        let body = json!({"query": query}).to_string();
        raw(
            &fake,
            "POST",
            "/graphql",
            Some(&auth),
            Some(&body),
            Duration::from_secs(5),
        )
        .unwrap()
    };
    let unknown = post("mutation { mergeEverything(input: {}) { ok } }");
    assert_eq!(unknown.status, 200);
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "Field 'mergeEverything' doesn't exist on type 'Mutation'"
    );
    assert_eq!(
        unknown.body["errors"][0]["extensions"]["code"],
        "undefinedField"
    );
    let missing = post(
        r#"mutation { markPullRequestReadyForReview(input: {pullRequestId: "PR_nope"}) { pullRequest { id } } }"#,
    );
    assert_eq!(
        missing.body["data"]["markPullRequestReadyForReview"],
        Value::Null
    );
    assert_eq!(missing.body["errors"][0]["type"], "NOT_FOUND");
    let broken = post("mutation { markPullRequestReadyForReview(input: ");
    assert!(
        broken.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("Parse error"),
        "{:?}",
        broken.body
    );
    fake.add_file("acme", "app", "feature", "a.txt", "a");
    let number = fake.create_pull("acme", "app", "feature", "main", "t", false);
    let node = fake.state().pull("acme", "app", number).unwrap().node_id;
    let converted = post(&format!(
        r#"mutation {{ convertPullRequestToDraft(input: {{pullRequestId: "{node}"}}) {{ pullRequest {{ isDraft }} }} }}"#
    ));
    assert_eq!(
        converted.body["data"]["convertPullRequestToDraft"]["pullRequest"]["isDraft"],
        true
    );
    assert!(fake.state().pull("acme", "app", number).unwrap().draft);
    let viewer = post("{ viewer { login } }");
    assert_eq!(viewer.body["data"]["viewer"]["login"], DEFAULT_LOGIN);
    let anonymous = raw(
        &fake,
        "POST",
        "/graphql",
        None,
        Some("{}"),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(anonymous.status, 401);
    assert_eq!(
        anonymous.body["documentation_url"],
        "https://docs.github.com/graphql"
    );
}

// ------------------------------------------------------------------------------------------------
// Actions

#[test]
fn dispatch_returns_run_details_and_runs_carry_the_rendered_run_name() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.add_workflow("acme", "app", "oneshot.yml", WORKFLOW);
    let gh = client(&fake);
    gh.run(async {
        let wf = gh.workflows("acme", "app").get_workflow("oneshot.yml").await.expect("get workflow");
        assert_eq!(wf.name, "oneshot");
        assert_eq!(wf.path, ".github/workflows/oneshot.yml");
        let details: Value = gh
            .post(
                "/repos/acme/app/actions/workflows/oneshot.yml/dispatches",
                Some(&json!({"ref": "main", "inputs": {"prompt": "Add a flag", "distinct_id": "d-42"}, "return_run_details": true})),
            )
            .await
            .expect("dispatch");
        let run_id = details["workflow_run_id"].as_u64().expect("run id");
        assert_eq!(details["html_url"], format!("https://github.com/acme/app/actions/runs/{run_id}"));

        let runs = gh.workflows("acme", "app").list_runs("oneshot.yml").send().await.expect("list runs");
        assert_eq!(runs.items.len(), 1);
        assert_eq!(runs.items[0].id.0, run_id);
        assert_eq!(runs.items[0].status, "queued");
        let run = gh.workflows("acme", "app").get(octocrab::models::RunId(run_id)).await.expect("get run");
        assert_eq!(run.head_branch, "main");
        let raw_run: Value = gh.get(format!("/repos/acme/app/actions/runs/{run_id}"), None::<&()>).await.unwrap();
        assert_eq!(raw_run["display_title"], format!("oneshot d-42 by {DEFAULT_LOGIN}"));
        assert_eq!(raw_run["name"], "oneshot");
    });
    let run_id = fake.state().runs()[0].id;
    fake.set_run_status(run_id, "completed", Some("success"));
    let done = api(
        &fake,
        "GET",
        "/repos/acme/app/actions/workflows/oneshot.yml/runs?status=success",
        None,
    );
    assert_eq!(done.body["total_count"], 1);
    let queued = api(
        &fake,
        "GET",
        "/repos/acme/app/actions/workflows/oneshot.yml/runs?status=queued",
        None,
    );
    assert_eq!(queued.body["total_count"], 0);
    let since = api(
        &fake,
        "GET",
        "/repos/acme/app/actions/workflows/oneshot.yml/runs?created=>=2024-01-15T14:30:00Z",
        None,
    );
    assert_eq!(since.body["total_count"], 1);
    let before = api(
        &fake,
        "GET",
        "/repos/acme/app/actions/workflows/oneshot.yml/runs?created=<2024-01-15",
        None,
    );
    assert_eq!(before.body["total_count"], 0);
    let dispatch = &fake.state().dispatches()[0];
    assert_eq!(dispatch.inputs["distinct_id"], "d-42");
    assert_eq!(dispatch.return_run_details, Some(true));
    assert!(fake.schema_violations().is_empty());
    assert_payloads_match_github(&fake);
}

#[test]
fn dispatch_without_run_details_answers_204_and_runs_appear_late() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.add_workflow("acme", "app", "oneshot.yml", WORKFLOW);
    fake.set_return_run_details("acme", "app", false);
    fake.set_run_list_lag("acme", "app", 2);
    let body = json!({"ref": "main", "inputs": {"prompt": "p", "distinct_id": "abc"}, "return_run_details": true});
    let reply = api(
        &fake,
        "POST",
        "/repos/acme/app/actions/workflows/oneshot.yml/dispatches",
        Some(body),
    );
    assert_eq!(reply.status, 204);
    assert_eq!(reply.body, Value::Null);
    let list = || {
        api(
            &fake,
            "GET",
            "/repos/acme/app/actions/workflows/oneshot.yml/runs",
            None,
        )
        .body["total_count"]
            .clone()
    };
    assert_eq!(list(), 0);
    assert_eq!(list(), 0);
    assert_eq!(list(), 1, "listed from the third poll on");
    // octocrab's own dispatch call (it expects no body).
    let gh = client(&fake);
    gh.run(
        gh.actions()
            .create_workflow_dispatch("acme", "app", "oneshot.yml", "main")
            .inputs(json!({"prompt": "p"}))
            .send(),
    )
    .expect("octocrab dispatch");
    assert_eq!(fake.state().runs().len(), 2);
    assert_eq!(
        fake.state().runs()[1].display_title,
        format!("oneshot  by {DEFAULT_LOGIN}"),
        "defaults fill missing inputs"
    );
    assert_payloads_match_github(&fake);
}

#[test]
fn display_titles_come_from_run_name_or_the_workflow_name() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let event_inputs = "run-name: Task ${{ github.event.inputs.prompt }} on ${{ github.ref_name }}\n\
                        on:\n  workflow_dispatch:\n    inputs:\n      prompt: {required: true}\n";
    fake.add_workflow("acme", "app", "event.yml", event_inputs);
    fake.add_workflow(
        "acme",
        "app",
        "named.yml",
        "name: Nightly\non: [push, workflow_dispatch]\n",
    );
    fake.add_workflow("acme", "app", "bare.yml", "on: workflow_dispatch\n");
    for (file, inputs) in [
        ("event.yml", json!({"prompt": "fix it"})),
        ("named.yml", json!({})),
        ("bare.yml", json!({})),
    ] {
        let body = json!({"ref": "main", "inputs": inputs});
        let route = format!("/repos/acme/app/actions/workflows/{file}/dispatches");
        assert_eq!(api(&fake, "POST", &route, Some(body)).status, 204, "{file}");
    }
    let titles: Vec<String> = fake
        .state()
        .runs()
        .iter()
        .map(|r| r.display_title.clone())
        .collect();
    assert_eq!(
        titles,
        [
            "Task fix it on main",
            "Nightly",
            ".github/workflows/bare.yml"
        ]
    );
    let numbers: Vec<u64> = fake.state().runs().iter().map(|r| r.run_number).collect();
    assert_eq!(numbers, [1, 1, 1], "run numbers count per workflow");
    assert_payloads_match_github(&fake);
}

#[test]
fn state_can_be_edited_for_situations_no_endpoint_creates() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.add_file("acme", "app", "feature", "a.txt", "a");
    let number = fake.create_pull("acme", "app", "feature", "main", "Done", false);
    fake.edit(|s| {
        let issue = s
            .repo_mut("acme", "app")
            .unwrap()
            .issues
            .get_mut(&number)
            .unwrap();
        issue.state = "closed".into();
        issue.closed_at = Some("2024-01-15T15:00:00Z".into());
        let pull = issue.pull.as_mut().unwrap();
        pull.merged = true;
        pull.merged_at = Some("2024-01-15T15:00:00Z".into());
    });
    let gh = client(&fake);
    let pr = gh.run(gh.pulls("acme", "app").get(number)).unwrap();
    assert_eq!(
        pr.merged_at.map(|t| t.to_rfc3339()).as_deref(),
        Some("2024-01-15T15:00:00+00:00")
    );
    assert_payloads_match_github(&fake);
}

#[test]
fn dispatch_is_refused_like_github() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.add_workflow("acme", "app", "oneshot.yml", WORKFLOW);
    fake.add_workflow("acme", "app", "ci.yml", "name: CI\non: push\njobs: {}\n");
    let dispatch = |file: &str, body: Value| {
        api(
            &fake,
            "POST",
            &format!("/repos/acme/app/actions/workflows/{file}/dispatches"),
            Some(body),
        )
    };
    let message = |r: Reply| {
        (
            r.status,
            r.body["message"].as_str().unwrap_or_default().to_string(),
        )
    };
    assert_eq!(dispatch("missing.yml", json!({"ref": "main"})).status, 404);
    assert_eq!(
        api(
            &fake,
            "GET",
            "/repos/acme/app/actions/workflows/missing.yml",
            None
        )
        .status,
        404
    );
    assert_eq!(
        message(dispatch(
            "oneshot.yml",
            json!({"ref": "nope", "inputs": {"prompt": "p"}})
        )),
        (422, "No ref found for: nope".into())
    );
    assert_eq!(
        message(dispatch(
            "oneshot.yml",
            json!({"ref": "main", "inputs": {"prompt": "p", "extra": "x"}})
        )),
        (422, "Unexpected inputs provided: [\"extra\"]".into())
    );
    assert_eq!(
        message(dispatch("oneshot.yml", json!({"ref": "main"}))),
        (422, "Required input 'prompt' not provided".into())
    );
    assert_eq!(
        message(dispatch(
            "oneshot.yml",
            json!({"ref": "main", "inputs": {"prompt": "p", "model": "gpt"}})
        ))
        .0,
        422
    );
    assert_eq!(
        message(dispatch("ci.yml", json!({"ref": "main"}))),
        (
            422,
            "Workflow does not have 'workflow_dispatch' trigger".into()
        )
    );
    // Missing `ref` is a schema violation.
    let no_ref = dispatch("oneshot.yml", json!({"inputs": {"prompt": "p"}}));
    assert_eq!(
        message(no_ref),
        (422, "Invalid request.\n\n\"ref\" wasn't supplied.".into())
    );
    assert_eq!(fake.schema_violations().len(), 1);
    assert!(fake.state().runs().is_empty());
}

// ------------------------------------------------------------------------------------------------
// Schema validation

#[test]
fn request_bodies_are_checked_against_githubs_schema() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let number = fake.create_issue("acme", "app", "t", "b", &[]);
    let bad_title = api(
        &fake,
        "POST",
        "/repos/acme/app/issues",
        Some(json!({"title": ["not", "a", "string"]})),
    );
    assert_eq!(bad_title.status, 422);
    assert!(
        bad_title.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid request.\n\n"),
        "{:?}",
        bad_title.body
    );
    let bad_state = api(
        &fake,
        "PATCH",
        &format!("/repos/acme/app/issues/{number}"),
        Some(json!({"state": "merged"})),
    );
    assert_eq!(bad_state.status, 422);
    assert_eq!(
        bad_state.body["message"],
        "Invalid request.\n\nFor 'state', \"merged\" is not a member of [\"open\", \"closed\"]."
    );
    let bad_labels = api(
        &fake,
        "POST",
        &format!("/repos/acme/app/issues/{number}/labels"),
        Some(json!({"labels": []})),
    );
    assert_eq!(bad_labels.status, 422, "minItems");
    let not_json = raw(
        &fake,
        "POST",
        "/repos/acme/app/issues",
        Some(&format!("Bearer {}", fake.token())),
        Some("{title:"),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(not_json.status, 400);
    assert_eq!(not_json.body["message"], "Problems parsing JSON");
    let violations = fake.schema_violations();
    assert_eq!(violations.len(), 4, "{}", fake.request_summary());
    assert_eq!(
        violations[0].endpoint.as_deref(),
        Some("POST /repos/{owner}/{repo}/issues")
    );
    assert_eq!(
        fake.state().issues("acme", "app").len(),
        1,
        "nothing was applied"
    );
    // Semantic checks after the schema: an empty title is GitHub's "Validation Failed".
    let empty = api(
        &fake,
        "POST",
        "/repos/acme/app/issues",
        Some(json!({"title": ""})),
    );
    assert_eq!(
        empty.body["errors"],
        json!([{"resource": "Issue", "code": "missing_field", "field": "title"}])
    );
}

#[test]
fn the_validator_understands_every_keyword_the_schemas_use() {
    let (known, used) = schema_keywords();
    let unknown: Vec<&String> = used
        .iter()
        .filter(|k| !known.contains(&k.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "the schema extract uses keywords the validator ignores: {unknown:?}"
    );
    assert!(used.iter().any(|k| k == "oneOf") && used.iter().any(|k| k == "nullable"));
    let (served, extracted) = endpoints();
    assert_eq!(
        served, extracted,
        "the router and scripts/extract-github-schema.py list different endpoints"
    );
    // Spot checks of the subset.
    let dispatch = "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches";
    assert!(check_request_body(dispatch, &json!({"ref": "main", "inputs": {"a": "b"}})).is_ok());
    let too_many: serde_json::Map<String, Value> =
        (0..26).map(|i| (format!("i{i}"), json!("v"))).collect();
    assert!(
        check_request_body(dispatch, &json!({"ref": "main", "inputs": too_many})).is_err(),
        "maxProperties"
    );
    let issue = "POST /repos/{owner}/{repo}/issues";
    assert!(
        check_request_body(issue, &json!({"title": 5})).is_ok(),
        "oneOf string|integer"
    );
    assert!(
        check_request_body(issue, &json!({"title": "t", "milestone": null})).is_ok(),
        "nullable"
    );
    assert!(
        check_request_body(
            issue,
            &json!({"title": "t", "labels": [{"name": "x"}, "y"]})
        )
        .is_ok()
    );
    assert!(check_request_body(issue, &json!({"title": "t", "labels": [true]})).is_err());
}

#[test]
fn the_response_check_catches_payloads_github_would_not_send() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let mut repo = api(&fake, "GET", "/repos/acme/app", None).body;
    assert!(check_response_body("GET /repos/{owner}/{repo}", 200, &repo).is_ok());
    repo.as_object_mut().unwrap().remove("default_branch");
    let problem = check_response_body("GET /repos/{owner}/{repo}", 200, &repo).unwrap_err();
    assert_eq!(problem, "\"default_branch\" wasn't supplied.");
    repo["default_branch"] = json!("main");
    repo["owner"]["avatar_url"] = json!("not a uri");
    assert!(
        check_response_body("GET /repos/{owner}/{repo}", 200, &repo).is_err(),
        "format uri"
    );
    repo["owner"]["avatar_url"] = json!("https://avatars.githubusercontent.com/u/1?v=4");
    repo["created_at"] = json!("yesterday");
    assert!(
        check_response_body("GET /repos/{owner}/{repo}", 200, &repo).is_err(),
        "format date-time"
    );
}

// ------------------------------------------------------------------------------------------------
// Faults

#[test]
fn status_and_rate_limit_faults_answer_instead_of_the_endpoint() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.inject(Fault::on("GET", "/repos/*/*").server_error(502).times(2));
    assert_eq!(api(&fake, "GET", "/repos/acme/app", None).status, 502);
    assert_eq!(api(&fake, "GET", "/repos/acme/app", None).status, 502);
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app", None).status,
        200,
        "only twice"
    );

    fake.inject(
        Fault::on("GET", "/repos/acme/app")
            .server_error(500)
            .times(0),
    );
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app", None).status,
        200,
        "times(0) never applies"
    );
    fake.clear_faults();

    fake.inject(Fault::on("POST", "/repos/acme/app/issues").retry_after(429, 7));
    let limited = api(
        &fake,
        "POST",
        "/repos/acme/app/issues",
        Some(json!({"title": "t"})),
    );
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert!(
        limited.body["message"]
            .as_str()
            .unwrap()
            .contains("secondary rate limit")
    );
    fake.inject(Fault::on("POST", "/repos/acme/app/issues").retry_after(403, 1));
    assert_eq!(
        api(
            &fake,
            "POST",
            "/repos/acme/app/issues",
            Some(json!({"title": "t"}))
        )
        .status,
        403
    );

    fake.inject(Fault::on("*", "/repos/acme/app/**").rate_limit(Duration::from_secs(60)));
    let primary = api(&fake, "GET", "/repos/acme/app/issues", None);
    assert_eq!(primary.status, 403);
    assert_eq!(primary.header("x-ratelimit-remaining"), Some("0"));
    let reset: u64 = primary
        .header("x-ratelimit-reset")
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 55..=now + 65).contains(&reset),
        "reset {reset}, now {now}"
    );

    fake.inject(
        Fault::on("GET", "/user")
            .status(500, json!({"message": "boom"}))
            .with_header("x-extra", "1"),
    );
    let custom = api(&fake, "GET", "/user", None);
    assert_eq!((custom.status, custom.header("x-extra")), (500, Some("1")));
    assert_eq!(custom.body["message"], "boom");

    assert!(
        fake.state().issues("acme", "app").is_empty(),
        "no faulted request was applied"
    );
    assert_eq!(fake.faults_left(), 0);
    let log = fake.requests_to("POST", "/repos/acme/app/issues");
    assert_eq!(log[0].fault.as_deref(), Some("status 429"));
}

#[test]
fn dropped_and_slow_connections() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let auth = format!("Bearer {}", fake.token());
    let post = |timeout: Duration| {
        raw(
            &fake,
            "POST",
            "/repos/acme/app/issues",
            Some(&auth),
            Some(r#"{"title":"t"}"#),
            timeout,
        )
    };
    let issues = || fake.state().issues("acme", "app").len();

    fake.inject(Fault::on("POST", "/repos/acme/app/issues").drop_connection());
    assert!(post(Duration::from_secs(5)).is_err(), "no answer");
    assert_eq!(issues(), 0, "a dropped request is not applied");

    fake.inject(Fault::on("POST", "/repos/acme/app/issues").landed_then_drop());
    assert!(post(Duration::from_secs(5)).is_err(), "no answer");
    assert_eq!(issues(), 1, "but it landed");

    fake.inject(
        Fault::on("POST", "/repos/acme/app/issues").landed_then_delay(Duration::from_millis(800)),
    );
    let err = post(Duration::from_millis(150)).expect_err("the client times out");
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err:?}"
    );
    wait_until("the late request is applied", || issues() == 2);

    fake.inject(Fault::on("POST", "/repos/acme/app/issues").delay(Duration::from_millis(150)));
    let started = Instant::now();
    let slow = post(Duration::from_secs(5)).expect("answered");
    assert!(started.elapsed() >= Duration::from_millis(150));
    assert_eq!(slow.status, 201);
    assert_eq!(issues(), 3);

    let log = fake.requests_to("POST", "/repos/acme/app/issues");
    assert_eq!(log.len(), 4);
    assert_eq!((log[0].status, log[0].answered), (None, false));
    assert_eq!((log[1].status, log[1].answered), (Some(201), false));
    assert_eq!(log[2].status, Some(201));
    assert_eq!(log[3].fault.as_deref(), Some("delay 150ms"));

    // octocrab sees a dropped connection as a transport error.
    fake.inject(Fault::on("GET", "/repos/acme/app").drop_connection());
    let gh = client(&fake);
    let err = gh.run(gh.repos("acme", "app").get()).expect_err("dropped");
    assert!(!matches!(err, octocrab::Error::GitHub { .. }), "{err:?}");
}

#[test]
fn a_server_error_either_did_not_land_or_did() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let auth = format!("Bearer {}", fake.token());
    let post = || {
        raw(
            &fake,
            "POST",
            "/repos/acme/app/issues",
            Some(&auth),
            Some(r#"{"title":"t"}"#),
            Duration::from_secs(5),
        )
        .expect("answered")
    };
    let issues = || fake.state().issues("acme", "app").len();

    fake.inject(Fault::on("POST", "/repos/acme/app/issues").server_error(502));
    assert_eq!(post().status, 502);
    assert_eq!(issues(), 0, "a plain 5xx is not applied");

    fake.inject(Fault::on("POST", "/repos/acme/app/issues").landed_then_server_error(502));
    let answer = post();
    assert_eq!(answer.status, 502);
    assert_eq!(issues(), 1, "but this one landed");

    let log = fake.requests_to("POST", "/repos/acme/app/issues");
    assert_eq!(log[1].fault.as_deref(), Some("landed, then status 502"));
    assert_eq!((log[1].status, log[1].answered), (Some(502), true));
}

#[test]
fn faults_do_not_slow_down_other_requests_or_the_drop() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.inject(Fault::on("GET", "/user").delay(Duration::from_secs(30)));
    let addr = fake.addr();
    let auth = format!("Bearer {}", fake.token());
    let waiting = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let _ = s.write_all(
            format!("GET /user HTTP/1.1\r\nAuthorization: {auth}\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        );
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    });
    wait_until("the slow request arrives", || {
        fake.count("GET", "/user") == 1
    });
    let started = Instant::now();
    assert_eq!(api(&fake, "GET", "/repos/acme/app", None).status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a slow request blocks nobody"
    );
    drop(fake);
    assert!(
        waiting.join().unwrap().is_empty(),
        "stopping the server ends the delayed request without an answer"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "dropping does not wait for the delay"
    );
}

// ------------------------------------------------------------------------------------------------
// Request log

#[test]
fn the_log_records_requests_and_counts_them_by_pattern() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    let number = fake.create_issue("acme", "app", "t", "b", &[]);
    api(
        &fake,
        "POST",
        &format!("/repos/acme/app/issues/{number}/comments"),
        Some(json!({"body": "one"})),
    );
    api(
        &fake,
        "POST",
        &format!("/repos/acme/app/issues/{number}/comments"),
        Some(json!({"body": "two"})),
    );
    api(&fake, "GET", "/repos/acme/app/issues?state=all", None);
    assert_eq!(fake.requests().len(), 3);
    assert_eq!(fake.count("POST", "/repos/acme/app/issues/*/comments"), 2);
    assert_eq!(fake.count("*", "/repos/acme/**"), 3);
    assert_eq!(fake.count("GET", "/repos/acme/app/issues"), 1);
    assert_eq!(
        fake.bodies("POST", "/repos/*/*/issues/*/comments"),
        vec![json!({"body": "one"}), json!({"body": "two"})]
    );
    let get = &fake.requests()[2];
    assert_eq!(get.query_param("state"), Some("all"));
    assert_eq!(get.header("user-agent"), Some("selftest"));
    assert_eq!(get.login.as_deref(), Some(DEFAULT_LOGIN));
    assert_eq!(get.status, Some(200));
    assert!(get.answered);
    fake.clear_requests();
    assert!(fake.requests().is_empty());
}

// ------------------------------------------------------------------------------------------------
// GHES

#[test]
fn ghes_serves_rest_under_api_v3_and_graphql_at_api_graphql() {
    let fake = FakeGitHub::start_ghes();
    fake.add_repo("acme", "app");
    fake.add_file("acme", "app", "feature", "a.txt", "a");
    let base = fake.base_url();
    assert_eq!(fake.api_url(), format!("{base}/api/v3"));
    assert_eq!(fake.graphql_url(), format!("{base}/api/graphql"));
    assert_eq!(fake.server_url(), base);
    let auth = format!("Bearer {}", fake.token());
    let root = raw(
        &fake,
        "GET",
        "/repos/acme/app",
        Some(&auth),
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(root.status, 404, "no REST at the root on GHES");
    let gh = client(&fake);
    let node_id = gh.run(async {
        let repo = gh
            .repos("acme", "app")
            .get()
            .await
            .expect("REST under /api/v3");
        assert_eq!(repo.html_url.unwrap().as_str(), format!("{base}/acme/app"));
        let pr = gh
            .pulls("acme", "app")
            .create("t", "feature", "main")
            .draft(true)
            .send()
            .await
            .unwrap();
        pr.node_id.unwrap()
    });
    let query = json!({
        "query": "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { isDraft } } }",
        "variables": {"id": node_id}
    })
    .to_string();
    let wrong = raw(
        &fake,
        "POST",
        "/api/v3/graphql",
        Some(&auth),
        Some(&query),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(wrong.status, 404, "GHES has no GraphQL under /api/v3");
    let ok = raw(
        &fake,
        "POST",
        "/api/graphql",
        Some(&auth),
        Some(&query),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(
        ok.body["data"]["markPullRequestReadyForReview"]["pullRequest"]["isDraft"],
        false
    );
    assert!(!fake.state().pull("acme", "app", 1).unwrap().draft);
    let logged = &fake.requests_to("POST", "/repos/acme/app/pulls")[0];
    assert_eq!(logged.path, "/api/v3/repos/acme/app/pulls");
    assert_eq!(fake.count("POST", "/graphql"), 1);
    assert_eq!(
        fake.requests_to("POST", "/api/v3/graphql")[0].status,
        Some(404)
    );
    assert_payloads_match_github(&fake);
}

// ------------------------------------------------------------------------------------------------
// Git-backed repositories

#[test]
fn a_repository_linked_to_a_bare_git_repo_reads_refs_contents_and_workflows_from_it() {
    let env = TestEnv::new();
    let repo = env.repo_with_origin();
    repo.write(".github/workflows/oneshot.yml", WORKFLOW);
    env.git(&repo.work, ["add", "."]);
    env.git(&repo.work, ["commit", "--quiet", "-m", "Add workflow"]);
    env.git(&repo.work, ["push", "--quiet", "origin", "main"]);
    let main_sha = env
        .git(&repo.work, ["rev-parse", "HEAD"])
        .trim()
        .to_string();

    let fake = FakeGitHub::start();
    fake.link_git("acme", "app", &repo.origin);
    assert_eq!(
        fake.branch_sha("acme", "app", "main").as_deref(),
        Some(main_sha.as_str())
    );

    let gh = client(&fake);
    gh.run(async {
        let r = gh
            .repos("acme", "app")
            .get_ref(&octocrab::params::repos::Reference::Branch("main".into()))
            .await
            .expect("get ref");
        match r.object {
            octocrab::models::repos::Object::Commit { sha, .. } => assert_eq!(sha, main_sha),
            other => panic!("{other:?}"),
        }
        let content = gh
            .repos("acme", "app")
            .get_content()
            .path("README.md")
            .r#ref("main")
            .send()
            .await
            .unwrap();
        assert_eq!(
            content.items[0].decoded_content().as_deref(),
            Some("# demo\n")
        );
        let dir = gh
            .repos("acme", "app")
            .get_content()
            .path(".github")
            .send()
            .await
            .unwrap();
        assert_eq!(dir.items[0].r#type, "dir");
    });

    // A pull request needs the head branch on the remote.
    let create = || {
        api(
            &fake,
            "POST",
            "/repos/acme/app/pulls",
            Some(json!({"title": "t", "head": "feature", "base": "main", "draft": true})),
        )
    };
    assert_eq!(create().status, 422);
    env.git(&repo.work, ["checkout", "--quiet", "-b", "feature"]);
    repo.write("feature.txt", "x\n");
    env.git(&repo.work, ["add", "."]);
    env.git(&repo.work, ["commit", "--quiet", "-m", "Feature"]);
    env.git(&repo.work, ["push", "--quiet", "origin", "feature"]);
    let pr = create();
    assert_eq!(pr.status, 201);
    let feature_sha = env
        .git(&repo.work, ["rev-parse", "HEAD"])
        .trim()
        .to_string();
    assert_eq!(pr.body["head"]["sha"], feature_sha);
    // A later push moves the pull request's head.
    repo.write("feature.txt", "y\n");
    env.git(&repo.work, ["commit", "--quiet", "-am", "More"]);
    env.git(&repo.work, ["push", "--quiet", "origin", "feature"]);
    let newer = env
        .git(&repo.work, ["rev-parse", "HEAD"])
        .trim()
        .to_string();
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app/pulls/1", None).body["head"]["sha"],
        newer
    );

    // Refs created and deleted through the API change the bare repository.
    let made = gh
        .run(gh.repos("acme", "app").create_ref(
            &octocrab::params::repos::Reference::Branch("copy".into()),
            main_sha.clone(),
        ))
        .expect("create ref");
    assert_eq!(made.ref_field, "refs/heads/copy");
    assert_eq!(
        env.git(&repo.origin, ["rev-parse", "refs/heads/copy"])
            .trim(),
        main_sha
    );
    let dup = api(
        &fake,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({"ref": "refs/heads/copy", "sha": main_sha})),
    );
    assert_eq!(
        (dup.status, dup.body["message"].as_str()),
        (422, Some("Reference already exists"))
    );
    let bogus = "0".repeat(40);
    let bad = api(
        &fake,
        "POST",
        "/repos/acme/app/git/refs",
        Some(json!({"ref": "refs/heads/x", "sha": bogus})),
    );
    assert_eq!(bad.body["message"], "Object does not exist");
    assert_eq!(
        api(&fake, "DELETE", "/repos/acme/app/git/refs/heads/copy", None).status,
        204
    );
    assert!(
        Command::new("git")
            .arg("-C")
            .arg(&repo.origin)
            .args(["rev-parse", "--verify", "--quiet", "refs/heads/copy"])
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap()
            .stdout
            .is_empty()
    );
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app/git/ref/heads/copy", None).status,
        404
    );
    assert_eq!(
        api(&fake, "DELETE", "/repos/acme/app/git/refs/heads/copy", None).status,
        422
    );

    // The workflow comes from git, and its run-name at the dispatched ref.
    let dispatch = api(
        &fake,
        "POST",
        "/repos/acme/app/actions/workflows/oneshot.yml/dispatches",
        Some(
            json!({"ref": "feature", "inputs": {"prompt": "p", "distinct_id": "xyz"}, "return_run_details": true}),
        ),
    );
    assert_eq!(dispatch.status, 200);
    let run = api(
        &fake,
        "GET",
        &format!(
            "/repos/acme/app/actions/runs/{}",
            dispatch.body["workflow_run_id"]
        ),
        None,
    );
    assert_eq!(
        run.body["display_title"],
        format!("oneshot xyz by {DEFAULT_LOGIN}")
    );
    assert_eq!(run.body["head_sha"], newer);
    assert_eq!(run.body["head_commit"]["message"], "More");
    assert!(fake.schema_violations().is_empty());
    assert_payloads_match_github(&fake);
}

#[test]
fn contents_of_an_in_memory_repository() {
    let fake = FakeGitHub::start();
    fake.add_repo("acme", "app");
    fake.add_file(
        "acme",
        "app",
        "main",
        ".github/oneshot.toml",
        "agent = \"claude\"\n",
    );
    let file = api(
        &fake,
        "GET",
        "/repos/acme/app/contents/.github/oneshot.toml?ref=main",
        None,
    );
    assert_eq!(file.status, 200);
    assert_eq!(file.body["encoding"], "base64");
    assert_eq!(file.body["path"], ".github/oneshot.toml");
    let root = api(&fake, "GET", "/repos/acme/app/contents/", None);
    let names: Vec<&str> = root
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, [".github", "README.md"]);
    assert_eq!(
        api(&fake, "GET", "/repos/acme/app/contents/nope.txt", None).status,
        404
    );
    assert_eq!(
        api(
            &fake,
            "GET",
            "/repos/acme/app/contents/README.md?ref=nope",
            None
        )
        .status,
        404
    );
    assert_eq!(
        fake.file("acme", "app", "main", ".github/oneshot.toml")
            .as_deref(),
        Some("agent = \"claude\"\n")
    );
    assert_payloads_match_github(&fake);
}
