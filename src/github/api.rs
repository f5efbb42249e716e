//! The GitHub operations oneshot performs, as request builders (shared by dry runs and real
//! runs) and typed calls. Responses are read leniently into the app's own types.

use serde::Serialize;
use serde_json::{Value, json};

use super::transport::{HttpMethod, Request};
use super::{GitHub, RepoSlug};
use crate::error::{Error, Result};
use crate::markers;

#[derive(Debug, Clone, Serialize)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub html_url: String,
    pub state: String,
    pub labels: Vec<String>,
    pub node_id: String,
    /// The issues API returns pull requests too; this tells them apart.
    pub is_pull_request: bool,
    pub comments: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comment {
    pub id: u64,
    pub body: String,
    pub html_url: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PullRequest {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub html_url: String,
    pub node_id: String,
    pub state: String,
    pub draft: bool,
    pub head_ref: String,
    pub base_ref: String,
    pub author: String,
}

fn str_field(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn unexpected(what: &str, v: &Value) -> Error {
    let mut shown = v.to_string();
    shown.truncate(200);
    Error::github(format!("GitHub sent an unexpected {what}")).cause(shown)
}

impl Issue {
    pub fn from_json(v: &Value) -> Result<Self> {
        let number = v
            .get("number")
            .and_then(Value::as_u64)
            .ok_or_else(|| unexpected("issue", v))?;
        Ok(Issue {
            number,
            title: str_field(v, "title"),
            body: str_field(v, "body"),
            html_url: str_field(v, "html_url"),
            state: str_field(v, "state"),
            labels: v
                .get("labels")
                .and_then(Value::as_array)
                .map(|ls| {
                    ls.iter()
                        .filter_map(|l| {
                            l.get("name").and_then(Value::as_str).or_else(|| l.as_str())
                        })
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            node_id: str_field(v, "node_id"),
            is_pull_request: v.get("pull_request").is_some_and(|p| !p.is_null()),
            comments: v.get("comments").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

impl Comment {
    pub fn from_json(v: &Value) -> Result<Self> {
        Ok(Comment {
            id: v
                .get("id")
                .and_then(Value::as_u64)
                .ok_or_else(|| unexpected("comment", v))?,
            body: str_field(v, "body"),
            html_url: str_field(v, "html_url"),
        })
    }
}

impl PullRequest {
    /// `draft`, `ready for review` or `closed`, as people say it.
    pub fn state_label(&self) -> &'static str {
        if self.state == "closed" {
            "closed"
        } else if self.draft {
            "draft"
        } else {
            "ready for review"
        }
    }

    pub fn from_json(v: &Value) -> Result<Self> {
        Ok(PullRequest {
            number: v
                .get("number")
                .and_then(Value::as_u64)
                .ok_or_else(|| unexpected("pull request", v))?,
            title: str_field(v, "title"),
            body: str_field(v, "body"),
            html_url: str_field(v, "html_url"),
            node_id: str_field(v, "node_id"),
            state: str_field(v, "state"),
            draft: v.get("draft").and_then(Value::as_bool).unwrap_or(false),
            head_ref: v
                .get("head")
                .map(|h| str_field(h, "ref"))
                .unwrap_or_default(),
            base_ref: v
                .get("base")
                .map(|b| str_field(b, "ref"))
                .unwrap_or_default(),
            author: v
                .get("user")
                .map(|u| str_field(u, "login"))
                .unwrap_or_default(),
        })
    }
}

/// Percent-encodes one query or path component.
pub fn encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for b in component.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

// ---- request builders: the one description of each call, for dry runs and real runs ----

pub fn list_issues_with_label(repo: &RepoSlug, label: &str, page: u32) -> Request {
    Request::get(
        format!(
            "{}/issues?labels={}&state=all&per_page=100&page={page}",
            repo.api_path(),
            encode(label)
        ),
        format!("list the issues labelled {label}"),
    )
}

pub fn create_label(repo: &RepoSlug, name: &str, color: &str, description: &str) -> Request {
    Request::new(
        HttpMethod::Post,
        format!("{}/labels", repo.api_path()),
        format!("create the label {name}"),
    )
    .body(json!({ "name": name, "color": color, "description": description }))
    .also_ok(&[422])
}

pub fn create_issue(repo: &RepoSlug, title: &str, body: &str, labels: &[&str]) -> Request {
    Request::new(
        HttpMethod::Post,
        format!("{}/issues", repo.api_path()),
        "create the plan issue",
    )
    .body(json!({ "title": title, "body": body, "labels": labels }))
    .creating()
}

pub fn get_issue(repo: &RepoSlug, number: u64, purpose: &str) -> Request {
    Request::get(format!("{}/issues/{number}", repo.api_path()), purpose)
}

pub fn update_issue(repo: &RepoSlug, number: u64, patch: Value, purpose: &str) -> Request {
    Request::new(
        HttpMethod::Patch,
        format!("{}/issues/{number}", repo.api_path()),
        purpose,
    )
    .body(patch)
}

pub fn list_comments(repo: &RepoSlug, issue: u64, page: u32) -> Request {
    Request::get(
        format!(
            "{}/issues/{issue}/comments?per_page=100&page={page}",
            repo.api_path()
        ),
        format!("list the comments of #{issue}"),
    )
}

pub fn create_comment(repo: &RepoSlug, issue: u64, body: &str) -> Request {
    Request::new(
        HttpMethod::Post,
        format!("{}/issues/{issue}/comments", repo.api_path()),
        format!("comment on #{issue}"),
    )
    .body(json!({ "body": body }))
    .creating()
}

pub fn update_comment(repo: &RepoSlug, id: u64, body: &str) -> Request {
    Request::new(
        HttpMethod::Patch,
        format!("{}/issues/comments/{id}", repo.api_path()),
        "update oneshot's comment",
    )
    .body(json!({ "body": body }))
}

pub fn get_pull(repo: &RepoSlug, number: u64) -> Request {
    Request::get(
        format!("{}/pulls/{number}", repo.api_path()),
        format!("read pull request #{number}"),
    )
}

pub fn mark_ready_for_review(node_id: &str) -> Request {
    Request::graphql(
        "mutation($id: ID!) { markPullRequestReadyForReview(input: {pullRequestId: $id}) { pullRequest { id isDraft } } }",
        json!({ "id": node_id }),
        "mark the pull request ready for review",
    )
}

// ---- typed calls ----

impl GitHub {
    fn json(&self, request: &Request) -> Result<Value> {
        Ok(self.send(request)?.body)
    }

    fn paged(&self, build: impl Fn(u32) -> Request) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        for page in 1..=50 {
            let items = match self.json(&build(page))? {
                Value::Array(items) => items,
                other => return Err(unexpected("list", &other)),
            };
            let n = items.len();
            all.extend(items);
            if n < 100 {
                break;
            }
        }
        Ok(all)
    }

    /// Every issue (not PR) carrying `label`, open or closed.
    pub fn issues_with_label(&self, label: &str) -> Result<Vec<Issue>> {
        let items = self.paged(|page| list_issues_with_label(&self.repo, label, page))?;
        let issues: Result<Vec<Issue>> = items.iter().map(Issue::from_json).collect();
        Ok(issues?.into_iter().filter(|i| !i.is_pull_request).collect())
    }

    /// Creates a label; one that exists already (422) is fine.
    pub fn ensure_label(&self, name: &str, color: &str, description: &str) -> Result<()> {
        self.send(&create_label(&self.repo, name, color, description))
            .map(drop)
    }

    pub fn get_issue(&self, number: u64, purpose: &str) -> Result<Issue> {
        Issue::from_json(&self.json(&get_issue(&self.repo, number, purpose))?)
    }

    pub fn update_issue(&self, number: u64, patch: Value, purpose: &str) -> Result<Issue> {
        Issue::from_json(&self.json(&update_issue(&self.repo, number, patch, purpose))?)
    }

    pub fn comments(&self, issue: u64) -> Result<Vec<Comment>> {
        self.paged(|page| list_comments(&self.repo, issue, page))?
            .iter()
            .map(Comment::from_json)
            .collect()
    }

    /// The comment oneshot owns on `issue` for `kind`, if any.
    pub fn find_comment(&self, issue: u64, kind: &str) -> Result<Option<Comment>> {
        let marker = markers::comment_marker(kind);
        Ok(self
            .comments(issue)?
            .into_iter()
            .find(|c| c.body.starts_with(&marker)))
    }

    /// Creates oneshot's `kind` comment on `issue`, never twice: an ambiguous failure is
    /// followed by a look for the marker before anything is sent again.
    pub fn create_owned_comment(&self, issue: u64, kind: &str, body: &str) -> Result<Comment> {
        let body = with_comment_marker(kind, body);
        self.create(
            &create_comment(&self.repo, issue, &body),
            |r| Comment::from_json(&r.body),
            |gh| gh.find_comment(issue, kind),
        )
    }

    pub fn update_comment(&self, id: u64, kind: &str, body: &str) -> Result<Comment> {
        Comment::from_json(&self.json(&update_comment(
            &self.repo,
            id,
            &with_comment_marker(kind, body),
        ))?)
    }

    /// Edits oneshot's `kind` comment in place, or creates it. `known_absent` skips the lookup
    /// when the caller knows there is none yet (saves a request on a first run).
    pub fn upsert_owned_comment(
        &self,
        issue: u64,
        kind: &str,
        body: &str,
        known_absent: bool,
    ) -> Result<Comment> {
        if !known_absent && let Some(existing) = self.find_comment(issue, kind)? {
            if existing.body == with_comment_marker(kind, body) {
                return Ok(existing);
            }
            return self.update_comment(existing.id, kind, body);
        }
        self.create_owned_comment(issue, kind, body)
    }

    pub fn get_pull(&self, number: u64) -> Result<PullRequest> {
        PullRequest::from_json(&self.json(&get_pull(&self.repo, number))?)
    }

    /// GraphQL: REST cannot take a PR out of draft.
    pub fn mark_ready_for_review(&self, node_id: &str) -> Result<()> {
        let body = self.json(&mark_ready_for_review(node_id))?;
        if let Some(errors) = body
            .get("errors")
            .and_then(Value::as_array)
            .filter(|e| !e.is_empty())
        {
            let messages: Vec<String> = errors.iter().map(|e| str_field(e, "message")).collect();
            return Err(
                Error::github("could not mark the pull request ready for review")
                    .cause(messages.join("; ")),
            );
        }
        Ok(())
    }
}

/// A comment body that starts with oneshot's marker line for `kind`.
pub fn with_comment_marker(kind: &str, body: &str) -> String {
    let marker = markers::comment_marker(kind);
    if body.starts_with(&marker) {
        body.to_string()
    } else {
        format!("{marker}\n{body}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding() {
        assert_eq!(encode("oneshot:plan"), "oneshot%3Aplan");
        assert_eq!(encode("a b/é"), "a%20b%2F%C3%A9");
    }

    #[test]
    fn lenient_issue_parsing() {
        let v = json!({"number": 3, "title": "T", "labels": [{"name": "a"}, "b"], "pull_request": null});
        let issue = Issue::from_json(&v).unwrap();
        assert_eq!(issue.labels, vec!["a", "b"]);
        assert!(!issue.is_pull_request);
        assert!(Issue::from_json(&json!({"message": "Not Found"})).is_err());
    }
}
