//! A scripted fake of the Anthropic Messages API, enough for the real Claude Code CLI to run a
//! session against it: `POST /v1/messages` (streaming with server-sent events, or plain JSON)
//! and `POST /v1/messages/count_tokens`. Every request is logged.
//!
//! The main conversation is the one whose requests offer tools; its n-th request (counted by
//! the assistant messages it already holds, so a retried request gets the same answer) gets
//! the n-th scripted turn. Other requests (a title, a summary) get a short text answer.
//!
//! One server can serve several sessions ([`FakeAnthropic::start_sessions`]): each conversation
//! gets the script whose marker its first message contains (a plan prompt, "Step 2", …). In a
//! tool call's input, `{workdir}` becomes the working directory the CLI names in its system
//! prompt, for sessions whose directory the test cannot know beforehand.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Value, json};

/// One scripted assistant turn.
#[derive(Debug, Clone)]
pub enum Turn {
    /// Text, then a call of a tool (e.g. `Write` with `file_path` and `content`).
    Tool {
        text: Option<String>,
        name: String,
        input: Value,
    },
    /// A final text answer.
    Text(String),
}

/// A request the server received.
#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub url: String,
    pub body: Value,
    /// Which scripted turn answered it, if one did.
    pub turn: Option<usize>,
}

pub struct FakeAnthropic {
    pub url: String,
    server: Arc<tiny_http::Server>,
    log: Arc<Mutex<Vec<Logged>>>,
    thread: Option<JoinHandle<()>>,
}

impl FakeAnthropic {
    pub fn start(script: Vec<Turn>) -> Self {
        Self::start_sessions(vec![(String::new(), script)])
    }

    /// Several sessions: each conversation gets the first script whose marker occurs in its
    /// first message (an empty marker matches every conversation).
    pub fn start_sessions(scripts: Vec<(String, Vec<Turn>)>) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let server = Arc::clone(&server);
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for request in server.incoming_requests() {
                    handle(request, &scripts, &log);
                }
            })
        };
        FakeAnthropic {
            url: format!("http://127.0.0.1:{port}"),
            server,
            log,
            thread: Some(thread),
        }
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.log.lock().unwrap().clone()
    }

    /// The requests as lines, for failure messages.
    pub fn describe(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                let tools = r.body["tools"].as_array().map(|t| t.len()).unwrap_or(0);
                format!(
                    "{} {} model={} stream={} tools={tools} turn={:?}",
                    r.method, r.url, r.body["model"], r.body["stream"], r.turn
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for FakeAnthropic {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The script of the conversation `body` belongs to.
fn script_for<'a>(scripts: &'a [(String, Vec<Turn>)], body: &Value) -> &'a [Turn] {
    let first = body["messages"][0]["content"].to_string();
    scripts
        .iter()
        .find(|(marker, _)| first.contains(marker.as_str()))
        .map(|(_, script)| script.as_slice())
        .unwrap_or(&[])
}

/// The working directory the CLI states in its prompt ("Primary working directory: /path" in
/// Claude Code 2.1; "Working directory: /path" in older versions), in any text of the request.
fn workdir(body: &Value) -> Option<String> {
    match body {
        Value::String(text) => text
            .split("orking directory: ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(str::to_string),
        Value::Array(items) => items.iter().find_map(workdir),
        Value::Object(map) => map.values().find_map(workdir),
        _ => None,
    }
}

fn with_workdir(turn: Turn, body: &Value) -> Turn {
    match turn {
        Turn::Tool { text, name, input } => {
            let dir = workdir(body).unwrap_or_default();
            let text_input = input.to_string().replace("{workdir}", &dir);
            Turn::Tool {
                text,
                name,
                input: serde_json::from_str(&text_input).unwrap_or(input),
            }
        }
        other => other,
    }
}

fn handle(
    mut request: tiny_http::Request,
    scripts: &[(String, Vec<Turn>)],
    log: &Mutex<Vec<Logged>>,
) {
    let mut text = String::new();
    let _ = request.as_reader().read_to_string(&mut text);
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let method = request.method().to_string();
    let url = request.url().to_string();
    let path = url.split('?').next().unwrap_or("").to_string();

    let mut turn = None;
    let response = match (method.as_str(), path.as_str()) {
        ("POST", "/v1/messages/count_tokens") => json_response(200, json!({"input_tokens": 1000})),
        ("POST", "/v1/messages") => {
            let model = body["model"].as_str().unwrap_or("claude-fake").to_string();
            let main = body["tools"].as_array().is_some_and(|t| !t.is_empty());
            let answer = if main {
                let n = body["messages"]
                    .as_array()
                    .map(|m| m.iter().filter(|m| m["role"] == "assistant").count())
                    .unwrap_or(0);
                turn = Some(n);
                let turn = script_for(scripts, &body)
                    .get(n)
                    .cloned()
                    .unwrap_or_else(|| Turn::Text("Done.".into()));
                with_workdir(turn, &body)
            } else {
                Turn::Text("Planning session".into())
            };
            if body["stream"] == true {
                sse_response(&answer, &model, turn.unwrap_or(99))
            } else {
                json_response(200, message_json(&answer, &model, turn.unwrap_or(99)))
            }
        }
        _ => json_response(
            404,
            json!({"type": "error", "error": {"type": "not_found_error", "message": format!("no route for {method} {path}")}}),
        ),
    };
    log.lock().unwrap().push(Logged {
        method,
        url,
        body,
        turn,
    });
    let _ = request.respond(response);
}

fn json_response(status: u16, body: Value) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    tiny_http::Response::from_data(body.to_string().into_bytes())
        .with_status_code(status)
        .with_header(
            "content-type: application/json"
                .parse::<tiny_http::Header>()
                .unwrap(),
        )
        .with_header("request-id: req_fake".parse::<tiny_http::Header>().unwrap())
}

fn blocks(turn: &Turn, n: usize) -> Vec<Value> {
    match turn {
        Turn::Text(text) => vec![json!({"type": "text", "text": text})],
        Turn::Tool { text, name, input } => {
            let mut out = Vec::new();
            if let Some(text) = text {
                out.push(json!({"type": "text", "text": text}));
            }
            out.push(json!({"type": "tool_use", "id": format!("toolu_fake_{n:02}"), "name": name, "input": input}));
            out
        }
    }
}

fn stop_reason(turn: &Turn) -> &'static str {
    match turn {
        Turn::Text(_) => "end_turn",
        Turn::Tool { .. } => "tool_use",
    }
}

const INPUT_TOKENS: u64 = 1500;
const OUTPUT_TOKENS: u64 = 120;

fn message_json(turn: &Turn, model: &str, n: usize) -> Value {
    json!({
        "id": format!("msg_fake_{n:02}"), "type": "message", "role": "assistant", "model": model,
        "content": blocks(turn, n), "stop_reason": stop_reason(turn), "stop_sequence": null,
        "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS},
    })
}

/// The event stream of one message: message_start, per block content_block_start / _delta /
/// _stop, message_delta with the stop reason, message_stop.
fn sse_response(
    turn: &Turn,
    model: &str,
    n: usize,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut events: Vec<(&str, Value)> = vec![(
        "message_start",
        json!({"type": "message_start", "message": {
            "id": format!("msg_fake_{n:02}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": INPUT_TOKENS, "output_tokens": 1},
        }}),
    )];
    for (index, block) in blocks(turn, n).into_iter().enumerate() {
        match block["type"].as_str() {
            Some("text") => {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}})));
                events.push(("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": block["text"]}})));
            }
            _ => {
                events.push(("content_block_start", json!({"type": "content_block_start", "index": index, "content_block": {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}})));
                events.push(("content_block_delta", json!({"type": "content_block_delta", "index": index, "delta": {"type": "input_json_delta", "partial_json": block["input"].to_string()}})));
            }
        }
        events.push((
            "content_block_stop",
            json!({"type": "content_block_stop", "index": index}),
        ));
    }
    events.push(("message_delta", json!({"type": "message_delta", "delta": {"stop_reason": stop_reason(turn), "stop_sequence": null}, "usage": {"output_tokens": OUTPUT_TOKENS}})));
    events.push(("message_stop", json!({"type": "message_stop"})));
    let body: String = events
        .iter()
        .map(|(name, data)| format!("event: {name}\ndata: {data}\n\n"))
        .collect();
    tiny_http::Response::from_data(body.into_bytes())
        .with_header(
            "content-type: text/event-stream"
                .parse::<tiny_http::Header>()
                .unwrap(),
        )
        .with_header(
            "cache-control: no-cache"
                .parse::<tiny_http::Header>()
                .unwrap(),
        )
        .with_header("request-id: req_fake".parse::<tiny_http::Header>().unwrap())
}
