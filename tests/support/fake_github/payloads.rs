//! JSON payloads in GitHub's shapes. Every field GitHub's schema requires is present (a test checks
//! each response against the official schema), URLs point at the fake's own API, and `html_url`s
//! at `https://github.com` (or at the server itself for GHES), like the real thing.

use base64::Engine;
use serde_json::{Value, json};

use super::state::{Comment, Issue, Label, Repo, Run, State, User, node_id};
use super::storage::{CommitInfo, DirEntry};

/// Where the fake's resources live.
#[derive(Clone, Debug)]
pub struct Urls {
    /// The REST base: `http://127.0.0.1:PORT` or `http://127.0.0.1:PORT/api/v3`.
    pub api: String,
    /// The web base for `html_url`: `https://github.com` or `http://127.0.0.1:PORT` (GHES).
    pub web: String,
    pub ghes: bool,
}

impl Urls {
    fn repo_api(&self, repo: &Repo) -> String {
        format!("{}/repos/{}/{}", self.api, repo.owner, repo.name)
    }

    fn repo_web(&self, repo: &Repo) -> String {
        format!("{}/{}/{}", self.web, repo.owner, repo.name)
    }

    fn avatar(&self, id: u64) -> String {
        if self.ghes {
            format!("{}/avatars/u/{id}", self.web)
        } else {
            format!("https://avatars.githubusercontent.com/u/{id}?v=4")
        }
    }

    fn raw(&self, repo: &Repo, git_ref: &str, path: &str) -> String {
        if self.ghes {
            format!("{}/raw/{git_ref}/{path}", self.repo_web(repo))
        } else {
            format!(
                "https://raw.githubusercontent.com/{}/{}/{git_ref}/{path}",
                repo.owner, repo.name
            )
        }
    }
}

/// `simple-user`.
pub fn user(urls: &Urls, user: &User) -> Value {
    let api = format!("{}/users/{}", urls.api, encode_segment(&user.login));
    let html = match user.login.strip_suffix("[bot]") {
        Some(app) => format!("{}/apps/{app}", urls.web),
        None => format!("{}/{}", urls.web, user.login),
    };
    json!({
        "login": user.login,
        "id": user.id,
        "node_id": user.node_id,
        "avatar_url": urls.avatar(user.id),
        "gravatar_id": "",
        "url": api,
        "html_url": html,
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": user.kind,
        "user_view_type": "public",
        "site_admin": false
    })
}

/// `private-user`: what `GET /user` returns for the token's owner.
pub fn private_user(urls: &Urls, u: &User, created_at: &str) -> Value {
    let mut v = user(urls, u);
    let extra = json!({
        "user_view_type": "private",
        "name": u.login,
        "company": null,
        "blog": "",
        "location": null,
        "email": null,
        "notification_email": null,
        "hireable": null,
        "bio": null,
        "twitter_username": null,
        "public_repos": 1,
        "public_gists": 0,
        "followers": 0,
        "following": 0,
        "created_at": created_at,
        "updated_at": created_at,
        "private_gists": 0,
        "total_private_repos": 0,
        "owned_private_repos": 0,
        "disk_usage": 0,
        "collaborators": 0,
        "two_factor_authentication": true,
        "plan": {"name": "free", "space": 976_562_499, "private_repos": 10000, "collaborators": 0}
    });
    merge(&mut v, extra);
    v
}

/// `full-repository` (`full: true`, for `GET /repos/{o}/{r}`) or `repository`.
pub fn repository(urls: &Urls, state: &State, repo: &Repo, full: bool) -> Value {
    let mut v = minimal_repository(urls, state, repo);
    let web = urls.repo_web(repo);
    let host = urls
        .web
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let open = repo.issues.values().filter(|i| i.state == "open").count();
    merge(
        &mut v,
        json!({
            "clone_url": format!("{web}.git"),
            "git_url": format!("git://{host}/{}/{}.git", repo.owner, repo.name),
            "ssh_url": format!("git@{host}:{}/{}.git", repo.owner, repo.name),
            "svn_url": web,
            "mirror_url": null,
            "homepage": null,
            "language": null,
            "default_branch": repo.default_branch,
            "forks": 0,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers": 0,
            "watchers_count": 0,
            "size": 1,
            "open_issues": open,
            "open_issues_count": open,
            "is_template": false,
            "topics": [],
            "has_issues": true,
            "has_projects": true,
            "has_wiki": true,
            "has_pages": false,
            "has_downloads": true,
            "has_discussions": false,
            "archived": false,
            "disabled": false,
            "visibility": if repo.private { "private" } else { "public" },
            "pushed_at": repo.created_at,
            "created_at": repo.created_at,
            "updated_at": repo.created_at,
            "permissions": {"admin": true, "maintain": true, "push": true, "triage": true, "pull": true},
            "allow_rebase_merge": true,
            "allow_squash_merge": true,
            "allow_merge_commit": true,
            "allow_auto_merge": false,
            "delete_branch_on_merge": false,
            "allow_update_branch": false,
            "allow_forking": true,
            "web_commit_signoff_required": false,
            "license": null
        }),
    );
    if full {
        merge(&mut v, json!({"network_count": 0, "subscribers_count": 1}));
    }
    v
}

/// `minimal-repository` (the repository of a workflow run).
pub fn minimal_repository(urls: &Urls, state: &State, repo: &Repo) -> Value {
    let api = urls.repo_api(repo);
    let owner = state.known_user(&repo.owner);
    let mut v = json!({
        "id": repo.id,
        "node_id": repo.node_id,
        "name": repo.name,
        "full_name": repo.full_name(),
        "private": repo.private,
        "owner": user(urls, &owner),
        "html_url": urls.repo_web(repo),
        "description": null,
        "fork": false,
        "url": api,
        "visibility": if repo.private { "private" } else { "public" }
    });
    // The URL templates GitHub lists for every repository.
    const TEMPLATES: &[(&str, &str)] = &[
        ("archive_url", "/{archive_format}{/ref}"),
        ("assignees_url", "/assignees{/user}"),
        ("blobs_url", "/git/blobs{/sha}"),
        ("branches_url", "/branches{/branch}"),
        ("collaborators_url", "/collaborators{/collaborator}"),
        ("comments_url", "/comments{/number}"),
        ("commits_url", "/commits{/sha}"),
        ("compare_url", "/compare/{base}...{head}"),
        ("contents_url", "/contents/{+path}"),
        ("contributors_url", "/contributors"),
        ("deployments_url", "/deployments"),
        ("downloads_url", "/downloads"),
        ("events_url", "/events"),
        ("forks_url", "/forks"),
        ("git_commits_url", "/git/commits{/sha}"),
        ("git_refs_url", "/git/refs{/sha}"),
        ("git_tags_url", "/git/tags{/sha}"),
        ("hooks_url", "/hooks"),
        ("issue_comment_url", "/issues/comments{/number}"),
        ("issue_events_url", "/issues/events{/number}"),
        ("issues_url", "/issues{/number}"),
        ("keys_url", "/keys{/key_id}"),
        ("labels_url", "/labels{/name}"),
        ("languages_url", "/languages"),
        ("merges_url", "/merges"),
        ("milestones_url", "/milestones{/number}"),
        (
            "notifications_url",
            "/notifications{?since,all,participating}",
        ),
        ("pulls_url", "/pulls{/number}"),
        ("releases_url", "/releases{/id}"),
        ("stargazers_url", "/stargazers"),
        ("statuses_url", "/statuses/{sha}"),
        ("subscribers_url", "/subscribers"),
        ("subscription_url", "/subscription"),
        ("tags_url", "/tags"),
        ("teams_url", "/teams"),
        ("trees_url", "/git/trees{/sha}"),
    ];
    for (key, suffix) in TEMPLATES {
        v[*key] = Value::String(format!("{api}{suffix}"));
    }
    v
}

pub fn label(urls: &Urls, repo: &Repo, label: &Label) -> Value {
    json!({
        "id": label.id,
        "node_id": label.node_id,
        "url": format!("{}/labels/{}", urls.repo_api(repo), encode_segment(&label.name)),
        "name": label.name,
        "color": label.color,
        "default": label.default,
        "description": label.description
    })
}

fn labels_of(urls: &Urls, repo: &Repo, names: &[String]) -> Vec<Value> {
    names
        .iter()
        .filter_map(|n| repo.label(n))
        .map(|l| label(urls, repo, l))
        .collect()
}

fn association(repo: &Repo, login: &str) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        "OWNER"
    } else {
        "COLLABORATOR"
    }
}

fn reactions(url: &str) -> Value {
    json!({
        "url": format!("{url}/reactions"),
        "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
        "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
    })
}

/// `issue`, also for the issue side of a pull request (with `pull_request` set).
pub fn issue(urls: &Urls, state: &State, repo: &Repo, issue: &Issue) -> Value {
    let api = format!("{}/issues/{}", urls.repo_api(repo), issue.number);
    let kind = if issue.pull.is_some() {
        "pull"
    } else {
        "issues"
    };
    let html = format!("{}/{kind}/{}", urls.repo_web(repo), issue.number);
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.issue_number == issue.number)
        .count();
    let assignees: Vec<Value> = issue
        .assignees
        .iter()
        .map(|a| user(urls, &state.known_user(a)))
        .collect();
    let mut v = json!({
        "url": api,
        "repository_url": urls.repo_api(repo),
        "labels_url": format!("{api}/labels{{/name}}"),
        "comments_url": format!("{api}/comments"),
        "events_url": format!("{api}/events"),
        "html_url": html,
        "timeline_url": format!("{api}/timeline"),
        "id": issue.id,
        "node_id": issue.node_id,
        "number": issue.number,
        "title": issue.title,
        "user": user(urls, &state.known_user(&issue.user)),
        "labels": labels_of(urls, repo, &issue.labels),
        "state": issue.state,
        "state_reason": issue.state_reason,
        "locked": issue.locked,
        "assignee": assignees.first().cloned(),
        "assignees": assignees,
        "milestone": null,
        "comments": comments,
        "created_at": issue.created_at,
        "updated_at": issue.updated_at,
        "closed_at": issue.closed_at,
        "closed_by": issue.closed_by.as_ref().map(|u| user(urls, &state.known_user(u))),
        "author_association": association(repo, &issue.user),
        "active_lock_reason": null,
        "body": issue.body,
        "reactions": reactions(&api),
        "performed_via_github_app": null
    });
    if let Some(p) = &issue.pull {
        let pulls = format!("{}/pulls/{}", urls.repo_api(repo), issue.number);
        merge(
            &mut v,
            json!({
                "draft": p.draft,
                "pull_request": {
                    "url": pulls,
                    "html_url": html,
                    "diff_url": format!("{html}.diff"),
                    "patch_url": format!("{html}.patch"),
                    "merged_at": p.merged_at
                }
            }),
        );
    }
    v
}

pub fn comment(urls: &Urls, state: &State, repo: &Repo, c: &Comment) -> Value {
    let kind = match repo.issues.get(&c.issue_number) {
        Some(i) if i.pull.is_some() => "pull",
        _ => "issues",
    };
    let url = format!("{}/issues/comments/{}", urls.repo_api(repo), c.id);
    json!({
        "url": url,
        "html_url": format!("{}/{kind}/{}#issuecomment-{}", urls.repo_web(repo), c.issue_number, c.id),
        "issue_url": format!("{}/issues/{}", urls.repo_api(repo), c.issue_number),
        "id": c.id,
        "node_id": c.node_id,
        "user": user(urls, &state.known_user(&c.user)),
        "created_at": c.created_at,
        "updated_at": c.updated_at,
        "author_association": association(repo, &c.user),
        "body": c.body,
        "reactions": reactions(&url),
        "performed_via_github_app": null
    })
}

/// A team named in `requested_teams` (`team-simple`).
fn team(urls: &Urls, repo: &Repo, slug: &str, id: u64) -> Value {
    let api = format!("{}/organizations/{}/team/{id}", urls.api, repo.id);
    json!({
        "id": id,
        "node_id": node_id("T", id),
        "url": api,
        "members_url": format!("{api}/members{{/member}}"),
        "name": slug,
        "description": null,
        "permission": "pull",
        "privacy": "closed",
        "notification_setting": "notifications_enabled",
        "html_url": format!("{}/orgs/{}/teams/{slug}", urls.web, repo.owner),
        "repositories_url": format!("{api}/repos"),
        "slug": slug,
        "parent": null,
        "type": "organization"
    })
}

/// `pull-request`. `head_sha` is the head branch's current tip (or the last one seen).
pub fn pull(urls: &Urls, state: &State, repo: &Repo, issue_: &Issue) -> Value {
    let p = issue_.pull.as_ref().expect("a pull request");
    let api = format!("{}/pulls/{}", urls.repo_api(repo), issue_.number);
    let issue_api = format!("{}/issues/{}", urls.repo_api(repo), issue_.number);
    let html = format!("{}/pull/{}", urls.repo_web(repo), issue_.number);
    let owner = user(urls, &state.known_user(&repo.owner));
    let repo_json = repository(urls, state, repo, false);
    let statuses = format!("{}/statuses/{}", urls.repo_api(repo), p.head_sha);
    let assignees: Vec<Value> = issue_
        .assignees
        .iter()
        .map(|a| user(urls, &state.known_user(a)))
        .collect();
    let comments = repo
        .comments
        .iter()
        .filter(|c| c.issue_number == issue_.number)
        .count();
    let mergeable_state = if issue_.state == "closed" {
        "unknown"
    } else if p.draft {
        "draft"
    } else {
        "clean"
    };
    let team_ids = 7_000_000u64;
    let mut v = json!({
        "url": api,
        "id": p.id,
        "node_id": p.node_id,
        "html_url": html,
        "diff_url": format!("{html}.diff"),
        "patch_url": format!("{html}.patch"),
        "issue_url": issue_api,
        "commits_url": format!("{api}/commits"),
        "review_comments_url": format!("{api}/comments"),
        "review_comment_url": format!("{}/pulls/comments{{/number}}", urls.repo_api(repo)),
        "comments_url": format!("{issue_api}/comments"),
        "statuses_url": statuses,
        "number": issue_.number,
        "state": issue_.state,
        "locked": issue_.locked,
        "title": issue_.title,
        "user": user(urls, &state.known_user(&issue_.user)),
        "body": issue_.body,
        "labels": labels_of(urls, repo, &issue_.labels),
        "milestone": null,
        "active_lock_reason": null,
        "created_at": issue_.created_at,
        "updated_at": issue_.updated_at,
        "closed_at": issue_.closed_at,
        "merged_at": p.merged_at,
        "merge_commit_sha": null,
        "assignee": assignees.first().cloned(),
        "assignees": assignees
    });
    // In parts: one json! this size exceeds the macro recursion limit.
    merge(
        &mut v,
        json!({
            "requested_reviewers": p.requested_reviewers.iter().map(|r| user(urls, &state.known_user(r))).collect::<Vec<_>>(),
            "requested_teams": p.requested_teams.iter().enumerate()
                .map(|(i, t)| team(urls, repo, t, team_ids + i as u64)).collect::<Vec<_>>(),
            "head": {
                "label": format!("{}:{}", repo.owner, p.head),
                "ref": p.head,
                "sha": p.head_sha,
                "user": owner,
                "repo": repo_json
            },
            "base": {
                "label": format!("{}:{}", repo.owner, p.base),
                "ref": p.base,
                "sha": p.base_sha,
                "user": owner,
                "repo": repo_json
            },
            "_links": {
                "self": {"href": api},
                "html": {"href": html},
                "issue": {"href": issue_api},
                "comments": {"href": format!("{issue_api}/comments")},
                "review_comments": {"href": format!("{api}/comments")},
                "review_comment": {"href": format!("{}/pulls/comments{{/number}}", urls.repo_api(repo))},
                "commits": {"href": format!("{api}/commits")},
                "statuses": {"href": statuses}
            }
        }),
    );
    merge(
        &mut v,
        json!({
            "author_association": association(repo, &issue_.user),
            "auto_merge": null,
            "draft": p.draft,
            "merged": p.merged,
            "mergeable": if issue_.state == "open" { Value::Bool(true) } else { Value::Null },
            "rebaseable": if issue_.state == "open" { Value::Bool(true) } else { Value::Null },
            "mergeable_state": mergeable_state,
            "merged_by": null,
            "comments": comments,
            "review_comments": 0,
            "maintainer_can_modify": p.maintainer_can_modify,
            "commits": 1,
            "additions": 1,
            "deletions": 0,
            "changed_files": 1
        }),
    );
    v
}

/// `{users, teams}` of `GET …/requested_reviewers`.
pub fn requested_reviewers(urls: &Urls, state: &State, repo: &Repo, issue_: &Issue) -> Value {
    let p = issue_.pull.as_ref().expect("a pull request");
    json!({
        "users": p.requested_reviewers.iter().map(|r| user(urls, &state.known_user(r))).collect::<Vec<_>>(),
        "teams": p.requested_teams.iter().enumerate()
            .map(|(i, t)| team(urls, repo, t, 7_000_000 + i as u64)).collect::<Vec<_>>()
    })
}

pub fn git_ref(urls: &Urls, repo: &Repo, full_ref: &str, sha: &str) -> Value {
    json!({
        "ref": full_ref,
        "node_id": format!("REF_kwDOAA{}", &sha[..8.min(sha.len())]),
        "url": format!("{}/git/{full_ref}", urls.repo_api(repo)),
        "object": {
            "sha": sha,
            "type": "commit",
            "url": format!("{}/git/commits/{sha}", urls.repo_api(repo))
        }
    })
}

pub fn workflow(urls: &Urls, repo: &Repo, id: u64, name: &str, path: &str) -> Value {
    let file = path.rsplit('/').next().unwrap_or(path);
    json!({
        "id": id,
        "node_id": node_id("W", id),
        "name": name,
        "path": path,
        "state": "active",
        "created_at": repo.created_at,
        "updated_at": repo.created_at,
        "url": format!("{}/actions/workflows/{id}", urls.repo_api(repo)),
        "html_url": format!("{}/blob/{}/{path}", urls.repo_web(repo), repo.default_branch),
        "badge_url": format!("{}/workflows/{file}/badge.svg", urls.repo_web(repo))
    })
}

/// `workflow-run`.
pub fn run(
    urls: &Urls,
    state: &State,
    repo: &Repo,
    run: &Run,
    commit: Option<&CommitInfo>,
) -> Value {
    let api = format!("{}/actions/runs/{}", urls.repo_api(repo), run.id);
    let actor = user(urls, &state.known_user(&run.actor));
    let repo_json = minimal_repository(urls, state, repo);
    let suite = run.id + 1_000_000_000;
    let head_commit = match commit {
        Some(c) => json!({
            "id": c.sha,
            "tree_id": c.tree,
            "message": c.message,
            "timestamp": c.committer_date,
            "author": {"name": c.author_name, "email": c.author_email},
            "committer": {"name": c.committer_name, "email": c.committer_email}
        }),
        None => json!({
            "id": run.head_sha,
            "tree_id": run.head_sha,
            "message": "",
            "timestamp": run.created_at,
            "author": {"name": run.actor, "email": format!("{}@users.noreply.github.com", run.actor)},
            "committer": {"name": "GitHub", "email": "noreply@github.com"}
        }),
    };
    json!({
        "id": run.id,
        "name": run.name,
        "node_id": run.node_id,
        "head_branch": run.head_branch,
        "head_sha": run.head_sha,
        "path": run.workflow_path,
        "display_title": run.display_title,
        "run_number": run.run_number,
        "event": run.event,
        "status": run.status,
        "conclusion": run.conclusion,
        "workflow_id": run.workflow_id,
        "check_suite_id": suite,
        "check_suite_node_id": node_id("CS", suite),
        "url": api,
        "html_url": format!("{}/actions/runs/{}", urls.repo_web(repo), run.id),
        "pull_requests": [],
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "actor": actor,
        "triggering_actor": actor,
        "run_attempt": 1,
        "referenced_workflows": [],
        "run_started_at": run.created_at,
        "jobs_url": format!("{api}/jobs"),
        "logs_url": format!("{api}/logs"),
        "check_suite_url": format!("{}/check-suites/{suite}", urls.repo_api(repo)),
        "artifacts_url": format!("{api}/artifacts"),
        "cancel_url": format!("{api}/cancel"),
        "rerun_url": format!("{api}/rerun"),
        "previous_attempt_url": null,
        "workflow_url": format!("{}/actions/workflows/{}", urls.repo_api(repo), run.workflow_id),
        "head_commit": head_commit,
        "repository": repo_json,
        "head_repository": repo_json,
        "head_repository_id": repo.id
    })
}

/// A job of a run (`job`), with its steps numbered from 1.
pub fn job(
    urls: &Urls,
    repo: &Repo,
    run: &Run,
    index: usize,
    job: &crate::support::fake_github::Job,
) -> Value {
    let id = run.id * 100 + index as u64 + 1;
    let api = urls.repo_api(repo);
    let started = |status: &str| (status != "queued").then(|| run.created_at.clone());
    let done = |status: &str| (status == "completed").then(|| run.updated_at.clone());
    let steps: Vec<Value> = job
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            json!({
                "name": step.name,
                "status": step.status,
                "conclusion": step.conclusion,
                "number": i + 1,
                "started_at": started(&step.status),
                "completed_at": done(&step.status),
            })
        })
        .collect();
    json!({
        "id": id,
        "run_id": run.id,
        "workflow_name": run.name,
        "head_branch": run.head_branch,
        "run_url": format!("{api}/actions/runs/{}", run.id),
        "run_attempt": 1,
        "node_id": node_id("CR", id),
        "head_sha": run.head_sha,
        "url": format!("{api}/actions/jobs/{id}"),
        "html_url": format!("{}/actions/runs/{}/job/{id}", urls.repo_web(repo), run.id),
        "status": job.status,
        "conclusion": job.conclusion,
        "created_at": run.created_at,
        "started_at": run.created_at,
        "completed_at": done(&job.status),
        "name": job.name,
        "steps": steps,
        "check_run_url": format!("{api}/check-runs/{id}"),
        "labels": ["ubuntu-latest"],
        "runner_id": 1,
        "runner_name": "GitHub Actions 1",
        "runner_group_id": 1,
        "runner_group_name": "GitHub Actions",
    })
}

pub fn dispatch_details(urls: &Urls, repo: &Repo, run_id: u64) -> Value {
    json!({
        "workflow_run_id": run_id,
        "run_url": format!("{}/actions/runs/{run_id}", urls.repo_api(repo)),
        "html_url": format!("{}/actions/runs/{run_id}", urls.repo_web(repo))
    })
}

/// `content-file`: the content base64-encoded in lines of 60 characters, as GitHub sends it.
pub fn content_file(
    urls: &Urls,
    repo: &Repo,
    git_ref: &str,
    path: &str,
    sha: &str,
    content: &[u8],
) -> Value {
    let encoded = base64::engine::general_purpose::STANDARD.encode(content);
    let mut wrapped = String::new();
    for chunk in encoded.as_bytes().chunks(60) {
        wrapped.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        wrapped.push('\n');
    }
    let mut v = content_entry(
        urls,
        repo,
        git_ref,
        &DirEntry {
            name: path.rsplit('/').next().unwrap_or(path).to_string(),
            path: path.to_string(),
            kind: "file",
            sha: sha.to_string(),
            size: content.len() as u64,
        },
    );
    merge(&mut v, json!({"content": wrapped, "encoding": "base64"}));
    v
}

/// One entry of a directory listing (`content-directory` items).
pub fn content_entry(urls: &Urls, repo: &Repo, git_ref: &str, e: &DirEntry) -> Value {
    let api = format!(
        "{}/contents/{}?ref={}",
        urls.repo_api(repo),
        e.path,
        encode_segment(git_ref)
    );
    let git = format!(
        "{}/git/{}/{}",
        urls.repo_api(repo),
        if e.kind == "dir" { "trees" } else { "blobs" },
        e.sha
    );
    let html = format!(
        "{}/{}/{git_ref}/{}",
        urls.repo_web(repo),
        if e.kind == "dir" { "tree" } else { "blob" },
        e.path
    );
    let download = if e.kind == "file" {
        Value::String(urls.raw(repo, git_ref, &e.path))
    } else {
        Value::Null
    };
    json!({
        "type": e.kind,
        "size": e.size,
        "name": e.name,
        "path": e.path,
        "sha": e.sha,
        "url": api,
        "git_url": git,
        "html_url": html,
        "download_url": download,
        "_links": {"self": api, "git": git, "html": html}
    })
}

/// Adds (or replaces) the fields of `extra` in `base`.
fn merge(base: &mut Value, extra: Value) {
    if let (Value::Object(b), Value::Object(e)) = (base, extra) {
        b.extend(e);
    }
}

/// Percent-encodes a path segment (label names with spaces, bot logins with brackets).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
