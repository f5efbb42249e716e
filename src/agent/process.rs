//! Supervising an agent process: its own process group, a scrubbed environment, stdout streamed
//! line by line into the live log and a transcript, stderr drained on its own thread, a
//! wall-clock timeout (SIGTERM to the group, SIGKILL after a grace period), and no process left
//! behind.
//!
//! Threads: one writes the prompt to stdin, one reads stdout (parsing and writing the
//! transcript), one drains stderr, one waits for the process; signals sent to oneshot come from
//! `interrupt`'s signal thread, so that cancelling the job stops the agent too. They report to
//! the calling thread over one channel; only the calling thread prints.
//! Memory stays bounded whatever the agent prints: lines are cut at [`MAX_LINE`], the live log
//! has a line budget, and stderr keeps only its tail.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;

use super::stream::{
    ExitInfo, LineSplitter, LiveBudget, LiveLine, LiveSink, MAX_LINE, OutputStats, Parsed,
    StderrWatch, StreamParser, trim_newline,
};

/// The transcript stops growing here (a note says so at its end); the live log and parsing
/// go on.
pub const TRANSCRIPT_LIMIT: u64 = 512 * 1024 * 1024;

/// The most read from stdout at once (a pipe rarely holds more than 64 KiB).
const READ_CHUNK: usize = 256 * 1024;

/// How much of stderr is kept for the report.
pub const STDERR_TAIL: usize = 16 * 1024;

/// After the agent and its group are gone, how long to wait for the output pipes to close.
/// Only a process that left the group (a daemon) can hold them open longer.
const DRAIN: Duration = Duration::from_secs(5);

/// Between SIGTERM and SIGKILL for processes left over from a session, found before a push.
const LEFTOVER_GRACE: Duration = Duration::from_secs(2);

/// After SIGKILL, how long to wait for the processes to disappear before giving up.
const AFTER_KILL: Duration = Duration::from_secs(5);

/// How often to look at the group again while it still has members after the agent exited.
const POLL: Duration = Duration::from_millis(50);

/// What to start and how to watch it.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(OsString, OsString)>,
    pub workdir: PathBuf,
    /// Written to stdin, which is then closed; `None` gives the agent an empty stdin.
    pub stdin: Option<Vec<u8>>,
    pub parser: Box<dyn StreamParser>,
    /// The full stdout, as it came (up to [`TRANSCRIPT_LIMIT`]).
    pub transcript: Option<PathBuf>,
    pub timeout: Duration,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
}

/// What happened.
#[derive(Debug)]
pub struct Supervised {
    /// `Err` when the program could not be started.
    pub started: Result<(), String>,
    pub exit: Option<ExitStatus>,
    pub duration: Duration,
    pub timed_out: bool,
    /// The signal oneshot received and passed on to the agent.
    pub interrupted: Option<Signal>,
    /// Why the agent was ended on its parser's verdict ([`StreamParser::stop_reason`]).
    pub stopped: Option<String>,
    /// `None` when stdout never closed (a process outside the group held it).
    pub parsed: Option<Parsed>,
    pub stats: OutputStats,
    pub stderr_tail: String,
    /// Things that went wrong in the supervision itself.
    pub notes: Vec<String>,
}

enum Msg {
    Live(String),
    Exited(io::Result<ExitStatus>),
    Stdout(Box<dyn StreamParser>, OutputStats, Option<String>),
    Stderr(String),
    Signal(Signal),
    /// The parser's verdict: end the session, for this reason.
    Stop(String),
}

/// Runs the agent to its end and reports. `live` receives the live-log lines, on the calling
/// thread.
pub fn supervise(launch: Launch, live: &mut dyn FnMut(&str)) -> Supervised {
    let mut notes = Vec::new();
    let transcript = match &launch.transcript {
        Some(path) => match File::create(path) {
            Ok(file) => Some(Transcript::new(file)),
            Err(e) => {
                notes.push(format!(
                    "could not create the transcript {}: {e}",
                    path.display()
                ));
                None
            }
        },
        None => None,
    };

    let (tx, rx) = mpsc::channel::<Msg>();
    guard_oneshot();

    let mut command = Command::new(&launch.program);
    command
        .args(&launch.args)
        .current_dir(&launch.workdir)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .stdin(if launch.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: every process the agent starts can be signalled at once,
        // and a terminal's Ctrl-C reaches oneshot, which decides what the agent gets.
        .process_group(0);
    let started_at = Instant::now();
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => {
            return Supervised {
                started: Err(format!("{}: {e}", launch.program.display())),
                exit: None,
                duration: started_at.elapsed(),
                timed_out: false,
                interrupted: None,
                stopped: None,
                parsed: None,
                stats: OutputStats::default(),
                stderr_tail: String::new(),
                notes,
            };
        }
    };
    let pgid = Pid::from_raw(child.id() as i32);
    // SIGINT/SIGTERM/SIGHUP sent to oneshot (caught by `interrupt`) stop the agent, which in
    // its own process group does not get them. A signal that came before the spawn counts too.
    let signals = {
        let tx = tx.clone();
        crate::interrupt::subscribe(move |signal| {
            let _ = tx.send(Msg::Signal(signal));
        })
    };

    if let (Some(input), Some(mut stdin)) = (launch.stdin, child.stdin.take()) {
        // A prompt larger than the pipe would block until the agent reads it; a thread keeps
        // that from stalling the supervision. An agent that never reads it makes the write
        // fail when it exits, which is fine.
        thread::spawn(move || {
            let _ = stdin.write_all(&input);
        });
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut parser = launch.parser;
    let stderr_watch = parser.stderr_watch();
    {
        let tx = tx.clone();
        thread::spawn(move || read_stdout(stdout, transcript, parser, tx));
    }
    {
        let tx = tx.clone();
        thread::spawn(move || {
            let tail = drain_stderr(stderr, stderr_watch, &tx);
            let _ = tx.send(Msg::Stderr(tail));
        });
    }
    {
        let tx = tx.clone();
        thread::spawn(move || {
            let status = child.wait();
            let _ = tx.send(Msg::Exited(status));
        });
    }
    drop(tx);

    let mut state = Watch {
        pgid,
        grace: launch.grace,
        deadline: started_at + launch.timeout,
        exit: None,
        exited_at: None,
        stdout: None,
        stderr: None,
        timed_out: false,
        interrupted: None,
        stopped: None,
        term_at: None,
        kill_at: None,
        group_gone_at: None,
        notes,
    };
    state.watch(&rx, live);
    drop(signals);

    let duration = state
        .exited_at
        .unwrap_or_else(Instant::now)
        .duration_since(started_at);
    let exit = match state.exit.take() {
        Some(Ok(status)) => Some(status),
        Some(Err(e)) => {
            state
                .notes
                .push(format!("could not wait for the agent: {e}"));
            None
        }
        None => None,
    };
    let (parsed, stats) = match state.stdout.take() {
        Some((parser, stats)) => (Some(parser.finish(exit_info(exit))), stats),
        None => (None, OutputStats::default()),
    };
    Supervised {
        started: Ok(()),
        exit,
        duration,
        timed_out: state.timed_out,
        interrupted: state.interrupted,
        stopped: state.stopped.take(),
        parsed,
        stats,
        stderr_tail: state.stderr.take().unwrap_or_default(),
        notes: state.notes,
    }
}

/// The state of the supervision loop.
struct Watch {
    pgid: Pid,
    grace: Duration,
    deadline: Instant,
    exit: Option<io::Result<ExitStatus>>,
    exited_at: Option<Instant>,
    stdout: Option<(Box<dyn StreamParser>, OutputStats)>,
    stderr: Option<String>,
    timed_out: bool,
    interrupted: Option<Signal>,
    stopped: Option<String>,
    term_at: Option<Instant>,
    kill_at: Option<Instant>,
    group_gone_at: Option<Instant>,
    notes: Vec<String>,
}

impl Watch {
    fn watch(&mut self, rx: &Receiver<Msg>, live: &mut dyn FnMut(&str)) {
        loop {
            let now = Instant::now();
            if self.exit.is_some() && self.group_gone_at.is_none() {
                // The agent is gone; what it left behind is ended too: its group, and every
                // process that left the group (they all stay oneshot's descendants).
                reap(self.pgid);
                let leftovers = reap_leftovers();
                if group_alive(self.pgid) || !leftovers.is_empty() {
                    match (self.term_at, self.kill_at) {
                        (None, _) => self.signal(Signal::SIGTERM, now),
                        // Processes started since the last signal get it too.
                        (Some(_), None) => signal_all(&leftovers, Signal::SIGTERM),
                        (Some(_), Some(_)) => {
                            signal_all(&leftovers, Signal::SIGSTOP);
                            signal_all(&leftovers, Signal::SIGKILL);
                        }
                    }
                } else {
                    self.group_gone_at = Some(now);
                }
            }
            if let Some(gone) = self.group_gone_at {
                if self.stdout.is_some() && self.stderr.is_some() {
                    return;
                }
                if now >= gone + DRAIN {
                    self.notes.push(
                        "the agent's output stayed open after it and its process group ended \
                         (a process that left the group holds it); stopped reading"
                            .into(),
                    );
                    self.drain_live(rx, live);
                    return;
                }
            }
            if self.exit.is_none()
                && !self.timed_out
                && self.interrupted.is_none()
                && now >= self.deadline
            {
                self.timed_out = true;
                self.signal(Signal::SIGTERM, now);
            }
            if let (Some(term), None) = (self.term_at, self.kill_at)
                && now >= term + self.grace
                && self.group_gone_at.is_none()
            {
                self.signal(Signal::SIGKILL, now);
            }
            if let Some(kill) = self.kill_at
                && now >= kill + AFTER_KILL
                && self.group_gone_at.is_none()
            {
                self.notes.push(format!(
                    "processes of the agent's group {} were still there {}s after SIGKILL",
                    self.pgid,
                    AFTER_KILL.as_secs()
                ));
                self.drain_live(rx, live);
                return;
            }

            let wake = self.next_wake(now);
            match rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(msg) => self.receive(msg, live),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Every thread has reported; the loop decides on the next pass.
                    if self.exit.is_none() {
                        return;
                    }
                    thread::sleep(POLL);
                }
            }
        }
    }

    fn next_wake(&self, now: Instant) -> Instant {
        let mut wake = now + Duration::from_secs(3600);
        let mut consider = |t: Instant| wake = wake.min(t);
        if self.exit.is_none() && !self.timed_out && self.interrupted.is_none() {
            consider(self.deadline);
        }
        if let (Some(term), None) = (self.term_at, self.kill_at) {
            consider(term + self.grace);
        }
        if let Some(kill) = self.kill_at {
            consider(kill + AFTER_KILL);
        }
        if self.exit.is_some() && self.group_gone_at.is_none() {
            consider(now + POLL);
        }
        if let Some(gone) = self.group_gone_at {
            consider(gone + DRAIN);
        }
        wake
    }

    fn receive(&mut self, msg: Msg, live: &mut dyn FnMut(&str)) {
        match msg {
            Msg::Live(line) => live(&line),
            Msg::Exited(status) => {
                self.exit = Some(status);
                self.exited_at = Some(Instant::now());
            }
            Msg::Stdout(parser, stats, error) => {
                if let Some(error) = error {
                    self.notes.push(error);
                }
                self.stdout = Some((parser, stats));
            }
            Msg::Stderr(tail) => self.stderr = Some(tail),
            Msg::Stop(reason) => {
                if self.exit.is_none()
                    && self.term_at.is_none()
                    && self.stopped.is_none()
                    && !self.timed_out
                    && self.interrupted.is_none()
                {
                    live(&format!("note: ending the agent: {reason}"));
                    self.stopped = Some(reason);
                    self.signal(Signal::SIGTERM, Instant::now());
                }
            }
            Msg::Signal(signal) => {
                if self.interrupted.is_none() {
                    self.interrupted = Some(signal);
                    live(&format!(
                        "note: oneshot received {signal}; stopping the agent"
                    ));
                    if self.term_at.is_none() {
                        self.signal(Signal::SIGTERM, Instant::now());
                    }
                } else if self.kill_at.is_none() {
                    // Asked twice: no more grace.
                    live(&format!(
                        "note: oneshot received {signal} again; killing the agent"
                    ));
                    self.signal(Signal::SIGKILL, Instant::now());
                }
            }
        }
    }

    /// Prints the live lines still queued, when giving up on the rest.
    fn drain_live(&mut self, rx: &Receiver<Msg>, live: &mut dyn FnMut(&str)) {
        while let Ok(msg) = rx.try_recv() {
            self.receive(msg, live);
        }
    }

    fn signal(&mut self, signal: Signal, now: Instant) {
        match signal {
            Signal::SIGKILL => self.kill_at = Some(now),
            _ => self.term_at = Some(now),
        }
        // ESRCH: the group is already gone, which is what we want.
        let _ = killpg(self.pgid, signal);
        let leftovers = leftover_processes();
        if signal == Signal::SIGKILL {
            // Stopped first, so that none can start another one between the two passes.
            signal_all(&leftovers, Signal::SIGSTOP);
        }
        signal_all(&leftovers, signal);
    }
}

/// Whether any process of the group is left (zombies included, until reaped).
fn group_alive(pgid: Pid) -> bool {
    !matches!(killpg(pgid, None), Err(nix::errno::Errno::ESRCH))
}

/// Reaps the group's processes that became oneshot's children (see [`Subreaper`]) and have
/// ended. Only called once the agent itself has been waited for, so that this never takes the
/// agent's exit status from the thread waiting for it.
fn reap(pgid: Pid) {
    let group = Pid::from_raw(-pgid.as_raw());
    loop {
        match waitpid(group, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) | Err(_) => return,
            Ok(_) => continue,
        }
    }
}

/// Makes oneshot, for the rest of its life, a "child subreaper" (Linux): processes an agent
/// session starts and abandons (a double fork, `setsid … &`) become oneshot's children instead
/// of init's, so that every one of them stays a descendant of oneshot, where
/// [`leftover_processes`] finds it, and is reaped once ended (an init that does not reap, as in
/// some containers, would keep zombies forever). It stays on after the session because the
/// check command and git's filters run the agent's code too. It also makes oneshot
/// non-dumpable: a process of the same user then cannot read oneshot's environment or memory,
/// where the token is.
fn guard_oneshot() {
    #[cfg(target_os = "linux")]
    {
        let _ = nix::sys::prctl::set_child_subreaper(true);
        let _ = nix::sys::prctl::set_dumpable(false);
    }
}

/// A process as `/proc/<pid>/stat` shows it.
#[derive(Debug, Clone, Copy)]
struct ProcEntry {
    pid: Pid,
    ppid: i32,
    zombie: bool,
}

/// Every process on the machine that `/proc` shows.
fn all_processes() -> Vec<ProcEntry> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|entry| {
        let pid: i32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat(pid, &stat)
    })
    .collect()
}

/// `pid (comm) state ppid …`; the command name may hold spaces and parentheses.
fn parse_stat(pid: i32, stat: &str) -> Option<ProcEntry> {
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some(ProcEntry {
        pid: Pid::from_raw(pid),
        ppid,
        zombie: state == "Z" || state == "X",
    })
}

/// Every descendant of oneshot. oneshot starts its children one at a time and waits for each
/// (git, the check, the agent), so when no child of its own is running, each of these is a
/// process that an agent session, a check or a filter left behind; while the agent runs, they
/// are the agent and everything it started, whatever group or session they moved to.
fn leftover_processes() -> Vec<ProcEntry> {
    let me = std::process::id() as i32;
    let all = all_processes();
    let mut found: Vec<ProcEntry> = Vec::new();
    let mut parents = vec![me];
    while let Some(parent) = parents.pop() {
        for p in all.iter().filter(|p| p.ppid == parent) {
            if p.pid.as_raw() != me && !found.iter().any(|f| f.pid == p.pid) {
                found.push(*p);
                parents.push(p.pid.as_raw());
            }
        }
    }
    found
}

/// Reaps the leftovers that ended and are oneshot's children; returns the ones still running.
/// Only called when oneshot waits for no child of its own, so it never takes an exit status
/// meant for someone else.
fn reap_leftovers() -> Vec<ProcEntry> {
    let me = std::process::id() as i32;
    let mut running = Vec::new();
    for p in leftover_processes() {
        if p.zombie {
            if p.ppid == me {
                let _ = waitpid(p.pid, Some(WaitPidFlag::WNOHANG));
            }
        } else {
            running.push(p);
        }
    }
    running
}

fn signal_all(processes: &[ProcEntry], signal: Signal) {
    for p in processes {
        // ESRCH: it ended meanwhile, which is what we want.
        let _ = nix::sys::signal::kill(p.pid, signal);
    }
}

/// Ends every process left over from an agent session or the agent's code (see
/// [`leftover_processes`]): SIGTERM, then SIGKILL after [`LEFTOVER_GRACE`], and reaps them.
/// Returns how many there were. Called before a git command that carries the credential.
pub fn end_leftover_processes() -> usize {
    let mut running = reap_leftovers();
    let count = running.len();
    if running.is_empty() {
        return 0;
    }
    signal_all(&running, Signal::SIGTERM);
    let term_at = Instant::now();
    let mut kill_at: Option<Instant> = None;
    while !running.is_empty() {
        thread::sleep(POLL);
        running = reap_leftovers();
        let now = Instant::now();
        match kill_at {
            None if now >= term_at + LEFTOVER_GRACE => {
                kill_at = Some(now);
                // Stopped first, so that none can start another one between the two passes.
                signal_all(&running, Signal::SIGSTOP);
                signal_all(&running, Signal::SIGKILL);
            }
            None => signal_all(&running, Signal::SIGTERM),
            Some(kill) if now >= kill + AFTER_KILL => break,
            Some(_) => {
                signal_all(&running, Signal::SIGSTOP);
                signal_all(&running, Signal::SIGKILL);
            }
        }
    }
    count
}

/// The transcript file, written as the output arrives, up to [`TRANSCRIPT_LIMIT`].
struct Transcript {
    /// Written in the chunks read from the pipe, which are large enough not to need a buffer.
    file: File,
    written: u64,
    cut: bool,
    error: Option<String>,
}

impl Transcript {
    fn new(file: File) -> Self {
        Transcript {
            file,
            written: 0,
            cut: false,
            error: None,
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.cut || self.error.is_some() {
            return;
        }
        let room = TRANSCRIPT_LIMIT - self.written;
        let result = if (bytes.len() as u64) <= room {
            self.written += bytes.len() as u64;
            self.file.write_all(bytes)
        } else {
            self.cut = true;
            let note = format!(
                "\n[oneshot: the transcript stops here, at its limit of {TRANSCRIPT_LIMIT} bytes]\n"
            );
            self.file
                .write_all(&bytes[..room as usize])
                .and_then(|()| self.file.write_all(note.as_bytes()))
        };
        if let Err(e) = result {
            self.error = Some(format!("could not write the transcript: {e}"));
        }
    }

    fn finish(mut self) -> (bool, Option<String>) {
        if let Err(e) = self.file.flush() {
            self.error
                .get_or_insert(format!("could not write the transcript: {e}"));
        }
        (self.cut, self.error)
    }
}

/// The live-log sink of the reader thread: the budget decides, the channel carries.
struct ChannelSink<'a> {
    budget: &'a mut LiveBudget,
    tx: &'a Sender<Msg>,
}

impl LiveSink for ChannelSink<'_> {
    fn push(&mut self, line: LiveLine) {
        if let Some(text) = self.budget.admit(line) {
            let _ = self.tx.send(Msg::Live(text));
        }
    }

    fn wants_text(&self) -> bool {
        self.budget.wants_text()
    }

    fn wants_tools(&self) -> bool {
        self.budget.wants_tools()
    }
}

/// Reads stdout in chunks: each chunk goes to the transcript as it is, and its lines to the
/// parser, without being copied on the way.
fn read_stdout(
    mut stdout: impl Read,
    mut transcript: Option<Transcript>,
    mut parser: Box<dyn StreamParser>,
    tx: Sender<Msg>,
) {
    let mut buf = vec![0u8; READ_CHUNK];
    let mut splitter = LineSplitter::new(MAX_LINE);
    let mut stats = OutputStats::default();
    let mut budget = LiveBudget::default();
    let mut read_error = None;
    let mut bytes = 0u64;
    let mut stop_asked = false;
    {
        let mut sink = ChannelSink {
            budget: &mut budget,
            tx: &tx,
        };
        let mut on_line = |line: &[u8], cut: bool| {
            stats.lines += 1;
            if cut {
                stats.cut_lines += 1;
            }
            let content = trim_newline(line);
            if content.iter().all(u8::is_ascii_whitespace) {
                return;
            }
            if !parser.line(content, cut, &mut sink) {
                stats.unparsed_lines += 1;
            }
            if !stop_asked && let Some(reason) = parser.stop_reason() {
                stop_asked = true;
                let _ = tx.send(Msg::Stop(reason));
            }
        };
        loop {
            let n = match stdout.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    read_error = Some(format!("could not read the agent's output: {e}"));
                    break;
                }
            };
            if let Some(t) = transcript.as_mut() {
                t.write(&buf[..n]);
            }
            bytes += n as u64;
            splitter.feed(&buf[..n], &mut on_line);
        }
        splitter.finish(&mut on_line);
    }
    stats.bytes = bytes;
    drop(buf);
    if let Some(t) = transcript {
        let (cut, error) = t.finish();
        stats.transcript_cut = cut;
        if read_error.is_none() {
            read_error = error;
        }
    }
    // The exit status is not known here: the parser finishes on the supervising thread.
    let _ = tx.send(Msg::Stdout(parser, stats, read_error));
}

/// The longest stderr line a [`StderrWatch`] sees.
const STDERR_WATCH_LINE: usize = 4096;

fn drain_stderr(stderr: impl Read, mut watch: Option<StderrWatch>, tx: &Sender<Msg>) -> String {
    let mut reader = stderr;
    let mut tail: Vec<u8> = Vec::with_capacity(STDERR_TAIL * 2);
    let mut chunk = [0u8; 8192];
    let mut splitter = LineSplitter::new(STDERR_WATCH_LINE);
    let mut on_line = |line: &[u8], _cut: bool| {
        if let Some(check) = watch.as_mut()
            && let Some(reason) = check(&String::from_utf8_lossy(trim_newline(line)))
        {
            let _ = tx.send(Msg::Stop(reason));
            watch = None;
        }
    };
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                splitter.feed(&chunk[..n], &mut on_line);
                tail.extend_from_slice(&chunk[..n]);
                if tail.len() > STDERR_TAIL * 2 {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    if tail.len() > STDERR_TAIL {
        tail.drain(..tail.len() - STDERR_TAIL);
    }
    String::from_utf8_lossy(&tail).into_owned()
}

/// The exit information a parser needs.
pub fn exit_info(exit: Option<ExitStatus>) -> ExitInfo {
    ExitInfo {
        code: exit.and_then(|s| s.code()),
    }
}

/// The signal that ended the process, if one did.
pub fn exit_signal(exit: Option<ExitStatus>) -> Option<i32> {
    exit.and_then(|s| s.signal())
}

/// Where a program is, looked up like a shell would (on `path`, or relative to `workdir` when
/// it contains a slash).
pub fn find_program(program: &str, path: &OsString, workdir: &Path) -> Result<PathBuf, String> {
    which::which_in(program, Some(path), workdir)
        .map_err(|e| format!("{program} was not found on PATH ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_with_odd_command_names_parse() {
        let p = parse_stat(42, "42 (a) b (c)) S 7 42 42 0 -1").unwrap();
        assert_eq!((p.pid.as_raw(), p.ppid, p.zombie), (42, 7, false));
        let z = parse_stat(43, "43 (sleep) Z 1 43 43 0 -1").unwrap();
        assert!(z.zombie);
        assert!(parse_stat(44, "44 (truncated").is_none());
    }
}
