//! A scripted fake of the Gemini API, enough for the real Gemini CLI (0.61) to run a session
//! against it through `GOOGLE_GEMINI_BASE_URL`: `POST /v1beta/models/{model}:streamGenerateContent
//! ?alt=sse` answered with `data:` chunks of `candidates[].content.parts[]` (`text`,
//! `functionCall`) and `usageMetadata`, and the routing request gemini sends first when no
//! model is given (`:generateContent` to a flash-lite model, asking for a JSON complexity
//! score). Every request is logged.
//!
//! The main conversation is the one whose requests offer tools; its n-th request (the one
//! holding n `functionResponse` parts, so a retried request gets the same answer) gets the n-th
//! scripted turn of the session whose marker the conversation contains. `modelVersion` is the
//! model of the URL, so gemini's per-model stats name the models really asked.

#![allow(dead_code)]

use serde_json::{Value, json};

use crate::fake_http::{Exchange, Reply, Request, ScriptedServer, scripted_turn};
pub use crate::fake_http::{Fault, session};

#[derive(Debug, Clone)]
pub enum Turn {
    /// A call of one of gemini's tools (`write_file {file_path, content}`,
    /// `run_shell_command {command}`).
    Call { name: String, args: Value },
    /// A final text answer (sent in two chunks).
    Text(String),
}

pub fn write_file(path: &str, content: &str) -> Turn {
    Turn::Call {
        name: "write_file".into(),
        args: json!({"file_path": path, "content": content}),
    }
}

pub fn shell(command: &str) -> Turn {
    Turn::Call {
        name: "run_shell_command".into(),
        args: json!({"command": command, "description": "Run a command"}),
    }
}

pub type Session = crate::fake_http::Session<Turn>;

// Faults: `DisconnectOnce` does not answer that request at all, the connection closes right
// after it (gemini 0.61 retries that; a stream cut in the middle of an answer it does not
// retry, but fails the session with `[API Error: terminated]`); `Status` is every request of
// the main conversation, with a Google error body.

#[derive(Debug, Clone)]
pub struct Logged {
    pub method: String,
    pub target: String,
    pub body: Value,
    /// The model named in the URL.
    pub model: String,
    pub routing: bool,
    pub answered: Option<(usize, usize)>,
    pub cut: bool,
}

pub struct FakeGemini {
    pub url: String,
    server: ScriptedServer<Logged>,
}

pub const INPUT_TOKENS: u64 = 1000;
pub const OUTPUT_TOKENS: u64 = 100;

impl FakeGemini {
    pub fn start(sessions: Vec<Session>, fault: Fault) -> Self {
        let server = ScriptedServer::start(move |request, exchange| {
            handle(request, &sessions, &fault, exchange)
        });
        FakeGemini {
            url: server.url.clone(),
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
                    "{} {} routing={} answered={:?}",
                    r.method, r.target, r.routing, r.answered
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
    let path = request.path().to_string();
    let (model, method) = path
        .strip_prefix("/v1beta/models/")
        .and_then(|rest| rest.split_once(':'))
        .map(|(m, k)| (m.to_string(), k.to_string()))
        .unwrap_or_default();
    let main = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let mut logged = Logged {
        method: request.method.clone(),
        target: request.target.clone(),
        body: body.clone(),
        model: model.clone(),
        routing: !main,
        answered: None,
        cut: false,
    };
    let reply = if request.method != "POST" || model.is_empty() {
        Reply::json(
            404,
            &json!({"error": {"code": 404, "message": format!("no route for {} {path}", request.method), "status": "NOT_FOUND"}}),
        )
    } else if let (true, Fault::Status { code, message }) = (main, fault) {
        Reply::json(
            *code,
            &json!({"error": {"code": code, "message": message, "status": "INVALID_ARGUMENT"}}),
        )
    } else {
        let parts_chunks: Vec<Vec<Value>> = if main {
            let contents = body["contents"].as_array().cloned().unwrap_or_default();
            let n = contents
                .iter()
                .flat_map(|c| c["parts"].as_array().cloned().unwrap_or_default())
                .filter(|p| p.get("functionResponse").is_some())
                .count();
            let (chosen, turn) = scripted_turn(sessions, &body["contents"].to_string(), n);
            logged.answered = chosen.map(|s| (s, n));
            let turn = turn.unwrap_or_else(|| Turn::Text("Done.".into()));
            match turn {
                Turn::Call { name, args } => {
                    vec![vec![json!({"functionCall": {"name": name, "args": args}})]]
                }
                Turn::Text(text) => {
                    let half = text
                        .char_indices()
                        .nth(text.chars().count() / 2)
                        .map_or(0, |(i, _)| i);
                    vec![
                        vec![json!({"text": &text[..half]})],
                        vec![json!({"text": &text[half..]})],
                    ]
                }
            }
        } else {
            // The router asks for a JSON object; both of its classifiers' shapes are given.
            let choice = json!({"complexity_reasoning": "A small change.", "complexity_score": 10,
                                "reasoning": "A small change.", "model_choice": "flash"});
            vec![vec![json!({"text": choice.to_string()})]]
        };
        let last = parts_chunks.len() - 1;
        let chunks: Vec<Value> = parts_chunks
            .into_iter()
            .enumerate()
            .map(|(i, parts)| {
                let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
                let mut chunk = json!({"modelVersion": model, "responseId": format!("r{i}")});
                if i == last {
                    candidate["finishReason"] = "STOP".into();
                    chunk["usageMetadata"] = json!({"promptTokenCount": INPUT_TOKENS, "candidatesTokenCount": OUTPUT_TOKENS, "totalTokenCount": INPUT_TOKENS + OUTPUT_TOKENS});
                }
                chunk["candidates"] = json!([candidate]);
                chunk
            })
            .collect();
        if method == "streamGenerateContent" {
            let mut reply = Reply::sse(
                chunks
                    .iter()
                    .map(|c| format!("data: {c}\r\n\r\n"))
                    .collect(),
            );
            if exchange.drops(fault, logged.answered) {
                reply.hang_up = true;
                logged.cut = true;
            }
            reply
        } else {
            // One answer: the parts of every chunk together.
            let parts: Vec<Value> = chunks
                .iter()
                .flat_map(|c| {
                    c["candidates"][0]["content"]["parts"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .collect();
            let mut one = chunks.last().unwrap().clone();
            one["candidates"][0]["content"]["parts"] = Value::Array(parts);
            Reply::json(200, &one)
        }
    };
    (reply, logged)
}
