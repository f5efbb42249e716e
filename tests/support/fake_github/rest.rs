//! The REST endpoints: routing (each route named by its OpenAPI "METHOD path", which is also the
//! key of its schemas) and the handlers, which apply a request to the state and answer like GitHub.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::payloads::{self, Urls, encode_segment};
use super::server::{Inner, Response, Token, decode};
use super::state::{Comment, Dispatch, Issue, Label, PullPart, Run, State, node_id, parse_time};
use super::storage::{Entry, RefError};
use super::workflow::{Context as WorkflowContext, Workflow};

/// GitHub's limit for issue, pull request and comment bodies.
pub const MAX_BODY: usize = 65_536;

/// Every endpoint the router serves, named as in GitHub's OpenAPI description. The extraction
/// script's list must be the same (a self-test compares them).
pub const ENDPOINTS: &[&str] = &[
    "GET /user",
    "GET /repos/{owner}/{repo}",
    "GET /repos/{owner}/{repo}/contents/{path}",
    "GET /repos/{owner}/{repo}/git/ref/{ref}",
    "POST /repos/{owner}/{repo}/git/refs",
    "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
    "DELETE /repos/{owner}/{repo}/git/refs/{ref}",
    "GET /repos/{owner}/{repo}/issues",
    "POST /repos/{owner}/{repo}/issues",
    "GET /repos/{owner}/{repo}/issues/{issue_number}",
    "PATCH /repos/{owner}/{repo}/issues/{issue_number}",
    "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
    "GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}",
    "GET /repos/{owner}/{repo}/labels",
    "POST /repos/{owner}/{repo}/labels",
    "GET /repos/{owner}/{repo}/labels/{name}",
    "GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
    "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
    "PUT /repos/{owner}/{repo}/issues/{issue_number}/labels",
    "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
    "GET /repos/{owner}/{repo}/pulls",
    "POST /repos/{owner}/{repo}/pulls",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}",
    "PATCH /repos/{owner}/{repo}/pulls/{pull_number}",
    "GET /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}",
    "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
    "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
    "GET /repos/{owner}/{repo}/actions/runs/{run_id}",
    "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
];

pub(crate) struct Ctx<'a> {
    pub inner: &'a mut Inner,
    pub urls: &'a Urls,
    pub token: &'a Token,
    pub query: &'a [(String, String)],
    pub body: Option<&'a Value>,
    /// The API-relative path (for Link headers).
    pub route: &'a str,
}

impl Ctx<'_> {
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn field(&self, name: &str) -> Option<&Value> {
        self.body.and_then(|b| b.get(name)).filter(|v| !v.is_null())
    }

    fn str_field(&self, name: &str) -> Option<String> {
        self.field(name).and_then(Value::as_str).map(String::from)
    }
}

/// A matched route.
pub(crate) struct Found {
    pub endpoint: &'static str,
    pub owner: String,
    pub repo: String,
    /// The remaining path parameters, percent-decoded, in order.
    pub params: Vec<String>,
}

fn is_num(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Finds the endpoint for a method and API path. Unknown routes (and known paths with a method
/// GitHub does not serve there) are 404s, as on GitHub.
pub(crate) fn route(method: &str, path: &str) -> Option<Found> {
    let segments: Vec<String> = path.strip_prefix('/')?.split('/').map(decode).collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    if method == "GET" && s == ["user"] {
        return Some(Found {
            endpoint: "GET /user",
            owner: String::new(),
            repo: String::new(),
            params: vec![],
        });
    }
    let ["repos", owner, repo, rest @ ..] = s.as_slice() else {
        return None;
    };
    if owner.is_empty() || repo.is_empty() {
        return None;
    }
    let one = |p: &str| vec![p.to_string()];
    let (endpoint, params): (&'static str, Vec<String>) = match (method, rest) {
        ("GET", []) => ("GET /repos/{owner}/{repo}", vec![]),
        ("GET", ["contents", path @ ..]) => (
            "GET /repos/{owner}/{repo}/contents/{path}",
            vec![path.join("/")],
        ),
        ("GET", ["git", "ref", r @ ..]) if !r.is_empty() => {
            ("GET /repos/{owner}/{repo}/git/ref/{ref}", vec![r.join("/")])
        }
        ("POST", ["git", "refs"]) => ("POST /repos/{owner}/{repo}/git/refs", vec![]),
        ("PATCH", ["git", "refs", r @ ..]) if !r.is_empty() => (
            "PATCH /repos/{owner}/{repo}/git/refs/{ref}",
            vec![r.join("/")],
        ),
        ("DELETE", ["git", "refs", r @ ..]) if !r.is_empty() => (
            "DELETE /repos/{owner}/{repo}/git/refs/{ref}",
            vec![r.join("/")],
        ),
        ("GET", ["issues"]) => ("GET /repos/{owner}/{repo}/issues", vec![]),
        ("POST", ["issues"]) => ("POST /repos/{owner}/{repo}/issues", vec![]),
        ("GET", ["issues", "comments", id]) if is_num(id) => (
            "GET /repos/{owner}/{repo}/issues/comments/{comment_id}",
            one(id),
        ),
        // octocrab's update_comment sends POST; GitHub accepts it in place of PATCH.
        ("PATCH" | "POST", ["issues", "comments", id]) if is_num(id) => (
            "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}",
            one(id),
        ),
        ("DELETE", ["issues", "comments", id]) if is_num(id) => (
            "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}",
            one(id),
        ),
        ("GET", ["issues", n]) if is_num(n) => {
            ("GET /repos/{owner}/{repo}/issues/{issue_number}", one(n))
        }
        ("PATCH", ["issues", n]) if is_num(n) => {
            ("PATCH /repos/{owner}/{repo}/issues/{issue_number}", one(n))
        }
        ("GET", ["issues", n, "comments"]) if is_num(n) => (
            "GET /repos/{owner}/{repo}/issues/{issue_number}/comments",
            one(n),
        ),
        ("POST", ["issues", n, "comments"]) if is_num(n) => (
            "POST /repos/{owner}/{repo}/issues/{issue_number}/comments",
            one(n),
        ),
        ("GET", ["issues", n, "labels"]) if is_num(n) => (
            "GET /repos/{owner}/{repo}/issues/{issue_number}/labels",
            one(n),
        ),
        ("POST", ["issues", n, "labels"]) if is_num(n) => (
            "POST /repos/{owner}/{repo}/issues/{issue_number}/labels",
            one(n),
        ),
        ("PUT", ["issues", n, "labels"]) if is_num(n) => (
            "PUT /repos/{owner}/{repo}/issues/{issue_number}/labels",
            one(n),
        ),
        ("DELETE", ["issues", n, "labels", name]) if is_num(n) => (
            "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}",
            vec![n.to_string(), name.to_string()],
        ),
        ("GET", ["labels"]) => ("GET /repos/{owner}/{repo}/labels", vec![]),
        ("POST", ["labels"]) => ("POST /repos/{owner}/{repo}/labels", vec![]),
        ("GET", ["labels", name]) => ("GET /repos/{owner}/{repo}/labels/{name}", one(name)),
        ("GET", ["pulls"]) => ("GET /repos/{owner}/{repo}/pulls", vec![]),
        ("POST", ["pulls"]) => ("POST /repos/{owner}/{repo}/pulls", vec![]),
        ("GET", ["pulls", n]) if is_num(n) => {
            ("GET /repos/{owner}/{repo}/pulls/{pull_number}", one(n))
        }
        ("PATCH", ["pulls", n]) if is_num(n) => {
            ("PATCH /repos/{owner}/{repo}/pulls/{pull_number}", one(n))
        }
        ("GET", ["pulls", n, "requested_reviewers"]) if is_num(n) => (
            "GET /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
            one(n),
        ),
        ("POST", ["pulls", n, "requested_reviewers"]) if is_num(n) => (
            "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
            one(n),
        ),
        ("GET", ["actions", "workflows", wf]) => (
            "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}",
            one(wf),
        ),
        ("POST", ["actions", "workflows", wf, "dispatches"]) => (
            "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches",
            one(wf),
        ),
        ("GET", ["actions", "workflows", wf, "runs"]) => (
            "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs",
            one(wf),
        ),
        ("GET", ["actions", "runs", id]) if is_num(id) => {
            ("GET /repos/{owner}/{repo}/actions/runs/{run_id}", one(id))
        }
        ("GET", ["actions", "runs", id, "jobs"]) if is_num(id) => (
            "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs",
            one(id),
        ),
        _ => return None,
    };
    debug_assert!(
        ENDPOINTS.contains(&endpoint),
        "{endpoint} is missing from ENDPOINTS"
    );
    Some(Found {
        endpoint,
        owner: owner.to_string(),
        repo: repo.to_string(),
        params,
    })
}

pub(crate) fn handle(ctx: &mut Ctx, f: &Found) -> Response {
    if f.endpoint == "GET /user" {
        return get_user(ctx);
    }
    if ctx.inner.state.repo(&f.owner, &f.repo).is_none() {
        return Response::not_found();
    }
    let (o, r) = (f.owner.as_str(), f.repo.as_str());
    let p = |i: usize| f.params.get(i).map(String::as_str).unwrap_or("");
    let n = |i: usize| p(i).parse::<u64>().unwrap_or(0);
    match f.endpoint {
        "GET /repos/{owner}/{repo}" => {
            let state = &ctx.inner.state;
            let repo = state.repo(o, r).expect("checked");
            Response::json(200, payloads::repository(ctx.urls, state, repo, true))
        }
        "GET /repos/{owner}/{repo}/contents/{path}" => get_contents(ctx, o, r, p(0)),
        "GET /repos/{owner}/{repo}/git/ref/{ref}" => get_ref(ctx, o, r, p(0)),
        "POST /repos/{owner}/{repo}/git/refs" => create_ref(ctx, o, r),
        "PATCH /repos/{owner}/{repo}/git/refs/{ref}" => update_ref(ctx, o, r, p(0)),
        "DELETE /repos/{owner}/{repo}/git/refs/{ref}" => delete_ref(ctx, o, r, p(0)),
        "GET /repos/{owner}/{repo}/issues" => list_issues(ctx, o, r),
        "POST /repos/{owner}/{repo}/issues" => create_issue(ctx, o, r),
        "GET /repos/{owner}/{repo}/issues/{issue_number}" => get_issue(ctx, o, r, n(0)),
        "PATCH /repos/{owner}/{repo}/issues/{issue_number}" => update_issue(ctx, o, r, n(0)),
        "GET /repos/{owner}/{repo}/issues/{issue_number}/comments" => {
            list_comments(ctx, o, r, n(0))
        }
        "POST /repos/{owner}/{repo}/issues/{issue_number}/comments" => {
            create_comment(ctx, o, r, n(0))
        }
        "GET /repos/{owner}/{repo}/issues/comments/{comment_id}" => get_comment(ctx, o, r, n(0)),
        "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}" => {
            update_comment(ctx, o, r, n(0))
        }
        "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}" => {
            delete_comment(ctx, o, r, n(0))
        }
        "GET /repos/{owner}/{repo}/labels" => list_labels(ctx, o, r),
        "POST /repos/{owner}/{repo}/labels" => create_label(ctx, o, r),
        "GET /repos/{owner}/{repo}/labels/{name}" => get_label(ctx, o, r, p(0)),
        "GET /repos/{owner}/{repo}/issues/{issue_number}/labels" => {
            issue_labels(ctx, o, r, n(0), None)
        }
        "POST /repos/{owner}/{repo}/issues/{issue_number}/labels" => {
            issue_labels(ctx, o, r, n(0), Some(false))
        }
        "PUT /repos/{owner}/{repo}/issues/{issue_number}/labels" => {
            issue_labels(ctx, o, r, n(0), Some(true))
        }
        "DELETE /repos/{owner}/{repo}/issues/{issue_number}/labels/{name}" => {
            remove_label(ctx, o, r, n(0), p(1))
        }
        "GET /repos/{owner}/{repo}/pulls" => list_pulls(ctx, o, r),
        "POST /repos/{owner}/{repo}/pulls" => create_pull(ctx, o, r),
        "GET /repos/{owner}/{repo}/pulls/{pull_number}" => get_pull(ctx, o, r, n(0)),
        "PATCH /repos/{owner}/{repo}/pulls/{pull_number}" => update_pull(ctx, o, r, n(0)),
        "GET /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers" => {
            get_reviewers(ctx, o, r, n(0))
        }
        "POST /repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers" => {
            request_reviewers(ctx, o, r, n(0))
        }
        "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}" => {
            get_workflow(ctx, o, r, p(0))
        }
        "POST /repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches" => {
            dispatch(ctx, o, r, p(0))
        }
        "GET /repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs" => {
            list_runs(ctx, o, r, p(0))
        }
        "GET /repos/{owner}/{repo}/actions/runs/{run_id}" => get_run(ctx, o, r, n(0)),
        "GET /repos/{owner}/{repo}/actions/runs/{run_id}/jobs" => get_run_jobs(ctx, o, r, n(0)),
        other => Response::error(
            500,
            &format!("the fake routes {other} but has no handler for it"),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Users and repositories

fn get_user(ctx: &mut Ctx) -> Response {
    if ctx.token.app {
        return Response::error(403, "Resource not accessible by integration");
    }
    let login = ctx.token.login.clone();
    let state = &mut ctx.inner.state;
    let user = state.user(&login);
    let created = state.clock.current();
    Response::json(200, payloads::private_user(ctx.urls, &user, &created))
}

/// The login that authors what this request creates.
fn author(ctx: &mut Ctx) -> String {
    let login = ctx.token.login.clone();
    ctx.inner.state.user(&login);
    login
}

fn get_contents(ctx: &mut Ctx, o: &str, r: &str, path: &str) -> Response {
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let git_ref = ctx
        .q("ref")
        .map(String::from)
        .unwrap_or_else(|| repo.default_branch.clone());
    let Some(sha) = repo.storage.resolve(&git_ref) else {
        return Response::error(404, &format!("No commit found for the ref {git_ref}"));
    };
    match repo.storage.read(&sha, path) {
        Some(Entry::File { sha, content }) => Response::json(
            200,
            payloads::content_file(
                ctx.urls,
                repo,
                &git_ref,
                path.trim_matches('/'),
                &sha,
                &content,
            ),
        ),
        Some(Entry::Dir(entries)) => Response::json(
            200,
            Value::Array(
                entries
                    .iter()
                    .map(|e| payloads::content_entry(ctx.urls, repo, &git_ref, e))
                    .collect(),
            ),
        ),
        None => Response::not_found(),
    }
}

// ---------------------------------------------------------------------------------------------
// Refs

fn get_ref(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let repo = ctx.inner.state.repo(o, r).expect("checked");
    let full = format!("refs/{name}");
    match repo.storage.ref_target(&full) {
        Some(sha) => Response::json(200, payloads::git_ref(ctx.urls, repo, &full, &sha)),
        None => Response::not_found(),
    }
}

fn ref_error(e: RefError) -> Response {
    Response::error(422, &e.message())
}

fn create_ref(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let full = ctx.str_field("ref").unwrap_or_default();
    let sha = ctx.str_field("sha").unwrap_or_default();
    if !full.starts_with("refs/") || full.matches('/').count() < 2 {
        return Response::error(422, "Reference name is invalid");
    }
    let urls = ctx.urls;
    let repo = ctx.inner.state.repo_mut(o, r).expect("checked");
    if let Err(e) = repo.storage.create_ref(&full, &sha) {
        return ref_error(e);
    }
    let body = payloads::git_ref(urls, repo, &full, &sha);
    let location = body["url"].as_str().unwrap_or_default().to_string();
    Response::json(201, body).header("location", location)
}

fn update_ref(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let sha = ctx.str_field("sha").unwrap_or_default();
    let force = ctx.field("force").and_then(Value::as_bool).unwrap_or(false);
    let full = format!("refs/{name}");
    let urls = ctx.urls;
    let repo = ctx.inner.state.repo_mut(o, r).expect("checked");
    match repo.storage.update_ref(&full, &sha, force) {
        Ok(()) => Response::json(200, payloads::git_ref(urls, repo, &full, &sha)),
        Err(e) => ref_error(e),
    }
}

fn delete_ref(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let full = format!("refs/{name}");
    let repo = ctx.inner.state.repo_mut(o, r).expect("checked");
    match repo.storage.delete_ref(&full) {
        Ok(()) => Response::empty(204),
        Err(e) => ref_error(e),
    }
}

// ---------------------------------------------------------------------------------------------
// Issues

fn list_issues(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let state_filter = ctx.q("state").unwrap_or("open").to_string();
    let labels: Vec<String> = ctx
        .q("labels")
        .map(|l| {
            l.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let creator = ctx.q("creator").map(String::from);
    let assignee = ctx.q("assignee").map(String::from);
    let since = ctx.q("since").and_then(parse_time);
    let sort = ctx.q("sort").unwrap_or("created").to_string();
    let ascending = ctx.q("direction") == Some("asc");
    refresh_pulls(&mut ctx.inner.state, o, r);
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let mut issues: Vec<&Issue> = repo
        .issues
        .values()
        .filter(|i| state_filter == "all" || i.state == state_filter)
        .filter(|i| {
            labels
                .iter()
                .all(|l| i.labels.iter().any(|il| il.eq_ignore_ascii_case(l)))
        })
        .filter(|i| {
            creator
                .as_ref()
                .is_none_or(|c| i.user.eq_ignore_ascii_case(c))
        })
        .filter(|i| match assignee.as_deref() {
            None => true,
            Some("*") => !i.assignees.is_empty(),
            Some("none") => i.assignees.is_empty(),
            Some(a) => i.assignees.iter().any(|x| x.eq_ignore_ascii_case(a)),
        })
        .filter(|i| since.is_none_or(|s| parse_time(&i.updated_at).is_some_and(|u| u >= s)))
        .collect();
    let comment_count = |n: u64| repo.comments.iter().filter(|c| c.issue_number == n).count();
    match sort.as_str() {
        "updated" => issues.sort_by(|a, b| {
            a.updated_at
                .cmp(&b.updated_at)
                .then(a.number.cmp(&b.number))
        }),
        "comments" => issues.sort_by_key(|i| (comment_count(i.number), i.number)),
        _ => issues.sort_by_key(|i| i.number),
    }
    if !ascending {
        issues.reverse();
    }
    let items = issues
        .iter()
        .map(|i| payloads::issue(ctx.urls, state, repo, i))
        .collect();
    paginate(ctx, items)
}

/// Label names from an issue body's `labels` (strings or `{name}` objects).
fn label_names(value: Option<&Value>) -> Vec<String> {
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v @ Value::String(_)) => vec![v],
        _ => vec![],
    };
    let mut names: Vec<String> = Vec::new();
    for item in items {
        let name = match item {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(String::from),
            _ => None,
        };
        if let Some(name) = name
            && !name.is_empty()
            && !names.iter().any(|n| n.eq_ignore_ascii_case(&name))
        {
            names.push(name);
        }
    }
    names
}

/// Creates missing labels (GitHub does so when an issue is given an unknown label) and returns
/// the names as the repository spells them.
fn ensure_labels(state: &mut State, o: &str, r: &str, names: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for name in names {
        let existing = state
            .repo(o, r)
            .expect("checked")
            .label(name)
            .map(|l| l.name.clone());
        let name = match existing {
            Some(n) => n,
            None => {
                let id = state.ids.next("label");
                let repo = state.repo_mut(o, r).expect("checked");
                repo.labels.push(Label {
                    id,
                    node_id: node_id("LA", id),
                    name: name.clone(),
                    color: "ededed".into(),
                    description: None,
                    default: false,
                });
                name.clone()
            }
        };
        out.push(name);
    }
    out
}

fn title_of(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn body_too_long(resource: &str, body: Option<&str>) -> Option<Response> {
    let len = body.map_or(0, |b| b.chars().count());
    (len > MAX_BODY).then(|| {
        Response::validation(json!([{
            "resource": resource,
            "code": "custom",
            "field": "body",
            "message": format!("body is too long (maximum is {MAX_BODY} characters)")
        }]))
    })
}

fn create_issue(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let title = title_of(ctx.field("title")).unwrap_or_default();
    if title.trim().is_empty() {
        return Response::validation(
            json!([{"resource": "Issue", "code": "missing_field", "field": "title"}]),
        );
    }
    let body = ctx.str_field("body");
    if let Some(too_long) = body_too_long("Issue", body.as_deref()) {
        return too_long;
    }
    let labels = label_names(ctx.field("labels"));
    let mut assignees: Vec<String> = ctx
        .field("assignees")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    if let Some(a) = ctx.str_field("assignee") {
        assignees.insert(0, a);
    }
    let user = author(ctx);
    let state = &mut ctx.inner.state;
    let labels = ensure_labels(state, o, r, &labels);
    for a in &assignees {
        state.user(a);
    }
    let id = state.ids.next("issue");
    let now = state.clock.tick();
    let repo = state.repo_mut(o, r).expect("checked");
    let number = repo.next_number();
    repo.issues.insert(
        number,
        Issue {
            number,
            id,
            node_id: node_id("I", id),
            title,
            body,
            state: "open".into(),
            state_reason: None,
            labels,
            assignees,
            user,
            locked: false,
            created_at: now.clone(),
            updated_at: now,
            closed_at: None,
            closed_by: None,
            pull: None,
        },
    );
    render_issue(ctx, o, r, number, 201)
}

fn render_issue(ctx: &mut Ctx, o: &str, r: &str, number: u64, status: u16) -> Response {
    refresh_pull(&mut ctx.inner.state, o, r, number);
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let Some(issue) = repo.issues.get(&number) else {
        return Response::not_found();
    };
    let body = payloads::issue(ctx.urls, state, repo, issue);
    let mut response = Response::json(status, body);
    if status == 201 {
        let url = format!(
            "{}/repos/{}/{}/issues/{number}",
            ctx.urls.api, repo.owner, repo.name
        );
        response = response.header("location", url);
    }
    response
}

fn get_issue(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    render_issue(ctx, o, r, number, 200)
}

fn update_issue(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    if ctx.inner.state.issue(o, r, number).is_none() {
        return Response::not_found();
    }
    let title = title_of(ctx.field("title"));
    if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Response::validation(
            json!([{"resource": "Issue", "code": "missing_field", "field": "title"}]),
        );
    }
    // `body: null` clears the body; an absent body leaves it.
    let body: Option<Option<String>> = ctx
        .body
        .and_then(|b| b.get("body"))
        .map(|v| v.as_str().map(String::from));
    if let Some(too_long) = body_too_long("Issue", body.clone().flatten().as_deref()) {
        return too_long;
    }
    let new_state = ctx.str_field("state");
    let reason = ctx.str_field("state_reason");
    let labels = ctx
        .body
        .and_then(|b| b.get("labels"))
        .map(|v| label_names(Some(v)));
    let assignees: Option<Vec<String>> =
        ctx.field("assignees").and_then(Value::as_array).map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        });
    let user = author(ctx);
    let state = &mut ctx.inner.state;
    let labels = labels.map(|l| ensure_labels(state, o, r, &l));
    if let Some(a) = &assignees {
        for login in a {
            state.user(login);
        }
    }
    let now = state.clock.tick();
    let issue = state
        .repo_mut(o, r)
        .expect("checked")
        .issues
        .get_mut(&number)
        .expect("checked");
    if let Some(t) = title {
        issue.title = t;
    }
    if let Some(b) = body {
        issue.body = b;
    }
    if let Some(l) = labels {
        issue.labels = l;
    }
    if let Some(a) = assignees {
        issue.assignees = a;
    }
    if let Some(s) = new_state
        && s != issue.state
    {
        if s == "closed" {
            issue.closed_at = Some(now.clone());
            issue.closed_by = Some(user);
            issue.state_reason = Some(reason.unwrap_or_else(|| "completed".into()));
        } else {
            issue.closed_at = None;
            issue.closed_by = None;
            issue.state_reason = Some("reopened".into());
        }
        issue.state = s;
    }
    issue.updated_at = now;
    render_issue(ctx, o, r, number, 200)
}

// ---------------------------------------------------------------------------------------------
// Comments

fn list_comments(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    if !repo.issues.contains_key(&number) {
        return Response::not_found();
    }
    let since = ctx.q("since").and_then(parse_time);
    let items = repo
        .comments
        .iter()
        .filter(|c| c.issue_number == number)
        .filter(|c| since.is_none_or(|s| parse_time(&c.updated_at).is_some_and(|u| u >= s)))
        .map(|c| payloads::comment(ctx.urls, state, repo, c))
        .collect();
    paginate(ctx, items)
}

fn comment_body_problem(body: &str) -> Option<Response> {
    let message = if body.trim().is_empty() {
        "Body cannot be blank".to_string()
    } else if body.chars().count() > MAX_BODY {
        format!("Body is too long (maximum is {MAX_BODY} characters)")
    } else {
        return None;
    };
    Some(Response::validation(json!([{
        "resource": "IssueComment", "code": "unprocessable", "field": "data", "message": message
    }])))
}

fn create_comment(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    if ctx.inner.state.issue(o, r, number).is_none() {
        return Response::not_found();
    }
    let body = ctx.str_field("body").unwrap_or_default();
    if let Some(problem) = comment_body_problem(&body) {
        return problem;
    }
    let user = author(ctx);
    let state = &mut ctx.inner.state;
    let id = state.ids.next("comment");
    let now = state.clock.tick();
    let repo = state.repo_mut(o, r).expect("checked");
    repo.comments.push(Comment {
        id,
        node_id: node_id("IC", id),
        issue_number: number,
        body,
        user,
        created_at: now.clone(),
        updated_at: now.clone(),
    });
    if let Some(issue) = repo.issues.get_mut(&number) {
        issue.updated_at = now;
    }
    render_comment(ctx, o, r, id, 201)
}

fn render_comment(ctx: &mut Ctx, o: &str, r: &str, id: u64, status: u16) -> Response {
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let Some(c) = repo.comments.iter().find(|c| c.id == id) else {
        return Response::not_found();
    };
    let body = payloads::comment(ctx.urls, state, repo, c);
    let mut response = Response::json(status, body);
    if status == 201 {
        let url = response
            .body
            .as_ref()
            .and_then(|b| b["url"].as_str())
            .unwrap_or_default()
            .to_string();
        response = response.header("location", url);
    }
    response
}

fn get_comment(ctx: &mut Ctx, o: &str, r: &str, id: u64) -> Response {
    render_comment(ctx, o, r, id, 200)
}

fn update_comment(ctx: &mut Ctx, o: &str, r: &str, id: u64) -> Response {
    let body = ctx.str_field("body").unwrap_or_default();
    let state = &mut ctx.inner.state;
    if !state
        .repo(o, r)
        .expect("checked")
        .comments
        .iter()
        .any(|c| c.id == id)
    {
        return Response::not_found();
    }
    if let Some(problem) = comment_body_problem(&body) {
        return problem;
    }
    let now = state.clock.tick();
    let repo = state.repo_mut(o, r).expect("checked");
    let c = repo
        .comments
        .iter_mut()
        .find(|c| c.id == id)
        .expect("checked");
    c.body = body;
    c.updated_at = now;
    render_comment(ctx, o, r, id, 200)
}

fn delete_comment(ctx: &mut Ctx, o: &str, r: &str, id: u64) -> Response {
    let repo = ctx.inner.state.repo_mut(o, r).expect("checked");
    let before = repo.comments.len();
    repo.comments.retain(|c| c.id != id);
    if repo.comments.len() == before {
        Response::not_found()
    } else {
        Response::empty(204)
    }
}

// ---------------------------------------------------------------------------------------------
// Labels

fn list_labels(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let repo = ctx.inner.state.repo(o, r).expect("checked");
    let items = repo
        .labels
        .iter()
        .map(|l| payloads::label(ctx.urls, repo, l))
        .collect();
    paginate(ctx, items)
}

fn create_label(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let name = ctx.str_field("name").unwrap_or_default();
    let color = ctx.str_field("color").unwrap_or_else(|| "ededed".into());
    let color = color.trim_start_matches('#').to_string();
    let description = ctx.str_field("description");
    if name.trim().is_empty() {
        return Response::validation(
            json!([{"resource": "Label", "code": "missing_field", "field": "name"}]),
        );
    }
    if color.len() != 6 || !color.chars().all(|c| c.is_ascii_hexdigit()) {
        return Response::validation(
            json!([{"resource": "Label", "code": "invalid", "field": "color"}]),
        );
    }
    if description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 100)
    {
        return Response::validation(
            json!([{"resource": "Label", "code": "invalid", "field": "description"}]),
        );
    }
    let state = &mut ctx.inner.state;
    if state.repo(o, r).expect("checked").label(&name).is_some() {
        return Response::validation(
            json!([{"resource": "Label", "code": "already_exists", "field": "name"}]),
        );
    }
    let id = state.ids.next("label");
    let repo = state.repo_mut(o, r).expect("checked");
    let label = Label {
        id,
        node_id: node_id("LA", id),
        name,
        color,
        description,
        default: false,
    };
    let body = payloads::label(ctx.urls, repo, &label);
    repo.labels.push(label);
    let location = body["url"].as_str().unwrap_or_default().to_string();
    Response::json(201, body).header("location", location)
}

fn get_label(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let repo = ctx.inner.state.repo(o, r).expect("checked");
    match repo.label(name) {
        Some(l) => Response::json(200, payloads::label(ctx.urls, repo, l)),
        None => Response::not_found(),
    }
}

/// GET (`replace: None`), POST (add: `Some(false)`) or PUT (set: `Some(true)`) an issue's labels.
fn issue_labels(ctx: &mut Ctx, o: &str, r: &str, number: u64, replace: Option<bool>) -> Response {
    if ctx.inner.state.issue(o, r, number).is_none() {
        return Response::not_found();
    }
    if let Some(replace) = replace {
        let names = match ctx.body {
            Some(Value::Object(map)) => label_names(map.get("labels")),
            other => label_names(other),
        };
        let state = &mut ctx.inner.state;
        let names = ensure_labels(state, o, r, &names);
        let now = state.clock.tick();
        let issue = state
            .repo_mut(o, r)
            .expect("checked")
            .issues
            .get_mut(&number)
            .expect("checked");
        if replace {
            issue.labels = names;
        } else {
            for name in names {
                if !issue.labels.iter().any(|l| l.eq_ignore_ascii_case(&name)) {
                    issue.labels.push(name);
                }
            }
        }
        issue.updated_at = now;
    }
    let repo = ctx.inner.state.repo(o, r).expect("checked");
    let issue = &repo.issues[&number];
    let items: Vec<Value> = issue
        .labels
        .iter()
        .filter_map(|n| repo.label(n))
        .map(|l| payloads::label(ctx.urls, repo, l))
        .collect();
    if replace.is_none() {
        paginate(ctx, items)
    } else {
        Response::json(200, Value::Array(items))
    }
}

fn remove_label(ctx: &mut Ctx, o: &str, r: &str, number: u64, name: &str) -> Response {
    let state = &mut ctx.inner.state;
    let now = state.clock.tick();
    let Some(issue) = state
        .repo_mut(o, r)
        .expect("checked")
        .issues
        .get_mut(&number)
    else {
        return Response::not_found();
    };
    let before = issue.labels.len();
    issue.labels.retain(|l| !l.eq_ignore_ascii_case(name));
    if issue.labels.len() == before {
        return Response::error(404, "Label does not exist");
    }
    issue.updated_at = now;
    let repo = ctx.inner.state.repo(o, r).expect("checked");
    let items = repo.issues[&number]
        .labels
        .iter()
        .filter_map(|n| repo.label(n))
        .map(|l| payloads::label(ctx.urls, repo, l))
        .collect();
    Response::json(200, Value::Array(items))
}

// ---------------------------------------------------------------------------------------------
// Pull requests

/// Brings a pull request's head and base commits up to date with their branches.
fn refresh_pull(state: &mut State, o: &str, r: &str, number: u64) {
    let Some(repo) = state.repo_mut(o, r) else {
        return;
    };
    let Some(issue) = repo.issues.get(&number) else {
        return;
    };
    let Some(p) = &issue.pull else { return };
    if issue.state != "open" {
        return;
    }
    let head = repo.storage.resolve(&format!("refs/heads/{}", p.head));
    let base = repo.storage.resolve(&format!("refs/heads/{}", p.base));
    let p = repo
        .issues
        .get_mut(&number)
        .and_then(|i| i.pull.as_mut())
        .expect("checked");
    if let Some(h) = head {
        p.head_sha = h;
    }
    if let Some(b) = base {
        p.base_sha = b;
    }
}

fn refresh_pulls(state: &mut State, o: &str, r: &str) {
    let numbers: Vec<u64> = state
        .repo(o, r)
        .map(|repo| {
            repo.issues
                .values()
                .filter(|i| i.pull.is_some() && i.state == "open")
                .map(|i| i.number)
                .collect()
        })
        .unwrap_or_default();
    for n in numbers {
        refresh_pull(state, o, r, n);
    }
}

fn list_pulls(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let state_filter = ctx.q("state").unwrap_or("open").to_string();
    let head = ctx.q("head").map(String::from);
    let base = ctx.q("base").map(String::from);
    let sort = ctx.q("sort").unwrap_or("created").to_string();
    let direction = ctx.q("direction").map(String::from);
    refresh_pulls(&mut ctx.inner.state, o, r);
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let mut pulls: Vec<&Issue> = repo
        .issues
        .values()
        .filter(|i| i.pull.is_some())
        .filter(|i| state_filter == "all" || i.state == state_filter)
        .filter(|i| {
            let p = i.pull.as_ref().expect("filtered");
            let head_ok = match head.as_deref().map(|h| h.split_once(':')) {
                None => true,
                Some(Some((owner, branch))) => {
                    owner.eq_ignore_ascii_case(&repo.owner) && p.head == branch
                }
                Some(None) => head.as_deref() == Some(p.head.as_str()),
            };
            head_ok && base.as_ref().is_none_or(|b| &p.base == b)
        })
        .collect();
    if sort == "updated" {
        pulls.sort_by(|a, b| {
            a.updated_at
                .cmp(&b.updated_at)
                .then(a.number.cmp(&b.number))
        });
    } else {
        pulls.sort_by_key(|i| i.number);
    }
    // GitHub: desc when sorting by creation (the default), asc otherwise, unless told.
    let descending = match direction.as_deref() {
        Some(d) => d == "desc",
        None => sort == "created",
    };
    if descending {
        pulls.reverse();
    }
    let items = pulls
        .iter()
        .map(|i| payloads::pull(ctx.urls, state, repo, i))
        .collect();
    paginate(ctx, items)
}

fn create_pull(ctx: &mut Ctx, o: &str, r: &str) -> Response {
    let head_field = ctx.str_field("head").unwrap_or_default();
    let base = ctx.str_field("base").unwrap_or_default();
    let from_issue = ctx.field("issue").and_then(Value::as_u64);
    let title = ctx.str_field("title");
    let body = ctx.str_field("body");
    let draft = ctx.field("draft").and_then(Value::as_bool).unwrap_or(false);
    let maintainer_can_modify = ctx
        .field("maintainer_can_modify")
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let invalid = |field: &str| {
        Response::validation(
            json!([{"resource": "PullRequest", "field": field, "code": "invalid"}]),
        )
    };
    let custom = |message: String| {
        Response::validation(
            json!([{"resource": "PullRequest", "code": "custom", "message": message}]),
        )
    };

    let repo = ctx.inner.state.repo(o, r).expect("checked");
    let head = match head_field.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(&repo.owner) => branch.to_string(),
        Some(_) => return invalid("head"),
        None => head_field.clone(),
    };
    if head.is_empty() {
        return Response::validation(
            json!([{"resource": "PullRequest", "code": "missing_field", "field": "head"}]),
        );
    }
    if base.is_empty() {
        return Response::validation(
            json!([{"resource": "PullRequest", "code": "missing_field", "field": "base"}]),
        );
    }
    let Some(head_sha) = repo.storage.resolve(&format!("refs/heads/{head}")) else {
        return invalid("head");
    };
    let Some(base_sha) = repo.storage.resolve(&format!("refs/heads/{base}")) else {
        return invalid("base");
    };
    if title.as_deref().is_none_or(|t| t.trim().is_empty()) && from_issue.is_none() {
        return Response::validation(
            json!([{"resource": "PullRequest", "code": "missing_field", "field": "title"}]),
        );
    }
    if let Some(too_long) = body_too_long("PullRequest", body.as_deref()) {
        return too_long;
    }
    let exists = repo.issues.values().any(|i| {
        i.state == "open"
            && i.pull
                .as_ref()
                .is_some_and(|p| p.head == head && p.base == base)
    });
    if exists {
        return custom(format!(
            "A pull request already exists for {}:{head}.",
            repo.owner
        ));
    }
    if head_sha == base_sha || repo.storage.is_ancestor(&head_sha, &base_sha) {
        return custom(format!("No commits between {base} and {head}"));
    }
    if let Some(n) = from_issue {
        match repo.issues.get(&n) {
            Some(i) if i.pull.is_none() => {}
            _ => {
                return Response::validation(
                    json!([{"resource": "PullRequest", "field": "issue", "code": "invalid"}]),
                );
            }
        }
    }

    let user = author(ctx);
    let state = &mut ctx.inner.state;
    let pull_id = state.ids.next("pull");
    let now = state.clock.tick();
    let part = PullPart {
        id: pull_id,
        node_id: node_id("PR", pull_id),
        head,
        head_sha,
        base,
        base_sha,
        draft,
        merged: false,
        merged_at: None,
        maintainer_can_modify,
        requested_reviewers: vec![],
        requested_teams: vec![],
    };
    let number = match from_issue {
        Some(n) => {
            let issue = state
                .repo_mut(o, r)
                .expect("checked")
                .issues
                .get_mut(&n)
                .expect("checked");
            issue.pull = Some(part);
            issue.updated_at = now;
            n
        }
        None => {
            let issue_id = state.ids.next("issue");
            let repo = state.repo_mut(o, r).expect("checked");
            let number = repo.next_number();
            repo.issues.insert(
                number,
                Issue {
                    number,
                    id: issue_id,
                    node_id: node_id("I", issue_id),
                    title: title.unwrap_or_default(),
                    body,
                    state: "open".into(),
                    state_reason: None,
                    labels: vec![],
                    assignees: vec![],
                    user,
                    locked: false,
                    created_at: now.clone(),
                    updated_at: now,
                    closed_at: None,
                    closed_by: None,
                    pull: Some(part),
                },
            );
            number
        }
    };
    render_pull(ctx, o, r, number, 201)
}

fn render_pull(ctx: &mut Ctx, o: &str, r: &str, number: u64, status: u16) -> Response {
    refresh_pull(&mut ctx.inner.state, o, r, number);
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let Some(issue) = repo.issues.get(&number).filter(|i| i.pull.is_some()) else {
        return Response::not_found();
    };
    let body = payloads::pull(ctx.urls, state, repo, issue);
    let mut response = Response::json(status, body);
    if status == 201 {
        let url = response
            .body
            .as_ref()
            .and_then(|b| b["url"].as_str())
            .unwrap_or_default()
            .to_string();
        response = response.header("location", url);
    }
    response
}

fn get_pull(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    render_pull(ctx, o, r, number, 200)
}

fn update_pull(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    let Some(issue) = ctx
        .inner
        .state
        .issue(o, r, number)
        .filter(|i| i.pull.is_some())
    else {
        return Response::not_found();
    };
    let title = ctx.str_field("title");
    if title.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Response::validation(
            json!([{"resource": "PullRequest", "code": "missing_field", "field": "title"}]),
        );
    }
    let body = ctx.str_field("body");
    if let Some(too_long) = body_too_long("PullRequest", body.as_deref()) {
        return too_long;
    }
    let new_state = ctx.str_field("state");
    let base = ctx.str_field("base");
    let maintainer_can_modify = ctx.field("maintainer_can_modify").and_then(Value::as_bool);
    // `draft` is not part of this endpoint: GitHub ignores it (GraphQL changes it).
    let repo = ctx.inner.state.repo(o, r).expect("checked");
    let base_sha = match &base {
        Some(b) => match repo.storage.resolve(&format!("refs/heads/{b}")) {
            Some(sha) => Some(sha),
            None => {
                return Response::validation(
                    json!([{"resource": "PullRequest", "field": "base", "code": "invalid"}]),
                );
            }
        },
        None => None,
    };
    let head = issue.pull.as_ref().expect("checked").head.clone();
    if new_state.as_deref() == Some("open")
        && issue.state == "closed"
        && repo
            .storage
            .resolve(&format!("refs/heads/{head}"))
            .is_none()
    {
        return Response::validation(json!([{
            "resource": "PullRequest", "code": "custom", "field": "state",
            "message": "state cannot be changed. The head branch has been deleted."
        }]));
    }
    let user = author(ctx);
    let state = &mut ctx.inner.state;
    let now = state.clock.tick();
    let issue = state
        .repo_mut(o, r)
        .expect("checked")
        .issues
        .get_mut(&number)
        .expect("checked");
    if let Some(t) = title {
        issue.title = t;
    }
    if let Some(b) = body {
        issue.body = Some(b);
    }
    if let Some(s) = new_state
        && s != issue.state
    {
        if s == "closed" {
            issue.closed_at = Some(now.clone());
            issue.closed_by = Some(user);
        } else {
            issue.closed_at = None;
            issue.closed_by = None;
        }
        issue.state = s;
    }
    let p = issue.pull.as_mut().expect("checked");
    if let (Some(b), Some(sha)) = (base, base_sha) {
        p.base = b;
        p.base_sha = sha;
    }
    if let Some(m) = maintainer_can_modify {
        p.maintainer_can_modify = m;
    }
    issue.updated_at = now;
    render_pull(ctx, o, r, number, 200)
}

fn get_reviewers(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    match repo.issues.get(&number).filter(|i| i.pull.is_some()) {
        Some(issue) => Response::json(
            200,
            payloads::requested_reviewers(ctx.urls, state, repo, issue),
        ),
        None => Response::not_found(),
    }
}

fn request_reviewers(ctx: &mut Ctx, o: &str, r: &str, number: u64) -> Response {
    let Some(issue) = ctx
        .inner
        .state
        .issue(o, r, number)
        .filter(|i| i.pull.is_some())
    else {
        return Response::not_found();
    };
    let list = |name: &str| -> Vec<String> {
        ctx.field(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default()
    };
    let reviewers = list("reviewers");
    let teams = list("team_reviewers");
    if reviewers
        .iter()
        .any(|u| u.eq_ignore_ascii_case(&issue.user))
    {
        return Response::error(422, "Review cannot be requested from pull request author.");
    }
    let state = &mut ctx.inner.state;
    for login in &reviewers {
        state.user(login);
    }
    let now = state.clock.tick();
    let issue = state
        .repo_mut(o, r)
        .expect("checked")
        .issues
        .get_mut(&number)
        .expect("checked");
    let p = issue.pull.as_mut().expect("checked");
    for login in reviewers {
        if !p
            .requested_reviewers
            .iter()
            .any(|x| x.eq_ignore_ascii_case(&login))
        {
            p.requested_reviewers.push(login);
        }
    }
    for team in teams {
        if !p.requested_teams.contains(&team) {
            p.requested_teams.push(team);
        }
    }
    issue.updated_at = now;
    render_pull(ctx, o, r, number, 201)
}

// ---------------------------------------------------------------------------------------------
// Actions

/// The workflow a URL names (file name or numeric id), if it exists on the default branch.
fn find_workflow(state: &mut State, o: &str, r: &str, name: &str) -> Option<(u64, String)> {
    let repo = state.repo(o, r)?;
    let path = if is_num(name) {
        let id: u64 = name.parse().ok()?;
        repo.workflow_ids
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| k.clone())?
    } else {
        format!(".github/workflows/{name}")
    };
    repo.storage.read_file(&repo.default_branch, &path)?;
    let known = repo.workflow_ids.get(&path).copied();
    let id = match known {
        Some(id) => id,
        None => {
            let id = state.ids.next("workflow");
            state.repo_mut(o, r)?.workflow_ids.insert(path.clone(), id);
            id
        }
    };
    Some((id, path))
}

fn workflow_at(
    state: &State,
    o: &str,
    r: &str,
    rev: &str,
    path: &str,
) -> Option<Result<Workflow, String>> {
    let repo = state.repo(o, r)?;
    let text = repo.storage.read_file(rev, path)?;
    Some(Workflow::parse(&String::from_utf8_lossy(&text)))
}

fn get_workflow(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let Some((id, path)) = find_workflow(&mut ctx.inner.state, o, r, name) else {
        return Response::not_found();
    };
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let display = match workflow_at(state, o, r, &repo.default_branch, &path) {
        Some(Ok(w)) => w.display_name(&path),
        _ => path.clone(),
    };
    Response::json(200, payloads::workflow(ctx.urls, repo, id, &display, &path))
}

fn dispatch(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let Some((workflow_id, path)) = find_workflow(&mut ctx.inner.state, o, r, name) else {
        return Response::not_found();
    };
    let git_ref = ctx.str_field("ref").unwrap_or_default();
    let want_details = ctx.field("return_run_details").and_then(Value::as_bool);
    let raw_inputs = ctx
        .field("inputs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let body = ctx.body.cloned().unwrap_or(Value::Null);
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let Some(head_sha) = repo.storage.resolve(&git_ref) else {
        return Response::error(422, &format!("No ref found for: {git_ref}"));
    };
    let workflow = match workflow_at(state, o, r, &head_sha, &path) {
        None => return Response::error(422, "Workflow does not have 'workflow_dispatch' trigger"),
        Some(Err(e)) => {
            return Response::error(
                422,
                &format!("Invalid Argument - failed to parse workflow: {e}"),
            );
        }
        Some(Ok(w)) => w,
    };
    let Some(declared) = &workflow.dispatch_inputs else {
        return Response::error(422, "Workflow does not have 'workflow_dispatch' trigger");
    };
    let mut inputs = BTreeMap::new();
    let mut unexpected = Vec::new();
    for (key, value) in &raw_inputs {
        let Some(text) = value.as_str() else {
            return Response::error(
                422,
                &format!("Invalid request.\n\nFor 'properties/{key}', {value} is not a string."),
            );
        };
        if !declared.contains_key(key) {
            unexpected.push(Value::String(key.clone()));
        }
        inputs.insert(key.clone(), text.to_string());
    }
    if !unexpected.is_empty() {
        return Response::error(
            422,
            &format!("Unexpected inputs provided: {}", Value::Array(unexpected)),
        );
    }
    for (key, input) in declared {
        let given = inputs.get(key);
        if input.required && given.is_none() && input.default.is_none() {
            return Response::error(422, &format!("Required input '{key}' not provided"));
        }
        if let Some(v) = given {
            let bad = match input.kind.as_str() {
                "choice" => !input.options.contains(v),
                "boolean" => v != "true" && v != "false",
                "number" => v.parse::<f64>().is_err(),
                _ => false,
            };
            if bad {
                return Response::error(
                    422,
                    &format!(
                        "Provided value '{v}' for input '{key}' not in the list of allowed values"
                    ),
                );
            }
        }
    }
    let head_branch = git_ref
        .strip_prefix("refs/heads/")
        .or_else(|| git_ref.strip_prefix("refs/tags/"))
        .unwrap_or(&git_ref)
        .to_string();
    let wf_name = workflow.display_name(&path);
    let context = WorkflowContext {
        actor: ctx.token.login.clone(),
        ref_name: head_branch.clone(),
        repository: repo.full_name(),
        workflow: wf_name.clone(),
    };
    let display_title = workflow.display_title(&path, &inputs, &context);
    let honour = repo.return_run_details && want_details == Some(true);
    let lag = repo.run_list_lag;
    let run_number = state
        .runs
        .iter()
        .filter(|x| x.workflow_id == workflow_id)
        .count() as u64
        + 1;

    let actor = author(ctx);
    let state = &mut ctx.inner.state;
    let id = state.ids.next("run");
    let now = state.clock.tick();
    let repo = state.repo(o, r).expect("checked");
    let (owner, repo_name) = (repo.owner.clone(), repo.name.clone());
    state.runs.push(Run {
        id,
        node_id: node_id("WFR", id),
        owner: owner.clone(),
        repo: repo_name.clone(),
        workflow_id,
        workflow_path: path.clone(),
        name: wf_name,
        display_title,
        head_branch,
        head_sha,
        run_number,
        event: "workflow_dispatch".into(),
        status: "queued".into(),
        conclusion: None,
        actor,
        inputs: inputs.clone(),
        created_at: now.clone(),
        updated_at: now,
        hidden_for: lag,
        jobs: Vec::new(),
    });
    state.dispatches.push(Dispatch {
        owner,
        repo: repo_name,
        workflow: name.to_string(),
        workflow_path: path,
        git_ref,
        inputs,
        return_run_details: want_details,
        run_id: id,
        body,
    });
    if honour {
        let repo = ctx.inner.state.repo(o, r).expect("checked");
        Response::json(200, payloads::dispatch_details(ctx.urls, repo, id))
    } else {
        Response::empty(204)
    }
}

/// GitHub's `created` filter: `>=T`, `>T`, `<=T`, `<T`, `A..B` or a date.
fn created_matches(filter: &str, created: &str) -> bool {
    let Some(at) = parse_time(created) else {
        return false;
    };
    let bound = |text: &str, end_of_day: bool| -> Option<chrono::DateTime<chrono::Utc>> {
        let text = text.trim();
        parse_time(text).or_else(|| {
            let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
            let time = if end_of_day {
                date.and_hms_opt(23, 59, 59)?
            } else {
                date.and_hms_opt(0, 0, 0)?
            };
            Some(time.and_utc())
        })
    };
    let f = filter.trim();
    let result = if let Some(t) = f.strip_prefix(">=") {
        bound(t, false).map(|b| at >= b)
    } else if let Some(t) = f.strip_prefix("<=") {
        bound(t, true).map(|b| at <= b)
    } else if let Some(t) = f.strip_prefix('>') {
        bound(t, true).map(|b| at > b)
    } else if let Some(t) = f.strip_prefix('<') {
        bound(t, false).map(|b| at < b)
    } else if let Some((a, b)) = f.split_once("..") {
        let lo = if a == "*" { None } else { bound(a, false) };
        let hi = if b == "*" { None } else { bound(b, true) };
        Some(lo.is_none_or(|l| at >= l) && hi.is_none_or(|h| at <= h))
    } else {
        bound(f, false)
            .zip(bound(f, true))
            .map(|(lo, hi)| at >= lo && at <= hi)
    };
    result.unwrap_or(false)
}

fn list_runs(ctx: &mut Ctx, o: &str, r: &str, name: &str) -> Response {
    let Some((workflow_id, _)) = find_workflow(&mut ctx.inner.state, o, r, name) else {
        return Response::not_found();
    };
    let branch = ctx.q("branch").map(String::from);
    let event = ctx.q("event").map(String::from);
    let status = ctx.q("status").map(String::from);
    let actor = ctx.q("actor").map(String::from);
    let head_sha = ctx.q("head_sha").map(String::from);
    let created = ctx.q("created").map(String::from);
    let state = &mut ctx.inner.state;
    let key = state.repo(o, r).expect("checked").full_name();
    let mut visible = Vec::new();
    for run in state
        .runs
        .iter_mut()
        .filter(|x| format!("{}/{}", x.owner, x.repo) == key && x.workflow_id == workflow_id)
    {
        if run.hidden_for > 0 {
            run.hidden_for -= 1;
            continue;
        }
        visible.push(run.id);
    }
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let mut runs: Vec<&Run> = state
        .runs
        .iter()
        .filter(|x| visible.contains(&x.id))
        .filter(|x| branch.as_ref().is_none_or(|b| &x.head_branch == b))
        .filter(|x| event.as_ref().is_none_or(|e| &x.event == e))
        .filter(|x| {
            status
                .as_ref()
                .is_none_or(|s| &x.status == s || x.conclusion.as_ref() == Some(s))
        })
        .filter(|x| {
            actor
                .as_ref()
                .is_none_or(|a| x.actor.eq_ignore_ascii_case(a))
        })
        .filter(|x| head_sha.as_ref().is_none_or(|h| &x.head_sha == h))
        .filter(|x| {
            created
                .as_ref()
                .is_none_or(|c| created_matches(c, &x.created_at))
        })
        .collect();
    runs.sort_by_key(|x| std::cmp::Reverse(x.id));
    let total = runs.len();
    let items: Vec<Value> = runs
        .iter()
        .map(|x| {
            payloads::run(
                ctx.urls,
                state,
                repo,
                x,
                repo.storage.commit_info(&x.head_sha).as_ref(),
            )
        })
        .collect();
    let (page, link) = page_of(ctx, items);
    let mut response = Response::json(200, json!({"total_count": total, "workflow_runs": page}));
    if let Some(link) = link {
        response = response.header("link", link);
    }
    response
}

fn get_run(ctx: &mut Ctx, o: &str, r: &str, id: u64) -> Response {
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let full = repo.full_name();
    match state
        .runs
        .iter()
        .find(|x| x.id == id && format!("{}/{}", x.owner, x.repo) == full)
    {
        Some(run) => {
            let commit = repo.storage.commit_info(&run.head_sha);
            Response::json(
                200,
                payloads::run(ctx.urls, state, repo, run, commit.as_ref()),
            )
        }
        None => Response::not_found(),
    }
}

fn get_run_jobs(ctx: &mut Ctx, o: &str, r: &str, id: u64) -> Response {
    let state = &ctx.inner.state;
    let repo = state.repo(o, r).expect("checked");
    let full = repo.full_name();
    match state
        .runs
        .iter()
        .find(|x| x.id == id && format!("{}/{}", x.owner, x.repo) == full)
    {
        Some(run) => {
            let jobs: Vec<Value> = run
                .jobs
                .iter()
                .enumerate()
                .map(|(i, job)| payloads::job(ctx.urls, repo, run, i, job))
                .collect();
            Response::json(
                200,
                serde_json::json!({ "total_count": jobs.len(), "jobs": jobs }),
            )
        }
        None => Response::not_found(),
    }
}

// ---------------------------------------------------------------------------------------------
// Pagination

/// A page of `items` as a JSON array with GitHub's `Link` header.
fn paginate(ctx: &Ctx, items: Vec<Value>) -> Response {
    let (page, link) = page_of(ctx, items);
    let mut response = Response::json(200, Value::Array(page));
    if let Some(link) = link {
        response = response.header("link", link);
    }
    response
}

/// `per_page` (default 30, at most 100) and `page` (from 1) applied to `items`, and the `Link`
/// header (next/last, prev/first) GitHub sends when there is more than one page.
fn page_of(ctx: &Ctx, items: Vec<Value>) -> (Vec<Value>, Option<String>) {
    let per_page = ctx
        .q("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(30)
        .clamp(1, 100);
    let page = ctx
        .q("page")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let last = items.len().div_ceil(per_page).max(1);
    let slice: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let url = |n: usize| {
        let mut query: Vec<(String, String)> = ctx
            .query
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        query.push(("page".into(), n.to_string()));
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    encode_segment(k),
                    encode_segment(v).replace("%2C", ",").replace("%3A", ":")
                )
            })
            .collect();
        format!("{}{}?{}", ctx.urls.api, ctx.route, query.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("<{}>; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("<{}>; rel=\"next\"", url(page + 1)));
        links.push(format!("<{}>; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("<{}>; rel=\"first\"", url(1)));
    }
    (slice, (!links.is_empty()).then(|| links.join(", ")))
}
