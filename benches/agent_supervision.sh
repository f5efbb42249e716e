#!/usr/bin/env bash
# Benchmark: what supervising an agent costs oneshot.
#
# Runs `oneshot exec run-plan` (release build) against the fake agent as `claude`, which prints
# 100 MB of stream-json (assistant text, tool calls, large tool results, as Claude Code writes
# them) and then a normal planning result. Both processes run under GNU time: the agent through
# a wrapper, oneshot directly. oneshot's share is its CPU time minus the agent's; its peak RSS
# is the outer peak, which is oneshot's own whenever it is above the agent's (the outer figure
# is the largest of the process tree).
#
# Budget: oneshot adds under 1 s of CPU time and stays under 50 MiB of RSS.
#
# Usage: benches/agent_supervision.sh [MEGABYTES]   (default 100)
# Needs: GNU time at /usr/bin/time, git, cargo.
set -euo pipefail

megabytes="${1:-100}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [ ! -x /usr/bin/time ]; then
    echo "error: GNU time (/usr/bin/time) is needed (Debian: apt-get install time)" >&2
    exit 1
fi

echo "Building oneshot and the fake agent (release) ..."
if ! cargo build --release --features test-fakes --bin oneshot --bin fake-agent 2>"${TMPDIR:-/tmp}/oneshot-bench-build.log"; then
    cat "${TMPDIR:-/tmp}/oneshot-bench-build.log" >&2
    exit 1
fi
oneshot="$root/target/release/oneshot"
fake="$root/target/release/fake-agent"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="$work/repo"
bin="$work/bin"
mkdir -p "$repo/.impl" "$bin"
git -C "$repo" init --quiet
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit --quiet --allow-empty -m init
echo "Add a --verbose flag to the submit command" >"$repo/.impl/task.md"

# The agent: GNU time around the fake agent (the wrapper is what oneshot finds as `claude`).
ln -s "$fake" "$bin/fake-claude"
cat >"$bin/claude" <<WRAPPER
#!/bin/sh
exec /usr/bin/time -f '%e %U %S %M' -o '$work/agent.time' '$bin/fake-claude' "\$@"
WRAPPER
chmod +x "$bin/claude"

python3 - "$megabytes" "$bin/fake-claude.script.json" <<'PY'
import json, sys
mb, path = int(sys.argv[1]), sys.argv[2]
text = {"type": "assistant", "message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-5",
        "content": [{"type": "text", "text": "Looking at the parser next. " * 36}], "usage": {"input_tokens": 10, "output_tokens": 200}},
        "parent_tool_use_id": None, "session_id": "bench"}
tool = {"type": "assistant", "message": {"id": "msg_2", "type": "message", "role": "assistant", "model": "claude-sonnet-5",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "Read", "input": {"file_path": "/repo/src/main.rs"}}]},
        "parent_tool_use_id": None, "session_id": "bench"}
result = {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
          "content": "fn main() {\n    println!(\"hello\");\n}\n" * 200}]}, "parent_tool_use_id": None, "session_id": "bench",
          "tool_use_result": {"type": "text", "file": {"filePath": "/repo/src/main.rs", "content": "fn main() {}\n" * 300}}}
steps = [{"emit": {"type": "system", "subtype": "init", "model": "claude-sonnet-5", "tools": ["Read"]}}]
# Ten rounds of text, tool calls and tool results, 100 MB in all.
chunk = mb * 1024 * 1024 // 10
for _ in range(10):
    steps.append({"flood": {"bytes": chunk * 2 // 10, "line": text}})
    steps.append({"flood": {"bytes": chunk * 1 // 10, "line": tool}})
    steps.append({"flood": {"bytes": chunk * 7 // 10, "line": result}})
plan = "# Add a verbose flag\n\nSummary.\n\n## Steps\n\n### Step 1: Parse the flag\n\nDo it.\n"
steps += [
    {"write": {"path": ".impl/plan.md", "content": plan}},
    {"write": {"path": ".impl/plan-result.json", "content": json.dumps({"title": "Add a verbose flag", "summary": "Summary."})}},
    {"emit": {"type": "result", "subtype": "success", "is_error": False, "num_turns": 40, "result": "Done.",
              "total_cost_usd": 1.23, "usage": {"input_tokens": 100000, "output_tokens": 5000}, "permission_denials": []}},
]
json.dump({"steps": steps}, open(path, "w"))
PY

echo "Supervising an agent that prints $megabytes MB of stream-json ..."
(
    cd "$repo"
    PATH="$bin:$PATH" /usr/bin/time -f '%e %U %S %M' -o "$work/oneshot.time" \
        "$oneshot" exec run-plan >"$work/stdout" 2>"$work/stderr"
) || {
    echo "error: run-plan failed" >&2
    cat "$work/stdout" "$work/stderr" >&2
    exit 1
}

read -r a_wall a_user a_sys a_rss <"$work/agent.time"
read -r o_wall o_user o_sys o_rss <"$work/oneshot.time"
bytes="$(python3 -c "import json; print(json.load(open('$repo/.impl/runs/plan.json'))['output']['bytes'])")"

python3 - "$bytes" "$a_wall" "$a_user" "$a_sys" "$a_rss" "$o_wall" "$o_user" "$o_sys" "$o_rss" <<'PY'
import sys
bytes_, a_wall, a_user, a_sys, a_rss, o_wall, o_user, o_sys, o_rss = sys.argv[1:]
a_cpu = float(a_user) + float(a_sys)
total_cpu = float(o_user) + float(o_sys)
added_cpu = total_cpu - a_cpu
rss_mib = int(o_rss) / 1024
agent_rss_mib = int(a_rss) / 1024
print(f"output read:            {int(bytes_) / 1048576:.1f} MiB")
print(f"wall time:              {float(o_wall):.2f} s")
print(f"agent CPU:              {a_cpu:.2f} s (user {a_user}, sys {a_sys}), peak RSS {agent_rss_mib:.1f} MiB")
print(f"oneshot + agent CPU:    {total_cpu:.2f} s")
print(f"CPU added by oneshot:   {added_cpu:.2f} s   (budget 1 s)")
own = "oneshot's own" if int(o_rss) > int(a_rss) else "the agent's; oneshot's is at most this"
print(f"peak RSS of the tree:   {rss_mib:.1f} MiB ({own})   (budget 50 MiB)")
ok = added_cpu < 1.0 and rss_mib < 50
print("within budget" if ok else "OVER BUDGET")
sys.exit(0 if ok else 1)
PY
