#!/usr/bin/env python3
"""Cold start of oneshot commands in a small repository, against their budgets:

- `oneshot exec detect-trunk`: median under 5 ms, peak RSS under 15 MiB (issue: Foundation);
- `oneshot dispatch --dry-run "…"`: median under 20 ms (issue: dispatch) — every computation of
  a real dispatch (prompt and model checks, trunk, branch name, PR title and body, workflow
  inputs, the request list), nothing sent.

Each timed run is one fresh process started with posix_spawn and reaped with wait4, without the
overhead of a shell or of Python's subprocess. Peak RSS comes from GNU time (`/usr/bin/time -f
%M`): the rusage of a child spawned by Python counts Python's own pages from before the exec.

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
    # dispatch reads the repository from the remote's URL; the dry run never contacts it.
    git(work, "remote", "set-url", "origin", "https://github.com/acme/app.git")
    return work


# (name, arguments, median budget in ms, peak RSS budget in MiB or None)
COMMANDS = [
    ("exec detect-trunk", ["exec", "detect-trunk"], 5.0, 15.0),
    ("dispatch --dry-run", ["dispatch", "--dry-run", "--json", "Add a --verbose flag to the submit command"], 20.0, None),
]


def run_once(binary, cwd, env, arguments):
    devnull = os.open(os.devnull, os.O_WRONLY)
    start = time.perf_counter()
    pid = os.posix_spawn(binary, [binary, "-C", cwd, *arguments], env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)])
    _, status, _ = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(devnull)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"oneshot exited with {os.waitstatus_to_exitcode(status)}")
    return elapsed


def peak_rss_mib(binary, cwd, env, arguments, runs=20):
    """The highest peak RSS over `runs` runs, measured by GNU time; None without it."""
    if not os.path.exists("/usr/bin/time"):
        return None
    peak = 0
    for _ in range(runs):
        out = subprocess.run(["/usr/bin/time", "-f", "%M", binary, "-C", cwd, *arguments],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak = max(peak, int(out.stderr.strip().splitlines()[-1]))
    return peak / 1024


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
    over = False
    with tempfile.TemporaryDirectory() as tmp:
        work = small_repo(tmp)
        for name, arguments, budget_ms, budget_mib in COMMANDS:
            for _ in range(10):  # warm the page cache
                run_once(binary, work, env, arguments)
            times = sorted(run_once(binary, work, env, arguments) * 1000 for _ in range(args.runs))
            median = statistics.median(times)
            p90 = times[int(len(times) * 0.9)]
            peak = peak_rss_mib(binary, work, env, arguments)
            ok = median < budget_ms and (budget_mib is None or (peak is not None and peak < budget_mib))
            over |= not ok
            rss_budget = f", RSS < {budget_mib:.0f} MiB" if budget_mib else ""
            rss_text = f"{peak:.1f} MiB" if peak is not None else "n/a (no /usr/bin/time)"
            print(f"{name:<20} {args.runs} runs: median {median:.2f} ms, p90 {p90:.2f} ms, "
                  f"min {times[0]:.2f} ms; peak RSS {rss_text} "
                  f"(budget: median < {budget_ms:.0f} ms{rss_budget}: {'OK' if ok else 'OVER BUDGET'})")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
