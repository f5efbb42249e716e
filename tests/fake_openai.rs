//! A scripted fake of the OpenAI Responses API, enough for the real Codex CLI (0.169) to run a
//! session against it: `POST /v1/responses` with `stream: true`, answered with server-sent
//! events `response.created`, `response.output_item.added` / `.done`,
//! `response.output_text.delta` and `response.completed` with usage. Every request is logged.
//!
//! What codex 0.169 sends and expects (captured from the real CLI): its default model and the
//! models of its catalog run in "code mode", offering one custom tool `exec` that runs
//! JavaScript in which the other tools are functions (`await tools.apply_patch(patch)`,
//! `await tools.exec_command({cmd})`); the model's call comes back as an input item
//! `custom_tool_call_output`. A session's requests carry its whole conversation, so the n-th
//! request of a conversation is the one holding n tool outputs, and a retried request gets the
//! same answer.
//!
//! Faults: a dropped connection in the middle of one answer (codex retries it), an HTTP error
//! with a message for every answer.

#![allow(dead_code)]

use serde_json::{Value, json};

use crate::fake_http::{Exchange, Reply, Request, ScriptedServer, scripted_turn};
pub use crate::fake_http::{Fault, session};

/// One scripted model answer.
#[derive(Debug, Clone)]
pub enum Turn {
    /// A call of codex's code-mode tool `exec` with this JavaScript.
    Exec(String),
    /// A final text answer.
    Text(String),
}

/// Creates a file through codex's `apply_patch` tool.
pub fn add_file(path: &str, content: &str) -> Turn {
    let mut patch = format!("*** Begin Patch\n*** Add File: {path}\n");
    for line in content.lines() {
        patch.push_str(&format!("+{line}\n"));
    }
    patch.push_str("*** End Patch\n");
    Turn::Exec(format!(
        "const r = await tools.apply_patch({}); text(r);",
        Value::String(patch)
    ))
}

/// Runs a shell command through codex's `exec_command` tool.
pub fn shell(command: &str) -> Turn {
    Turn::Exec(format!(
        "const r = await tools.exec_command({{cmd: {}}}); text(JSON.stringify(r));",
        Value::String(command.into())
    ))
}

pub type Session = crate::fake_http::Session<Turn>;

// Faults: `DisconnectOnce` stops that answer after `response.created` and closes the
// connection; `Status` is every answer, with an OpenAI error body.

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub target: String,
    pub body: Value,
    /// Which session and turn answered, if a script did.
    pub answered: Option<(usize, usize)>,
    pub cut: bool,
}

pub struct FakeOpenAi {
    /// The base URL as OPENAI_BASE_URL takes it (with `/v1`).
    pub url: String,
    server: ScriptedServer<Logged>,
}

pub const INPUT_TOKENS: u64 = 1500;
pub const CACHED_TOKENS: u64 = 500;
pub const OUTPUT_TOKENS: u64 = 120;

impl FakeOpenAi {
    pub fn start(sessions: Vec<Session>, fault: Fault) -> Self {
        let server = ScriptedServer::start(move |request, exchange| {
            handle(request, &sessions, &fault, exchange)
        });
        FakeOpenAi {
            url: format!("{}/v1", server.url),
            server,
        }
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.server.requests()
    }

    pub fn describe(&self) -> String {
        self.requests()
            .iter()
            .map(|r| {
                format!(
                    "{} {} model={} answered={:?} cut={}",
                    r.method, r.target, r.body["model"], r.answered, r.cut
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn handle(
    request: &Request,
    sessions: &[Session],
    fault: &Fault,
    exchange: &Exchange<Logged>,
) -> (Reply, Logged) {
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let mut logged = Logged {
        method: request.method.clone(),
        target: request.target.clone(),
        body: body.clone(),
        answered: None,
        cut: false,
    };
    let reply = if request.method != "POST" || request.path() != "/v1/responses" {
        Reply::json(
            404,
            &json!({"error": {"message": format!("no route for {} {}", request.method, request.path()), "type": "invalid_request_error"}}),
        )
    } else if let Fault::Status { code, message } = fault {
        Reply::json(
            *code,
            &json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
        )
    } else {
        let input = body["input"].as_array().cloned().unwrap_or_default();
        let n = input
            .iter()
            .filter(|i| {
                matches!(
                    i["type"].as_str(),
                    Some("custom_tool_call_output" | "function_call_output")
                )
            })
            .count();
        let (chosen, turn) = scripted_turn(sessions, &body["input"].to_string(), n);
        let turn = turn.unwrap_or_else(|| Turn::Text("Done.".into()));
        logged.answered = chosen.map(|s| (s, n));
        let events = stream(&turn, exchange.logged());
        let mut reply = Reply::sse(events.clone());
        if exchange.drops(fault, logged.answered) {
            reply.cut_at = Some(events.find("\n\n").unwrap() + 2);
            logged.cut = true;
        }
        reply
    };
    (reply, logged)
}

/// The events of one answer.
fn stream(turn: &Turn, id: usize) -> String {
    let mut events =
        vec![json!({"type": "response.created", "response": {"id": format!("resp_{id}")}})];
    match turn {
        Turn::Exec(code) => {
            let item = json!({"type": "custom_tool_call", "id": format!("ctc_{id}"), "call_id": format!("call_{id}"), "name": "exec", "input": code});
            events.push(
                json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            );
            events.push(
                json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
            );
        }
        Turn::Text(text) => {
            let msg = format!("msg_{id}");
            events.push(json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "message", "id": msg, "role": "assistant", "content": []}}));
            events.push(json!({"type": "response.output_text.delta", "item_id": msg, "output_index": 0, "content_index": 0, "delta": text}));
            events.push(json!({"type": "response.output_item.done", "output_index": 0, "item": {"type": "message", "id": msg, "role": "assistant", "content": [{"type": "output_text", "text": text}]}}));
        }
    }
    events.push(
        json!({"type": "response.completed", "response": {"id": format!("resp_{id}"), "usage": {
        "input_tokens": INPUT_TOKENS, "input_tokens_details": {"cached_tokens": CACHED_TOKENS},
        "output_tokens": OUTPUT_TOKENS, "output_tokens_details": {"reasoning_tokens": 20},
        "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS}}}),
    );
    events
        .iter()
        .map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap()))
        .collect()
}
