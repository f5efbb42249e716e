#!/usr/bin/env bash
# Benchmark: installing the pinned Claude Code CLI the way a workflow job does it,
# `oneshot exec install-agent --phase plan` on a runner with no agent on PATH.
#
#   cold:     nothing cached (the first run of a repository, or a new version): npm downloads
#             the package from the registry and unpacks it.
#   warm:     a cache hit: the Actions cache has put npm's cache and the installed prefix back
#             (what the workflows keep); the step checks the CLI's version and puts it on PATH.
#   npm-only: npm's cache back but not the prefix (the prefix lost, say): npm unpacks from its
#             cache without asking the registry for the package again.
#
# Each is run RUNS times (default 3); the median is reported. Budget: warm under 5 s. The
# other figures depend on the network and the disk and are reported only.
#
# Usage: benches/install_agent.sh [RUNS]
# Needs: node, npm and access to the npm registry, git, cargo (or ONESHOT_BIN=path/to/oneshot).
set -euo pipefail

runs="${1:-3}"
budget_ms=5000
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

for tool in node npm git; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "error: $tool is needed" >&2
        exit 1
    fi
done

oneshot="${ONESHOT_BIN:-}"
if [ -z "$oneshot" ]; then
    echo "Building oneshot (release) ..."
    if ! cargo build --release --bin oneshot 2>"${TMPDIR:-/tmp}/oneshot-bench-build.log"; then
        cat "${TMPDIR:-/tmp}/oneshot-bench-build.log" >&2
        exit 1
    fi
    oneshot="$root/target/release/oneshot"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="$work/repo"
mkdir -p "$repo"
git -C "$repo" init --quiet
git -C "$repo" -c user.name=bench -c user.email=bench@example.com commit --quiet --allow-empty -m init

# A stock runner's PATH: node, npm, git, no agent CLI.
path=""
for tool in node npm git; do
    dir="$(dirname "$(command -v "$tool")")"
    case ":$path:" in *":$dir:"*) ;; *) path="${path:+$path:}$dir" ;; esac
done
for agent in claude codex gemini; do
    if PATH="$path" command -v "$agent" >/dev/null 2>&1; then
        echo "error: $agent is on the stock PATH ($path); the install would be skipped" >&2
        exit 1
    fi
done

# How this machine reaches the registry (proxy, extra certificate authorities) is kept; the
# rest of the environment is a runner's.
network=()
while IFS= read -r name; do
    network+=("$name=${!name}")
done < <(compgen -e | grep -E '^(https?_proxy|HTTPS?_PROXY|no_proxy|NO_PROXY|NODE_EXTRA_CA_CERTS|SSL_CERT_FILE|SSL_CERT_DIR|npm_config_(registry|cafile|proxy|https_proxy|strict_ssl))$' || true)

# One install into a fresh RUNNER_TEMP. $1: cold (nothing cached; what it installed is kept in
# $work/saved as the next cache entry), warm (npm's cache and the prefix restored) or npm-only.
# Prints the wall time in milliseconds.
install_once() {
    local kind="$1" temp cache="$work/npm-cache" saved="$work/saved"
    temp="$(mktemp -d "$work/job.XXXXXX")"
    mkdir -p "$temp/oneshot-agents"
    case "$kind" in
        cold) rm -rf "$cache" "$saved" ;;
        warm) cp -al "$saved/." "$temp/oneshot-agents/" ;;
    esac
    mkdir -p "$cache"
    ln -s "$cache" "$temp/oneshot-agents/npm-cache"
    local start end
    start=$(date +%s%N)
    if ! env -i "${network[@]}" PATH="$path" HOME="$work/home" RUNNER_TEMP="$temp" \
        GITHUB_ACTIONS=true GITHUB_OUTPUT="$temp/output" GITHUB_PATH="$temp/path" \
        "$oneshot" exec install-agent --phase plan --directory "$repo" >"$temp/log" 2>&1; then
        cat "$temp/log" >&2
        exit 1
    fi
    end=$(date +%s%N)
    grep -q '^agent_version<<' "$temp/output" || { cat "$temp/log" >&2; exit 1; }
    if [ "$kind" = cold ]; then
        mkdir -p "$saved"
        find "$temp/oneshot-agents" -mindepth 1 -maxdepth 1 -name 'claude-*' -exec mv {} "$saved/" \;
    fi
    rm -rf "$temp"
    echo $(((end - start) / 1000000))
}

median() {
    sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

mkdir -p "$work/home"
cold=()
warm=()
npm_only=()
for _ in $(seq "$runs"); do
    cold+=("$(install_once cold)")
    warm+=("$(install_once warm)")
    npm_only+=("$(install_once npm-only)")
done
cold_ms=$(printf '%s\n' "${cold[@]}" | median)
warm_ms=$(printf '%s\n' "${warm[@]}" | median)
npm_only_ms=$(printf '%s\n' "${npm_only[@]}" | median)

echo "install-agent claude (pinned), $runs runs each, median:"
echo "  cold (nothing cached, from the registry):      ${cold_ms} ms   [${cold[*]}]"
echo "  warm (cache hit: npm cache and prefix back):   ${warm_ms} ms   [${warm[*]}] (budget ${budget_ms} ms)"
echo "  npm-only (npm cache back, prefix not):         ${npm_only_ms} ms   [${npm_only[*]}]"
if [ "$warm_ms" -ge "$budget_ms" ]; then
    echo "warm install over budget" >&2
    exit 1
fi
