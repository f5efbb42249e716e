//! Sending requests: octocrab underneath, oneshot's retry policy on top.
//!
//! octocrab's own retry (off here: the `retry` feature is not enabled) re-sends POSTs blindly on
//! 5xx and timeouts, which duplicates issues and comments. Here idempotent requests are retried
//! with backoff on 5xx, timeouts, dropped connections and rate limits, within a total time
//! budget; a creating POST is sent once and its ambiguous failures are handed back to the caller,
//! which looks for its marker before sending again.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::Serialize;
use serde_json::Value;

use super::{RetryPolicy, response_error};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum HttpMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PATCH")]
    Patch,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Patch => "PATCH",
        }
    }
}

/// One API request, as data: the dry run prints these, the real run sends them.
#[derive(Debug, Clone, Serialize)]
pub struct Request {
    pub method: HttpMethod,
    /// Path and query below the REST base (`/repos/o/r/issues`), or the GraphQL endpoint when
    /// `graphql` is set.
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// What this request does, in words ("create the plan issue"), for errors and dry runs.
    pub purpose: String,
    /// A POST that creates something: never re-sent blindly.
    #[serde(skip)]
    pub creates: bool,
    #[serde(skip)]
    pub graphql: bool,
    /// Statuses besides 2xx that are an acceptable answer (422 "already exists" for a label).
    #[serde(skip)]
    pub also_ok: &'static [u16],
}

impl Request {
    pub fn new(method: HttpMethod, path: impl Into<String>, purpose: impl Into<String>) -> Self {
        Request {
            method,
            path: path.into(),
            body: None,
            purpose: purpose.into(),
            creates: false,
            graphql: false,
            also_ok: &[],
        }
    }

    pub fn get(path: impl Into<String>, purpose: impl Into<String>) -> Self {
        Self::new(HttpMethod::Get, path, purpose)
    }

    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    pub fn also_ok(mut self, statuses: &'static [u16]) -> Self {
        self.also_ok = statuses;
        self
    }

    pub fn creating(mut self) -> Self {
        self.creates = true;
        self
    }

    pub fn graphql(query: &str, variables: Value, purpose: impl Into<String>) -> Self {
        let mut r = Self::new(HttpMethod::Post, "graphql", purpose);
        r.body = Some(serde_json::json!({ "query": query, "variables": variables }));
        r.graphql = true;
        r
    }
}

/// A response: status, headers (lower-case names) and the body as JSON (`Null` when empty,
/// a JSON string when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

impl Response {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// A primary or secondary rate limit, with the wait GitHub asks for if it says.
    fn rate_limit_wait(&self) -> Option<Option<Duration>> {
        let limited = self.status == 429
            || (self.status == 403
                && (self.header("retry-after").is_some()
                    || self.header("x-ratelimit-remaining") == Some("0")
                    || self
                        .body
                        .get("message")
                        .and_then(Value::as_str)
                        .is_some_and(|m| m.to_lowercase().contains("rate limit"))));
        if !limited {
            return None;
        }
        if let Some(secs) = self
            .header("retry-after")
            .and_then(|v| v.trim().parse::<u64>().ok())
        {
            return Some(Some(Duration::from_secs(secs)));
        }
        if self.header("x-ratelimit-remaining") == Some("0")
            && let Some(reset) = self
                .header("x-ratelimit-reset")
                .and_then(|v| v.trim().parse::<u64>().ok())
        {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            return Some(Some(Duration::from_secs(reset.saturating_sub(now) + 1)));
        }
        Some(None)
    }
}

/// A failed attempt, classified for the caller.
pub struct Failure {
    /// Boxed: a failure travels through `Result`s, and an error with its causes is large.
    pub error: Box<Error>,
    /// The request may have been carried out (timeout, dropped connection, 5xx).
    pub may_have_landed: bool,
    /// Sending again may succeed (after a wait).
    pub retryable: bool,
    /// The wait the server asked for, if any.
    pub wait: Option<Duration>,
}

pub(crate) struct Transport {
    runtime: tokio::runtime::Runtime,
    rest: Octocrab,
    graphql: Octocrab,
    api_url: String,
    graphql_url: String,
    policy: RetryPolicy,
    /// Text that must never leave in a request body (the token, and its basic-auth form).
    secrets: Vec<String>,
}

impl Transport {
    pub fn new(
        runtime: tokio::runtime::Runtime,
        rest: Octocrab,
        graphql: Octocrab,
        api_url: String,
        graphql_url: String,
        policy: RetryPolicy,
        secrets: Vec<String>,
    ) -> Self {
        Transport {
            runtime,
            rest,
            graphql,
            api_url,
            graphql_url,
            policy,
            secrets: secrets.into_iter().filter(|s| s.len() >= 8).collect(),
        }
    }

    pub fn policy(&self) -> RetryPolicy {
        self.policy
    }

    pub fn url(&self, request: &Request) -> String {
        if request.graphql {
            self.graphql_url.clone()
        } else {
            format!("{}{}", self.api_url, request.path)
        }
    }

    /// Sends with retries. A creating request is retried only when it certainly did not land.
    pub fn send(&self, request: &Request) -> Result<Response> {
        let start = Instant::now();
        let mut backoff = self.policy.first_backoff;
        let mut attempt = 1;
        loop {
            let failure = match self.send_once_classified(request) {
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };
            let may_resend = failure.retryable && !(request.creates && failure.may_have_landed);
            if !may_resend || attempt >= self.policy.max_attempts {
                return Err(if attempt > 1 {
                    (*failure.error).cause(format!(
                        "gave up after {attempt} attempts in {:.1}s",
                        start.elapsed().as_secs_f64()
                    ))
                } else {
                    *failure.error
                });
            }
            let wait = failure.wait.unwrap_or(backoff);
            if start.elapsed() + wait > self.policy.total_budget {
                return Err(failure
                    .error
                    .cause(format!(
                        "a retry would need a wait of {}s, past the time allowed ({}s)",
                        wait.as_secs(),
                        self.policy.total_budget.as_secs()
                    ))
                    .hint("wait for the rate limit to reset, then re-run the step (it is safe to re-run)"));
            }
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(Duration::from_secs(30));
            attempt += 1;
        }
    }

    /// One attempt, its failure classified.
    pub fn send_once_classified(
        &self,
        request: &Request,
    ) -> std::result::Result<Response, Failure> {
        let url = self.url(request);
        let client = if request.graphql {
            &self.graphql
        } else {
            &self.rest
        };
        // A body that quotes agent or command output could carry the token: it is never sent.
        let body = request.body.as_ref().map(|b| redact(b, &self.secrets));
        let outcome = self.runtime.block_on(async {
            tokio::time::timeout(
                self.policy.request_timeout,
                send_raw(client, request.method, &url, body.as_ref()),
            )
            .await
        });
        let response = match outcome {
            Err(_elapsed) => {
                return Err(Failure {
                    error: Box::new(
                        Error::github(format!("could not {}", request.purpose)).cause(format!(
                            "{} {url} timed out after {}s",
                            request.method.as_str(),
                            self.policy.request_timeout.as_secs_f64()
                        )),
                    ),
                    may_have_landed: true,
                    retryable: true,
                    wait: None,
                });
            }
            Ok(Err(transport_error)) => {
                return Err(Failure {
                    error: Box::new(
                        Error::github(format!("could not {}", request.purpose))
                            .cause(format!(
                                "{} {url}: {transport_error}",
                                request.method.as_str()
                            ))
                            .hint("check the network and GITHUB_API_URL"),
                    ),
                    // A refused connection never landed; anything later might have.
                    may_have_landed: !transport_error.contains("Connection refused"),
                    retryable: true,
                    wait: None,
                });
            }
            Ok(Ok(response)) => response,
        };
        if response.is_success() || request.also_ok.contains(&response.status) {
            return Ok(response);
        }
        // GraphQL reports errors with status 200; those are handled by the caller.
        if let Some(wait) = response.rate_limit_wait() {
            return Err(Failure {
                error: Box::new(
                    response_error(&request.purpose, &response)
                        .hint("GitHub rate-limited the token"),
                ),
                may_have_landed: false,
                retryable: true,
                wait,
            });
        }
        let server_error = response.status >= 500;
        Err(Failure {
            error: Box::new(response_error(&request.purpose, &response)),
            may_have_landed: server_error,
            retryable: server_error,
            wait: None,
        })
    }
}

/// `value` with every secret in its strings replaced by `***`.
pub fn redact(value: &Value, secrets: &[String]) -> Value {
    match value {
        Value::String(s) if secrets.iter().any(|x| s.contains(x.as_str())) => Value::String(
            secrets
                .iter()
                .fold(s.clone(), |acc, x| acc.replace(x.as_str(), "***")),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, secrets)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact(v, secrets)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// One HTTP exchange through octocrab; a transport error comes back as text.
async fn send_raw(
    client: &Octocrab,
    method: HttpMethod,
    url: &str,
    body: Option<&Value>,
) -> std::result::Result<Response, String> {
    let result = match method {
        HttpMethod::Get => client._get(url).await,
        HttpMethod::Post => client._post(url, body).await,
        HttpMethod::Patch => client._patch(url, body).await,
    };
    let response = result.map_err(describe_octocrab_error)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_ascii_lowercase(), v.to_string()))
        })
        .collect();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(describe_octocrab_error)?
        .to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

/// octocrab's `Display` is terse ("GitHub", "Service"); walk the source chain for the real cause.
fn describe_octocrab_error(error: octocrab::Error) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = std::error::Error::source(&error);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

impl From<Failure> for Error {
    fn from(f: Failure) -> Self {
        *f.error
    }
}
