//! The one GitHub client. octocrab is the transport (auth, TLS, base URL); this module owns the
//! retry policy, error messages and the app's own types. No octocrab type leaves this folder.
//!
//! Requests are values ([`Request`]) built by the functions in `api.rs`, so that a dry run prints
//! exactly the requests a real run sends, from the same code.

mod api;
mod connect;
mod transport;

pub use api::*;
pub use connect::{ConnectOptions, RepoSlug, api_urls, discover_repo, post_webhook};
pub use transport::{HttpMethod, Request, Response};

use std::time::Duration;

use crate::actions::Runner;
use crate::error::{Error, ErrorKind, Result};

/// A connected client for one repository.
pub struct GitHub {
    transport: transport::Transport,
    pub repo: RepoSlug,
    /// Where people look at things: `https://github.com` or the GHES host.
    pub server_url: String,
    /// Kept for pushes only; never passed to an agent.
    token: String,
}

/// Limits of the retry policy; tests shorten them through the environment.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Time allowed for one request before it counts as timed out.
    pub request_timeout: Duration,
    /// Total time allowed for one operation including every retry and wait.
    pub total_budget: Duration,
    /// First backoff; doubles on each retry.
    pub first_backoff: Duration,
    /// At most this many attempts for one request.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            request_timeout: Duration::from_secs(30),
            total_budget: Duration::from_secs(120),
            first_backoff: Duration::from_millis(500),
            max_attempts: 5,
        }
    }
}

impl GitHub {
    /// Sends a request with the retry policy of its kind: idempotent requests are retried on
    /// 5xx, timeouts and rate limits; a creating POST is never re-sent blindly (see [`GitHub::create`]).
    pub fn send(&self, request: &Request) -> Result<Response> {
        self.transport.send(request)
    }

    /// Sends a creating POST, never creating its thing twice. A failure that may have landed
    /// (a timeout, a dropped connection, a 5xx) counts as landed only if `find` finds what the
    /// POST creates (by its marker or distinct id); otherwise the POST is sent again, once.
    /// A failure refused before it landed (a rate limit) is sent again after the wait. When the
    /// second attempt fails too and `find` still finds nothing, the error says so: the caller
    /// then undoes what it made before.
    pub fn create<T>(
        &self,
        request: &Request,
        parse: impl Fn(&Response) -> Result<T>,
        find: impl Fn(&GitHub) -> Result<Option<T>>,
    ) -> Result<T> {
        let policy = self.transport.policy();
        let start = std::time::Instant::now();
        let mut sent_again = false;
        let mut attempts = 0;
        let mut earlier: Option<String> = None;
        loop {
            attempts += 1;
            let failure = match self.transport.send_once_classified(request) {
                Ok(response) => return parse(&response),
                Err(failure) => failure,
            };
            if failure.may_have_landed {
                if let Some(found) = find(self)? {
                    return Ok(found);
                }
                if sent_again {
                    let mut err = failure.error.cause(
                        "it was sent twice and neither attempt landed: oneshot looked for what it creates after each and found nothing",
                    );
                    if let Some(first) = earlier {
                        err = err.cause(format!("the first attempt: {first}"));
                    }
                    return Err(err);
                }
                sent_again = true;
                earlier = Some(failure.error.causes.join("; "));
                continue;
            }
            // Refused after an attempt that may have landed: "already exists" may be that one.
            if sent_again && let Some(found) = find(self)? {
                return Ok(found);
            }
            let out_of_time =
                start.elapsed() + failure.wait.unwrap_or_default() > policy.total_budget;
            if !failure.retryable || attempts >= policy.max_attempts || out_of_time {
                return Err(*failure.error);
            }
            // Refused before it landed (a rate limit, a refused connection): safe to send again.
            std::thread::sleep(
                failure
                    .wait
                    .unwrap_or(policy.first_backoff)
                    .min(Duration::from_secs(60)),
            );
        }
    }

    /// The time one operation may take, retries and waits included: also the limit of a look
    /// for something a POST may have created.
    pub fn retry_budget(&self) -> Duration {
        self.transport.policy().total_budget
    }

    /// `remote` of `git`'s repository, whose pushes, fetches and ls-remotes to the server carry
    /// the token (through the environment, never written to `.git/config`). Local commands
    /// never carry it: they go through [`crate::git::Git`], which cannot.
    pub fn authenticated_remote(
        &self,
        git: &crate::git::Git,
        remote: &str,
    ) -> crate::error::Result<crate::git::Remote> {
        crate::git::Remote::authenticated(git, remote, &self.server_url, &self.token)
    }
}

/// Masks the token in the Actions log and returns a connected client.
pub fn connect(options: &ConnectOptions, runner: &Runner) -> Result<GitHub> {
    connect::connect(options, runner)
}

/// Turns a failed response into an error that says what was being done, the status, GitHub's
/// message and documentation URL, and what to do.
pub(crate) fn response_error(purpose: &str, response: &Response) -> Error {
    let status = response.status;
    let message = response
        .body
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("")
        .to_string();
    let docs = response
        .body
        .get("documentation_url")
        .and_then(|m| m.as_str());
    let details: Vec<String> = response
        .body
        .get("errors")
        .and_then(|e| e.as_array())
        .map(|errors| {
            errors
                .iter()
                .map(|e| match e {
                    serde_json::Value::String(s) => s.clone(),
                    other => {
                        let field = other.get("field").and_then(|v| v.as_str()).unwrap_or("");
                        let code = other.get("code").and_then(|v| v.as_str()).unwrap_or("");
                        let msg = other.get("message").and_then(|v| v.as_str()).unwrap_or("");
                        [field, code, msg]
                            .iter()
                            .filter(|s| !s.is_empty())
                            .copied()
                            .collect::<Vec<_>>()
                            .join(": ")
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let kind = match status {
        401 => ErrorKind::Auth,
        _ => ErrorKind::GitHub,
    };
    let mut headline = format!("GitHub answered {status}");
    if !message.is_empty() {
        headline.push_str(&format!(": {message}"));
    }
    let mut err = Error::new(kind, format!("could not {purpose}")).cause(headline);
    for d in details {
        err = err.cause(d);
    }
    if let Some(docs) = docs {
        err = err.cause(format!("see {docs}"));
    }
    match status {
        401 => err.hint("the token was rejected: check that ONESHOT_TOKEN (or GH_TOKEN/GITHUB_TOKEN) is current"),
        403 => err.hint("the token may lack a permission this needs (contents, issues, pull-requests, actions: write)"),
        404 => err.hint("check the repository name and that the token can see it (a token without access gets 404)"),
        422 => err.hint("GitHub rejected the request's content; the causes above say which field"),
        _ => err,
    }
}
