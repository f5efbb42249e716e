//! A minimal HTTP/1.1 server on 127.0.0.1 for the fake model APIs: one request per connection
//! (`connection: close`), and a reply can be cut off mid-body to play a dropped connection,
//! which a server library would not let a test do. On it, what the scripted fakes share: the
//! sessions a conversation's marker chooses, the faults, and the log of requests. Also a URL
//! where nothing listens.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path with its query string.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// How to answer.
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Send only this many bytes of the body (the declared length stays the full one), then
    /// close the connection.
    pub cut_at: Option<usize>,
    /// Close the connection without answering at all.
    pub hang_up: bool,
}

impl Reply {
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Reply {
            status,
            content_type: "application/json",
            body: body.to_string().into_bytes(),
            cut_at: None,
            hang_up: false,
        }
    }

    pub fn sse(body: String) -> Self {
        Reply {
            status: 200,
            content_type: "text/event-stream",
            body: body.into_bytes(),
            cut_at: None,
            hang_up: false,
        }
    }
}

pub struct Server {
    pub url: String,
    stop: Arc<AtomicBool>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let handler = Arc::clone(&handler);
                    std::thread::spawn(move || serve(stream, &*handler));
                }
            })
        };
        Server {
            url: format!("http://127.0.0.1:{port}"),
            stop,
            port,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &dyn Fn(&Request) -> Reply) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let Some(request) = read_request(&mut reader) else {
        return;
    };
    let reply = handler(&request);
    let mut out = stream;
    if reply.hang_up {
        let _ = out.shutdown(std::net::Shutdown::Both);
        return;
    }
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let head = format!(
        "HTTP/1.1 {} {reason}\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len()
    );
    let body = match reply.cut_at {
        Some(n) => &reply.body[..n.min(reply.body.len())],
        None => &reply.body[..],
    };
    let _ = out.write_all(head.as_bytes());
    let _ = out.write_all(body);
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body,
    })
}

/// The answers of one session, chosen for a request whose conversation contains `marker`.
#[derive(Debug, Clone)]
pub struct Session<T> {
    pub marker: String,
    pub turns: Vec<T>,
}

pub fn session<T>(marker: &str, turns: Vec<T>) -> Session<T> {
    Session {
        marker: marker.into(),
        turns,
    }
}

/// The session whose marker `conversation` contains, and its turn `n` if the script has one.
pub fn scripted_turn<T: Clone>(
    sessions: &[Session<T>],
    conversation: &str,
    n: usize,
) -> (Option<usize>, Option<T>) {
    let chosen = sessions
        .iter()
        .position(|s| conversation.contains(&s.marker));
    (
        chosen,
        chosen.and_then(|s| sessions[s].turns.get(n).cloned()),
    )
}

/// What goes wrong, on purpose; each fake says how it plays a fault.
#[derive(Debug, Clone)]
pub enum Fault {
    None,
    /// The first answer to turn `turn` of the first session is dropped with the connection.
    DisconnectOnce {
        turn: usize,
    },
    /// Answers are this HTTP status with the API's error body and this message.
    Status {
        code: u16,
        message: String,
    },
}

/// A scripted fake API: a [`Server`] whose handler answers each request and says what to log
/// of it.
pub struct ScriptedServer<L> {
    pub url: String,
    log: Arc<Mutex<Vec<L>>>,
    _server: Server,
}

/// What a handler of a [`ScriptedServer`] knows besides the request.
pub struct Exchange<'a, L> {
    log: &'a Mutex<Vec<L>>,
    cut_done: &'a AtomicBool,
}

impl<L> Exchange<'_, L> {
    /// How many requests were logged before this one.
    pub fn logged(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// Whether `fault` drops the answer to turn `answered` (session, turn): only the first
    /// time that turn of the first session is asked for.
    pub fn drops(&self, fault: &Fault, answered: Option<(usize, usize)>) -> bool {
        matches!(fault, Fault::DisconnectOnce { turn } if answered == Some((0, *turn)))
            && !self.cut_done.swap(true, Ordering::SeqCst)
    }
}

impl<L: Clone + Send + 'static> ScriptedServer<L> {
    pub fn start(
        handler: impl Fn(&Request, &Exchange<L>) -> (Reply, L) + Send + Sync + 'static,
    ) -> Self {
        let log = Arc::new(Mutex::new(Vec::new()));
        let cut_done = AtomicBool::new(false);
        let server = {
            let log = Arc::clone(&log);
            Server::start(move |request| {
                let exchange = Exchange {
                    log: &log,
                    cut_done: &cut_done,
                };
                let (reply, logged) = handler(request, &exchange);
                log.lock().unwrap().push(logged);
                reply
            })
        };
        ScriptedServer {
            url: server.url.clone(),
            log,
            _server: server,
        }
    }

    pub fn requests(&self) -> Vec<L> {
        self.log.lock().unwrap().clone()
    }
}

/// `http://127.0.0.1:<port>` where nothing listens: a port that was free a moment ago.
pub fn unreachable_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("http://127.0.0.1:{port}")
}
