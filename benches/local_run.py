#!/usr/bin/env python3
"""Orchestration overhead of `oneshot run` for a 3-step plan with a zero-latency fake agent.

Budget (issue: local run): the whole run (work tree, planning session, plan check, three
steps with their commits, the plan store) under 1 s. Each run starts in a fresh repository with
a fresh cache directory; the fake agent (tests/fakes/fake_agent.rs, installed as `claude`)
answers at once: the planner writes a 3-step plan, each step writes one file. The wall time is
measured around one `oneshot run` process; the time spent inside the agent sessions (from the
session reports) is shown next to it, so that what is left is oneshot's own work.

Usage: benches/local_run.py [--runs N] [--target-dir DIR]
(builds oneshot and the fake agent with `cargo build --release --features test-fakes` unless
--target-dir points at a release build that has both)
"""
import argparse
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASK = "Add a --verbose flag to the submit command"
PLAN = """# Add a --verbose flag to submit

The submit command gets a --verbose flag that prints each request.

## Steps

### Step 1: Parse the flag
Add `verbose: bool` to `SubmitArgs` in src/cli.rs. Check: `cargo build`.

### Step 2: Print requests
In src/submit.rs, print each request when verbose is set. Check: `cargo test submit`.

### Step 3: Document it
Add the flag to README.md. Check: the README mentions --verbose.
"""
GIT_ENV = {"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1",
           "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@example.com",
           "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@example.com"}


def git(cwd, *args):
    subprocess.run(["git", *args], cwd=cwd, env=dict(os.environ, **GIT_ENV), check=True,
                   capture_output=True)


def result():
    return {"emit": {"type": "result", "subtype": "success", "is_error": False, "num_turns": 1,
                     "result": "Done.", "duration_ms": 0, "total_cost_usd": 0.01,
                     "session_id": "s", "usage": {"input_tokens": 1, "output_tokens": 1}}}


def write(path, content):
    return {"write": {"path": path, "content": content}}


def fake_agent(bin_dir, fake):
    """The fake agent as `claude`, with one script per session."""
    os.makedirs(bin_dir)
    os.symlink(fake, os.path.join(bin_dir, "claude"))
    scripts = [[write(".impl/plan.md", PLAN),
                write(".impl/plan-result.json", json.dumps({"title": "Add a --verbose flag to submit", "summary": "x"})),
                result()]]
    scripts += [[write(f"src/step{n}.txt", f"step {n}\n"), result()] for n in (1, 2, 3)]
    for n, steps in enumerate(scripts, 1):
        with open(os.path.join(bin_dir, f"claude.script.{n}.json"), "w") as f:
            json.dump({"steps": steps}, f)


def repo(path):
    """A small repository: 50 files in a few directories, one commit."""
    os.makedirs(path)
    git(path, "init", "-q", "-b", "main")
    for d in range(5):
        os.makedirs(os.path.join(path, f"dir{d}"))
        for i in range(10):
            with open(os.path.join(path, f"dir{d}", f"file{i}.txt"), "w") as f:
                f.write(f"line {d}/{i}\n" * 20)
    git(path, "add", ".")
    git(path, "commit", "-q", "-m", "init")


def run_once(oneshot, fake, tmp, n):
    base = os.path.join(tmp, f"run{n}")
    work, home, bin_dir = (os.path.join(base, x) for x in ("work", "home", "bin"))
    repo(work)
    os.makedirs(home)
    fake_agent(bin_dir, fake)
    env = {"PATH": f"{bin_dir}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": home,
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    out = os.open(os.path.join(base, "stdout"), os.O_WRONLY | os.O_CREAT)
    err = os.open(os.path.join(base, "stderr"), os.O_WRONLY | os.O_CREAT)
    start = time.perf_counter()
    pid = os.posix_spawn(oneshot, [oneshot, "-C", work, "run", TASK, "--json"], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, out, 1), (os.POSIX_SPAWN_DUP2, err, 2)])
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(out)
    os.close(err)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"oneshot run failed:\n{open(os.path.join(base, 'stderr')).read()}")
    report = json.load(open(os.path.join(base, "stdout")))
    if report.get("completed_steps") != 3:
        sys.exit(f"expected 3 steps done: {report}")
    sessions = 0.0
    for path in glob.glob(os.path.join(work, ".git/oneshot/plans/*/runs/*.json")):
        sessions += json.load(open(path)).get("duration_s", 0.0)
    shutil.rmtree(base)
    return elapsed, sessions


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--target-dir")
    args = ap.parse_args()
    target = args.target_dir
    if not target:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--features", "test-fakes",
                        "--bin", "oneshot", "--bin", "fake-agent"], cwd=ROOT, check=True)
        target = os.path.join(ROOT, "target", "release")
    target = os.path.abspath(target)
    oneshot = os.path.join(target, "oneshot")
    fake = os.path.join(target, "fake-agent")
    with tempfile.TemporaryDirectory() as tmp:
        run_once(oneshot, fake, tmp, "warm-up")
        totals, sessions = [], []
        for n in range(args.runs):
            t, s = run_once(oneshot, fake, tmp, n)
            totals.append(t * 1000)
            sessions.append(s * 1000)
    overhead = [t - s for t, s in zip(totals, sessions)]
    median = statistics.median(totals)
    print(f"oneshot run, 3-step plan, zero-latency fake agent, {args.runs} runs: "
          f"median {median:.0f} ms (min {min(totals):.0f}, max {max(totals):.0f}); "
          f"inside the 4 agent sessions {statistics.median(sessions):.0f} ms, "
          f"oneshot's own work {statistics.median(overhead):.0f} ms")
    print("budget: whole run < 1000 ms:", "OK" if median < 1000 else "OVER BUDGET")


if __name__ == "__main__":
    main()
