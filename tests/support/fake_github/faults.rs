//! Faults injected per route for the next N matching requests, and the request log.

use std::time::Duration;

use serde_json::{Value, json};

/// A fault for the next `times` requests (1 unless changed) whose method and API path match.
///
/// Paths are matched against the API-relative path (`/repos/o/r/issues`, GHES's `/api/v3` prefix
/// removed; GraphQL is `/graphql` in both layouts). A `*` segment matches one segment, a `**`
/// segment any number of them; the method `"*"` matches every method.
///
/// ```ignore
/// fake.inject(Fault::on("POST", "/repos/o/r/issues").drop_connection());
/// fake.inject(Fault::on("*", "/repos/o/r/**").status(502, json!({"message": "Server Error"})).times(2));
/// fake.inject(Fault::on("POST", "/repos/*/*/issues/*/comments").retry_after(429, 1));
/// ```
#[derive(Clone, Debug)]
pub struct Fault {
    pub(crate) method: String,
    pub(crate) pattern: String,
    pub(crate) times: usize,
    pub(crate) kind: FaultKind,
}

#[derive(Clone, Debug)]
pub enum FaultKind {
    /// Answer with this status, body and headers instead of handling the request.
    Respond {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    /// The primary rate limit: 403 with `x-ratelimit-remaining: 0` and a reset this far ahead.
    RateLimit { reset_in: Duration },
    /// Wait, then handle the request normally.
    Delay(Duration),
    /// Close the connection without answering; the request is not applied.
    Drop,
    /// Apply the request, then close the connection without answering (a POST that landed but
    /// whose answer never arrived).
    LandedThenDrop,
    /// Apply the request, then answer only after this long (a client timeout fires first).
    LandedThenDelay(Duration),
    /// Apply the request, then answer with this status and body instead of its own answer (a
    /// 5xx from GitHub's front end for a request its back end carried out).
    LandedThenRespond { status: u16, body: Value },
}

/// The method and path a fault applies to; finish it with one of the fault kinds.
#[derive(Clone, Debug)]
pub struct FaultTarget {
    method: String,
    pattern: String,
}

impl Fault {
    pub fn on(method: &str, pattern: &str) -> FaultTarget {
        FaultTarget {
            method: method.to_string(),
            pattern: pattern.to_string(),
        }
    }

    /// Applies the fault to the next `n` matching requests instead of only the next one.
    pub fn times(mut self, n: usize) -> Fault {
        self.times = n;
        self
    }

    /// Adds a response header (for `status` faults).
    pub fn with_header(mut self, name: &str, value: &str) -> Fault {
        if let FaultKind::Respond { headers, .. } = &mut self.kind {
            headers.push((name.to_ascii_lowercase(), value.to_string()));
        }
        self
    }

    pub(crate) fn matches(&self, method: &str, path: &str) -> bool {
        method_matches(&self.method, method) && path_matches(&self.pattern, path)
    }

    /// A short description for the request log.
    pub(crate) fn describe(&self) -> String {
        match &self.kind {
            FaultKind::Respond { status, .. } => format!("status {status}"),
            FaultKind::RateLimit { .. } => "primary rate limit".into(),
            FaultKind::Delay(d) => format!("delay {d:?}"),
            FaultKind::Drop => "dropped connection".into(),
            FaultKind::LandedThenDrop => "landed, then dropped connection".into(),
            FaultKind::LandedThenDelay(d) => format!("landed, then answered after {d:?}"),
            FaultKind::LandedThenRespond { status, .. } => format!("landed, then status {status}"),
        }
    }
}

impl FaultTarget {
    fn fault(self, kind: FaultKind) -> Fault {
        Fault {
            method: self.method,
            pattern: self.pattern,
            times: 1,
            kind,
        }
    }

    /// Answers with `status` and `body` (a JSON value) instead of handling the request.
    pub fn status(self, status: u16, body: Value) -> Fault {
        self.fault(FaultKind::Respond {
            status,
            body,
            headers: Vec::new(),
        })
    }

    /// A 5xx as GitHub's front end sends it when something behind it fails; the request is not
    /// applied ("failed and did not land").
    pub fn server_error(self, status: u16) -> Fault {
        self.status(status, server_error_body(status))
    }

    /// Applies the request, then answers with a 5xx as GitHub's front end sends it ("failed, but
    /// landed": the thing exists although the client was told the request failed).
    pub fn landed_then_server_error(self, status: u16) -> Fault {
        self.fault(FaultKind::LandedThenRespond {
            status,
            body: server_error_body(status),
        })
    }

    /// A secondary rate limit: `status` (403 or 429) with `retry-after: seconds`.
    pub fn retry_after(self, status: u16, seconds: u64) -> Fault {
        let body = json!({
            "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID FAKE:0000.",
            "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
            "status": status.to_string()
        });
        self.status(status, body)
            .with_header("retry-after", &seconds.to_string())
    }

    /// The primary rate limit: 403, `x-ratelimit-remaining: 0`, `x-ratelimit-reset` (epoch
    /// seconds) `reset_in` from the moment of the answer.
    pub fn rate_limit(self, reset_in: Duration) -> Fault {
        self.fault(FaultKind::RateLimit { reset_in })
    }

    /// Waits `delay` before handling the request normally.
    pub fn delay(self, delay: Duration) -> Fault {
        self.fault(FaultKind::Delay(delay))
    }

    /// Reads the request, then closes the connection without answering or applying it.
    pub fn drop_connection(self) -> Fault {
        self.fault(FaultKind::Drop)
    }

    /// Applies the request, then closes the connection without answering.
    pub fn landed_then_drop(self) -> Fault {
        self.fault(FaultKind::LandedThenDrop)
    }

    /// Applies the request, then answers after `delay`.
    pub fn landed_then_delay(self, delay: Duration) -> Fault {
        self.fault(FaultKind::LandedThenDelay(delay))
    }
}

fn server_error_body(status: u16) -> Value {
    let message = match status {
        502 => "Server Error",
        503 => "Service Unavailable",
        504 => "We couldn't respond to your request in time. Sorry about that.",
        _ => "Internal Server Error",
    };
    json!({"message": message, "documentation_url": "https://docs.github.com/rest"})
}

pub(crate) fn method_matches(pattern: &str, method: &str) -> bool {
    pattern == "*" || pattern.eq_ignore_ascii_case(method)
}

/// Matches a path against a pattern of segments where `*` is one segment and `**` any number.
pub(crate) fn path_matches(pattern: &str, path: &str) -> bool {
    let pattern: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let path: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    segments_match(&pattern, &path)
}

fn segments_match(pattern: &[&str], path: &[&str]) -> bool {
    match (pattern.first(), path.first()) {
        (None, None) => true,
        (Some(&"**"), _) => {
            (0..=path.len()).any(|skip| segments_match(&pattern[1..], &path[skip..]))
        }
        (Some(p), Some(s)) => (*p == "*" || p == s) && segments_match(&pattern[1..], &path[1..]),
        _ => false,
    }
}

/// One request the fake received, with what it did about it.
#[derive(Clone, Debug)]
pub struct Request {
    /// 0-based position in the log.
    pub seq: usize,
    pub method: String,
    /// The path as sent, without the query (`/api/v3/repos/...` for GHES).
    pub path: String,
    /// The API-relative path that routes and patterns use (`/repos/...`, `/graphql`).
    pub route: String,
    /// The query string, percent-decoded, in order.
    pub query: Vec<(String, String)>,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body parsed as JSON (`None` when empty or not JSON).
    pub body: Option<Value>,
    pub raw_body: String,
    /// The login the token belongs to, when it was valid.
    pub login: Option<String>,
    /// The status the fake answered (or would have answered, for "landed then dropped");
    /// `None` while in flight or when the connection was dropped before handling.
    pub status: Option<u16>,
    /// Whether an answer was written to the connection.
    pub answered: bool,
    pub response: Option<Value>,
    /// The injected fault that applied to this request.
    pub fault: Option<String>,
    /// Why the body was refused by GitHub's schema for the endpoint (or was not JSON).
    pub schema_violation: Option<String>,
    /// Why the fake's own answer does not match GitHub's response schema (a bug in the fake).
    pub response_violation: Option<String>,
    /// The endpoint as GitHub's OpenAPI description names it ("POST /repos/{owner}/{repo}/issues").
    pub endpoint: Option<String>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// "POST /repos/o/r/issues -> 201", for assertion messages.
    pub fn summary(&self) -> String {
        let status = self
            .status
            .map_or("no answer".to_string(), |s| s.to_string());
        format!("{} {} -> {status}", self.method, self.route)
    }
}
