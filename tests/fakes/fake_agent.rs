//! A fake agent CLI for tests, driven by a JSON script. Tests put it on PATH under the name of
//! the agent (`claude`, …) as a symlink or a copy.
//!
//! Files, found next to the path it was started by (`argv[0]`), so that nothing has to pass
//! through the scrubbed environment oneshot gives an agent:
//! - `<argv0>.script.json`: the script; `<argv0>.script.<n>.json`, if it exists, is used
//!   instead for the n-th invocation (1-based), so that one test can drive several sessions.
//!   `FAKE_AGENT_SCRIPT` overrides the base path when it is set.
//! - `<argv0>.record.jsonl`: one line per invocation with its argv, cwd, pid, process group,
//!   environment and stdin (`FAKE_AGENT_RECORD` overrides).
//! - `<argv0>.count`: the invocation counter.
//!
//! `--version` alone prints `0.0.0 (fake agent)` and is not counted as an invocation.
//!
//! Script: `{"steps": [step, …]}`, run in order, then exit 0. Steps (one key each):
//! - `{"emit": <json>}`: the value as one line on stdout.
//! - `{"emit_raw": "text"}`: the text and a newline; `{"emit_partial": "text"}`: no newline.
//! - `{"emit_bytes": [bytes]}`: raw bytes, e.g. invalid UTF-8.
//! - `{"stderr": "text"}`: a line on stderr.
//! - `{"write": {"path": "rel/or/abs", "content": "…"}}`: writes a file (parents created).
//! - `{"sleep_ms": n}`.
//! - `{"ignore_sigterm": true}`: SIGTERM is blocked from now on (it stays pending).
//! - `{"spawn_stubborn_child": true}`: starts a child that blocks SIGTERM, keeps stdout and
//!   stderr open, records its pid (`"stubborn_child"` in the record file) and sleeps forever.
//! - `{"flood": {"bytes": n, "line": <json or string>}}`: prints the line until n bytes are out.
//! - `{"long_line": {"bytes": n}}`: one line of n bytes (not JSON).
//! - `{"run": ["program", "arg", …]}`: runs a program in the current directory and waits.
//! - `{"exit": code}`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::ffi::OsString;
use std::fs::{self, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};
use serde_json::{Value, json};

const STUBBORN: &str = "--fake-agent-stubborn";

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == STUBBORN) {
        stubborn(&args);
    }
    // As the real CLIs answer it (`exec install-agent` asks); not an invocation of the script.
    if args.len() == 2 && args[1] == "--version" {
        println!("0.0.0 (fake agent)");
        return;
    }
    let argv0 = PathBuf::from(args.first().cloned().unwrap_or_default());
    let base = std::env::var_os("FAKE_AGENT_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| with_suffix(&argv0, ".script.json"));
    let record = std::env::var_os("FAKE_AGENT_RECORD")
        .map(PathBuf::from)
        .unwrap_or_else(|| with_suffix(&argv0, ".record.jsonl"));
    let invocation = next_invocation(&with_suffix(&argv0, ".count"));

    let mut stdin = Vec::new();
    let _ = io::stdin().read_to_end(&mut stdin);
    append_record(
        &record,
        &json!({
            "invocation": invocation,
            "argv": args.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>(),
            "cwd": std::env::current_dir().map(|d| d.display().to_string()).unwrap_or_default(),
            "pid": std::process::id(),
            "pgid": nix::unistd::getpgrp().as_raw(),
            "env": std::env::vars_os()
                .map(|(k, v)| (k.to_string_lossy().into_owned(), Value::String(v.to_string_lossy().into_owned())))
                .collect::<serde_json::Map<_, _>>(),
            "stdin": String::from_utf8_lossy(&stdin),
        }),
    );

    let per_invocation = {
        let text = base.to_string_lossy();
        let stem = text.strip_suffix(".json").unwrap_or(&text);
        PathBuf::from(format!("{stem}.{invocation}.json"))
    };
    let script_path = if per_invocation.exists() {
        per_invocation
    } else {
        base
    };
    let script: Value = match fs::read_to_string(&script_path) {
        Ok(text) => serde_json::from_str(&text)
            .unwrap_or_else(|e| die(&format!("bad script {}: {e}", script_path.display()))),
        Err(_) => {
            json!({"steps": [{"emit": {"type": "result", "subtype": "success", "is_error": false, "num_turns": 1, "result": "fake agent: no script"}}]})
        }
    };
    let steps = script["steps"].as_array().cloned().unwrap_or_default();
    for step in steps {
        run_step(&step, &record);
    }
    std::process::exit(0);
}

fn run_step(step: &Value, record: &Path) {
    let mut out = io::stdout().lock();
    let ok = |r: io::Result<()>| {
        if r.is_err() {
            // The reader went away: a real CLI would die of SIGPIPE or stop here too.
            std::process::exit(141);
        }
    };
    if let Some(value) = step.get("emit") {
        ok(writeln!(out, "{}", serde_json::to_string(value).unwrap()).and_then(|()| out.flush()));
    } else if let Some(text) = step.get("emit_raw").and_then(Value::as_str) {
        ok(writeln!(out, "{text}").and_then(|()| out.flush()));
    } else if let Some(text) = step.get("emit_partial").and_then(Value::as_str) {
        ok(write!(out, "{text}").and_then(|()| out.flush()));
    } else if let Some(bytes) = step.get("emit_bytes").and_then(Value::as_array) {
        let bytes: Vec<u8> = bytes
            .iter()
            .filter_map(Value::as_u64)
            .map(|b| b as u8)
            .collect();
        ok(out.write_all(&bytes).and_then(|()| out.flush()));
    } else if let Some(text) = step.get("stderr").and_then(Value::as_str) {
        eprintln!("{text}");
    } else if let Some(write) = step.get("write") {
        let path = PathBuf::from(
            write["path"]
                .as_str()
                .unwrap_or_else(|| die("write needs a path")),
        );
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent)
                .unwrap_or_else(|e| die(&format!("mkdir {}: {e}", parent.display())));
        }
        fs::write(&path, write["content"].as_str().unwrap_or_default())
            .unwrap_or_else(|e| die(&format!("write {}: {e}", path.display())));
    } else if let Some(ms) = step.get("sleep_ms").and_then(Value::as_u64) {
        std::thread::sleep(Duration::from_millis(ms));
    } else if step.get("ignore_sigterm").is_some() {
        block_sigterm();
    } else if step.get("spawn_stubborn_child").is_some() {
        drop(out);
        spawn_stubborn(record);
    } else if let Some(flood) = step.get("flood") {
        let bytes = flood["bytes"].as_u64().unwrap_or(0);
        let line = match &flood["line"] {
            Value::String(s) => format!("{s}\n"),
            other => format!("{}\n", serde_json::to_string(other).unwrap()),
        };
        let mut chunk = String::with_capacity(1 << 20);
        while chunk.len() + line.len() <= 1 << 20 {
            chunk.push_str(&line);
        }
        let mut written = 0u64;
        while written + chunk.len() as u64 <= bytes {
            ok(out.write_all(chunk.as_bytes()));
            written += chunk.len() as u64;
        }
        while written < bytes {
            ok(out.write_all(line.as_bytes()));
            written += line.len() as u64;
        }
        ok(out.flush());
    } else if let Some(long) = step.get("long_line") {
        let bytes = long["bytes"].as_u64().unwrap_or(0) as usize;
        let block = vec![b'x'; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = left.min(block.len());
            ok(out.write_all(&block[..n]));
            left -= n;
        }
        ok(out.write_all(b"\n").and_then(|()| out.flush()));
    } else if let Some(command) = step.get("run").and_then(Value::as_array) {
        let words: Vec<&str> = command.iter().filter_map(Value::as_str).collect();
        let (program, args) = words
            .split_first()
            .unwrap_or_else(|| die("run needs a program"));
        let status = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .status()
            .unwrap_or_else(|e| die(&format!("run {program}: {e}")));
        if !status.success() {
            die(&format!("{words:?} failed: {status}"));
        }
    } else if let Some(code) = step.get("exit").and_then(Value::as_i64) {
        let _ = out.flush();
        std::process::exit(code as i32);
    } else {
        die(&format!("unknown step {step}"));
    }
}

fn block_sigterm() {
    let mut set = SigSet::empty();
    set.add(Signal::SIGTERM);
    set.thread_block()
        .unwrap_or_else(|e| die(&format!("could not block SIGTERM: {e}")));
}

/// Starts a copy of this program that blocks SIGTERM and waits until it says it is ready, so
/// that a test's SIGTERM cannot arrive before it is blocked.
fn spawn_stubborn(record: &Path) {
    let exe = std::env::current_exe().unwrap_or_else(|e| die(&format!("current_exe: {e}")));
    let ready = with_suffix(record, &format!(".ready.{}", std::process::id()));
    let _ = fs::remove_file(&ready);
    // Never waited for: the child is meant to outlive this process.
    #[allow(clippy::zombie_processes)]
    let _child = Command::new(exe)
        .arg(STUBBORN)
        .arg(&ready)
        .arg(record)
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| die(&format!("could not start the stubborn child: {e}")));
    for _ in 0..500 {
        if ready.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    die("the stubborn child did not get ready");
}

fn stubborn(args: &[OsString]) -> ! {
    block_sigterm();
    let ready = PathBuf::from(&args[2]);
    let record = PathBuf::from(&args[3]);
    append_record(
        &record,
        &json!({"stubborn_child": std::process::id(), "pgid": nix::unistd::getpgrp().as_raw()}),
    );
    fs::write(&ready, std::process::id().to_string())
        .unwrap_or_else(|e| die(&format!("ready file: {e}")));
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn next_invocation(counter: &Path) -> u64 {
    let n = fs::read_to_string(counter)
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    let _ = fs::write(counter, n.to_string());
    n
}

fn append_record(path: &Path, value: &Value) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| die(&format!("record {}: {e}", path.display())));
    // One write, so that a reader sees whole lines (or nothing of this one yet).
    let _ = file.write_all(format!("{value}\n").as_bytes());
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

fn die(message: &str) -> ! {
    eprintln!("fake-agent: {message}");
    std::process::exit(99);
}
