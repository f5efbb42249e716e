#!/usr/bin/env python3
"""Cold start of `oneshot exec detect-trunk` in a small repository.

Budget (issue: Foundation): median under 5 ms, peak RSS under 15 MiB on a 2-core machine.
Each run is one fresh process started with posix_spawn and reaped with wait4, which gives the
wall time and the child's own peak RSS without the overhead of a shell or of Python's subprocess.

Usage: benches/cold_start.py [--runs N] [--binary PATH]
(builds target/release/oneshot first when --binary is not given)
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def git(cwd, *args):
    env = dict(os.environ, GIT_CONFIG_GLOBAL="/dev/null", GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@example.com",
               GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@example.com")
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def small_repo(tmp):
    """A clone as `git clone` leaves it: origin/HEAD set, one commit, a bare origin."""
    origin = os.path.join(tmp, "origin.git")
    work = os.path.join(tmp, "work")
    git(tmp, "init", "-q", "--bare", "-b", "main", origin)
    os.makedirs(work)
    git(work, "init", "-q", "-b", "main")
    for i in range(20):
        with open(os.path.join(work, f"file{i}.txt"), "w") as f:
            f.write(f"line {i}\n")
    git(work, "add", ".")
    git(work, "commit", "-q", "-m", "init")
    git(work, "remote", "add", "origin", origin)
    git(work, "push", "-q", "origin", "main")
    git(work, "fetch", "-q", "origin")
    git(work, "remote", "set-head", "origin", "main")
    return work


def run_once(binary, cwd, env):
    devnull = os.open(os.devnull, os.O_WRONLY)
    start = time.perf_counter()
    pid = os.posix_spawn(binary, [binary, "-C", cwd, "exec", "detect-trunk"], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"oneshot exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed, usage.ru_maxrss  # ru_maxrss is in KiB on Linux


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--binary")
    args = ap.parse_args()
    binary = args.binary
    if not binary:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        binary = os.path.join(ROOT, "target", "release", "oneshot")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": tempfile.gettempdir(),
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        work = small_repo(tmp)
        for _ in range(10):  # warm the page cache
            run_once(binary, work, env)
        times, rss = [], []
        for _ in range(args.runs):
            t, r = run_once(binary, work, env)
            times.append(t * 1000)
            rss.append(r / 1024)
    times.sort()
    median = statistics.median(times)
    p90 = times[int(len(times) * 0.9)]
    peak = max(rss)
    print(f"exec detect-trunk cold start over {args.runs} runs: median {median:.2f} ms, "
          f"p90 {p90:.2f} ms, min {times[0]:.2f} ms; peak RSS {peak:.1f} MiB")
    print("budget: median < 5 ms, peak RSS < 15 MiB:",
          "OK" if median < 5 and peak < 15 else "OVER BUDGET")


if __name__ == "__main__":
    main()
