//! The HTTP/1.1 side: a listener thread on 127.0.0.1, one thread per connection, one request per
//! connection (every answer says `Connection: close`, so clients never reuse a connection the
//! server is about to close). Hand-written on std::net so that faults can do what real networks
//! do: close without answering, answer late.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::faults::{Fault, FaultKind, Request};
use super::payloads::Urls;
use super::state::State;
use super::{graphql, rest, schema};

/// Everything behind the lock.
pub(crate) struct Inner {
    pub state: State,
    pub log: Vec<Request>,
    /// The `seq` of the next request (the log can be cleared while requests are in flight).
    pub next_seq: usize,
    pub faults: Vec<Fault>,
    /// token -> owner
    pub tokens: BTreeMap<String, Token>,
}

#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub login: String,
    /// An installation token (GITHUB_TOKEN in Actions): `GET /user` is refused.
    pub app: bool,
}

impl Inner {
    /// The log entry of request `seq`, unless the log was cleared since.
    pub fn entry(&mut self, seq: usize) -> Option<&mut Request> {
        self.log.iter_mut().rev().find(|r| r.seq == seq)
    }

    /// Records something about request `seq` in its log entry.
    pub fn note(&mut self, seq: usize, f: impl FnOnce(&mut Request)) {
        if let Some(entry) = self.entry(seq) {
            f(entry);
        }
    }
}

pub(crate) struct Shared {
    pub inner: Mutex<Inner>,
    pub urls: Urls,
    stopping: AtomicBool,
    wake: (Mutex<()>, Condvar),
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic in one handler must not take every later request down with a poisoned lock.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sleeps up to `d`; returns false when the server is stopping.
    fn sleep(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        let mut guard = self.wake.0.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.stopping.load(Ordering::SeqCst) {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            guard = self
                .wake
                .1
                .wait_timeout(guard, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

pub(crate) struct Server {
    pub shared: Arc<Shared>,
    pub addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
}

/// An answer: status, JSON body (none for 204) and extra headers.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn json(status: u16, body: Value) -> Response {
        Response {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Response {
        Response {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// GitHub's error body: `{"message", "documentation_url", "status"}`.
    pub fn error(status: u16, message: &str) -> Response {
        Response::json(
            status,
            json!({"message": message, "documentation_url": "https://docs.github.com/rest", "status": status.to_string()}),
        )
    }

    pub fn not_found() -> Response {
        Response::error(404, "Not Found")
    }

    /// 422 "Validation Failed" with GitHub's `errors` array.
    pub fn validation(errors: Value) -> Response {
        Response::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": "https://docs.github.com/rest",
                "status": "422"
            }),
        )
    }
}

impl Server {
    pub fn start(inner: Inner, ghes: bool) -> Server {
        let listener =
            TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for the fake GitHub server");
        let addr = listener.local_addr().expect("local address");
        let base = format!("http://{addr}");
        let urls = Urls {
            api: if ghes {
                format!("{base}/api/v3")
            } else {
                base.clone()
            },
            web: if ghes {
                base.clone()
            } else {
                "https://github.com".into()
            },
            ghes,
        };
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            urls,
            stopping: AtomicBool::new(false),
            wake: (Mutex::new(()), Condvar::new()),
        });
        let accept_shared = shared.clone();
        let accept = std::thread::Builder::new()
            .name("fake-github-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if accept_shared.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let conn_shared = accept_shared.clone();
                    let _ = std::thread::Builder::new()
                        .name("fake-github-conn".into())
                        .spawn(move || serve(&conn_shared, stream));
                }
            })
            .expect("spawn the fake GitHub accept thread");
        Server {
            shared,
            addr,
            accept: Some(accept),
        }
    }

    pub fn stop(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.wake.0.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.1.notify_all();
        }
        // Wake the blocking accept() so the thread sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// A parsed HTTP request.
struct Raw {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn serve(shared: &Shared, stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_nodelay(true);
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let raw = match read_request(&mut reader) {
        Ok(Some(raw)) => raw,
        Ok(None) => return,
        Err(message) => {
            let _ = write_response(&stream, &Response::error(400, &message), 4999, "core");
            return;
        }
    };
    let (path, query) = split_target(&raw.target);
    let route = route_of(&shared.urls, &path);
    let body_text = String::from_utf8_lossy(&raw.body).into_owned();
    let parsed: Option<Value> = serde_json::from_slice(&raw.body).ok();

    // Log first, then pick the fault, under one lock: the log order is the arrival order.
    let (seq, fault) = {
        let mut inner = shared.lock();
        let seq = inner.next_seq;
        inner.next_seq += 1;
        let fault_pos = route.as_ref().and_then(|r| {
            inner
                .faults
                .iter()
                .position(|f| f.times > 0 && f.matches(&raw.method, r))
        });
        let fault = fault_pos.map(|pos| {
            let f = inner.faults[pos].clone();
            inner.faults[pos].times -= 1;
            if inner.faults[pos].times == 0 {
                inner.faults.remove(pos);
            }
            f
        });
        inner.log.push(Request {
            seq,
            method: raw.method.clone(),
            path: path.clone(),
            route: route.clone().unwrap_or_else(|| path.clone()),
            query: query.clone(),
            headers: raw.headers.clone(),
            body: parsed.clone(),
            raw_body: body_text,
            login: None,
            status: None,
            answered: false,
            response: None,
            fault: fault.as_ref().map(Fault::describe),
            schema_violation: None,
            response_violation: None,
            endpoint: None,
        });
        (seq, fault)
    };

    // A bug in a handler answers 500 with the panic message instead of silently closing the
    // connection (the panic is also printed with the test's output).
    let handle = || {
        let run = || process(shared, seq, &raw, route.as_deref(), &query);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Response::error(500, &format!("the fake GitHub server panicked: {message}"))
        })
    };
    let (response, delay_after, answer) = match fault.map(|f| f.kind) {
        None => (handle(), None, true),
        Some(FaultKind::Respond {
            status,
            body,
            headers,
        }) => (
            Response {
                status,
                body: Some(body),
                headers,
            },
            None,
            true,
        ),
        Some(FaultKind::RateLimit { reset_in }) => {
            let reset = (SystemTime::now() + reset_in)
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs();
            let user_id = user_id_of(shared, &raw.headers);
            let response = Response::json(
                403,
                json!({
                    "message": format!("API rate limit exceeded for user ID {user_id}. If you reach out to GitHub Support for help, please include the request ID FAKE:{seq}."),
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                    "status": "403"
                }),
            )
            .header("x-ratelimit-limit", "5000")
            .header("x-ratelimit-remaining", "0")
            .header("x-ratelimit-used", "5000")
            .header("x-ratelimit-reset", reset.to_string())
            .header("x-ratelimit-resource", "core");
            (response, None, true)
        }
        Some(FaultKind::Delay(d)) => {
            if !shared.sleep(d) {
                return;
            }
            (handle(), None, true)
        }
        Some(FaultKind::Drop) => {
            close_without_answer(&stream);
            return;
        }
        Some(FaultKind::LandedThenDrop) => (handle(), None, false),
        Some(FaultKind::LandedThenDelay(d)) => (handle(), Some(d), true),
        Some(FaultKind::LandedThenRespond { status, body }) => {
            handle();
            (
                Response {
                    status,
                    body: Some(body),
                    headers: Vec::new(),
                },
                None,
                true,
            )
        }
    };
    {
        let mut inner = shared.lock();
        if let Some(entry) = inner.entry(seq) {
            entry.status = Some(response.status);
            entry.response = response.body.clone();
        }
    }
    if !answer {
        close_without_answer(&stream);
        return;
    }
    if let Some(d) = delay_after
        && !shared.sleep(d)
    {
        return;
    }
    // Counts down like a real budget, but never near 0 (0 means "rate limited" to clients).
    let remaining = 4999 - seq % 4000;
    let resource = if route.as_deref() == Some("/graphql") {
        "graphql"
    } else {
        "core"
    };
    if write_response(&stream, &response, remaining, resource).is_ok()
        && let Some(entry) = shared.lock().entry(seq)
    {
        entry.answered = true;
    }
    let _ = stream.shutdown(Shutdown::Write);
}

/// Handles a request that no fault answered: auth, routing, schema, the endpoint itself.
fn process(
    shared: &Shared,
    seq: usize,
    raw: &Raw,
    route: Option<&str>,
    query: &[(String, String)],
) -> Response {
    let Some(route) = route else {
        return Response::not_found();
    };
    let graphql = route == "/graphql";
    let docs = if graphql {
        "https://docs.github.com/graphql"
    } else {
        "https://docs.github.com/rest"
    };
    let mut inner = shared.lock();

    let owner = match bearer(&raw.headers) {
        None => {
            let mut r = Response::error(401, "Requires authentication");
            r.body.as_mut().expect("body")["documentation_url"] = json!(docs);
            return r;
        }
        Some(t) => match inner.tokens.get(t) {
            Some(owner) => owner.clone(),
            None => {
                let mut r = Response::error(401, "Bad credentials");
                r.body.as_mut().expect("body")["documentation_url"] = json!(docs);
                return r;
            }
        },
    };
    inner.note(seq, |entry| entry.login = Some(owner.login.clone()));

    let body: Option<Value> = if raw.body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice(&raw.body) {
            Ok(v) => Some(v),
            Err(e) => {
                inner.note(seq, |entry| {
                    entry.schema_violation = Some(format!("body is not JSON: {e}"))
                });
                return Response::error(400, "Problems parsing JSON");
            }
        }
    };

    if graphql {
        if raw.method != "POST" {
            return Response::not_found();
        }
        return graphql::handle(&mut inner, &shared.urls, &owner, body.as_ref());
    }

    let Some(found) = rest::route(&raw.method, route) else {
        return Response::not_found();
    };
    inner.note(seq, |entry| {
        entry.endpoint = Some(found.endpoint.to_string())
    });
    if let Err(problem) = schema::check_request(found.endpoint, body.as_ref()) {
        inner.note(seq, |entry| entry.schema_violation = Some(problem.clone()));
        return Response::json(
            422,
            json!({
                "message": format!("Invalid request.\n\n{problem}"),
                "documentation_url": "https://docs.github.com/rest",
                "status": "422"
            }),
        );
    }
    let mut ctx = rest::Ctx {
        inner: &mut inner,
        urls: &shared.urls,
        token: &owner,
        query,
        body: body.as_ref(),
        route,
    };
    let response = rest::handle(&mut ctx, &found);
    if (200..300).contains(&response.status)
        && let Some(body) = &response.body
        && let Err(problem) = schema::check_response(found.endpoint, response.status, body)
    {
        inner.note(seq, |entry| entry.response_violation = Some(problem));
    }
    response
}

/// The token of an `Authorization: Bearer X` or `Authorization: token X` header.
fn bearer(headers: &[(String, String)]) -> Option<&str> {
    let value = headers.iter().find(|(k, _)| k == "authorization")?.1.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
}

/// The numeric id of the token's owner (for rate-limit messages), 1 when the token is unknown.
fn user_id_of(shared: &Shared, headers: &[(String, String)]) -> u64 {
    let mut inner = shared.lock();
    let login = bearer(headers)
        .and_then(|t| inner.tokens.get(t))
        .map(|t| t.login.clone());
    login.map_or(1, |l| inner.state.user(&l).id)
}

/// The API-relative path of a request, or `None` when it is outside the API (GHES serves REST
/// under /api/v3 and GraphQL at /api/graphql; github.com serves both at the root).
fn route_of(urls: &Urls, path: &str) -> Option<String> {
    if urls.ghes {
        if path == "/api/graphql" {
            return Some("/graphql".into());
        }
        // GraphQL is not under /api/v3 (a client that derives it from the REST base gets a 404).
        path.strip_prefix("/api/v3")
            .filter(|r| r.starts_with('/') && *r != "/graphql")
            .map(String::from)
    } else {
        Some(path.to_string())
    }
}

fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect();
    (path.to_string(), pairs)
}

/// Percent-decoding (invalid escapes are kept as they are).
pub(crate) fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(hi), Some(lo)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads one request. `Ok(None)` when the peer closed (or only connected to wake the listener).
fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Raw>, String> {
    let mut line = String::new();
    match reader.read_line(&mut line) {
        Ok(0) | Err(_) => return Ok(None),
        Ok(_) => {}
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(_version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!("malformed request line: {line:?}"));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).map_err(|e| e.to_string())? == 0 {
            return Err("connection closed inside the headers".into());
        }
        let h = h.trim_end_matches(['\r', '\n']);
        if h.is_empty() {
            break;
        }
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| format!("malformed header: {h:?}"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        if headers.len() > 200 {
            return Err("too many headers".into());
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size_line = String::new();
            reader
                .read_line(&mut size_line)
                .map_err(|e| e.to_string())?;
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(|_| format!("malformed chunk size: {size_line:?}"))?;
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let mut t = String::new();
                    if reader.read_line(&mut t).map_err(|e| e.to_string())? == 0
                        || t.trim().is_empty()
                    {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
            body.extend_from_slice(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf).map_err(|e| e.to_string())?;
        }
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| format!("bad content-length: {len:?}"))?;
        body = vec![0; len];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    }
    Ok(Some(Raw {
        method,
        target,
        headers,
        body,
    }))
}

fn write_response(
    mut stream: &TcpStream,
    response: &Response,
    remaining: usize,
    resource: &str,
) -> std::io::Result<()> {
    let body = match &response.body {
        Some(v) => serde_json::to_vec(v).unwrap_or_default(),
        None => Vec::new(),
    };
    let reset = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + 3600;
    let mut headers: Vec<(String, String)> = vec![
        ("server".into(), "GitHub.com".into()),
        ("x-github-api-version-selected".into(), "2022-11-28".into()),
        ("x-ratelimit-limit".into(), "5000".into()),
        ("x-ratelimit-remaining".into(), remaining.to_string()),
        ("x-ratelimit-reset".into(), reset.to_string()),
        ("x-ratelimit-used".into(), (5000 - remaining).to_string()),
        ("x-ratelimit-resource".into(), resource.into()),
    ];
    // A fault's or handler's header replaces the default of the same name.
    for (name, value) in &response.headers {
        headers.retain(|(k, _)| k != name);
        headers.push((name.clone(), value.clone()));
    }
    if response.body.is_some() {
        headers.push((
            "content-type".into(),
            "application/json; charset=utf-8".into(),
        ));
    }
    headers.push(("content-length".into(), body.len().to_string()));
    headers.push(("connection".into(), "close".into()));
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut out = head.into_bytes();
    out.extend_from_slice(&body);
    stream.write_all(&out)?;
    stream.flush()
}

/// Closes after the request was read completely, so the peer sees a clean end of stream (not a
/// reset) and no answer.
fn close_without_answer(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Both);
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        410 => "Gone",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}
