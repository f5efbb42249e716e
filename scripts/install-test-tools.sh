#!/usr/bin/env bash
# Installs the agent CLIs the integration tests run for real into .tools/ (git-ignored), at the
# versions the tests pin:
#   - Claude Code (npm @anthropic-ai/claude-code)  -> .tools/node_modules/.bin/claude
#   - Codex CLI   (npm @openai/codex)              -> .tools/node_modules/.bin/codex
#   - Gemini CLI  (npm @google/gemini-cli)         -> .tools/node_modules/.bin/gemini
# The same pins are kept in the tests (tests/real_*.rs) and compared there.
# Needs npm and access to the npm registry. Safe to run again: a CLI that already reports its
# pinned version is left alone, so a warm run only starts each CLI once (about 3 s).
#
# Usage: scripts/install-test-tools.sh
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.330
CODEX_VERSION=0.169.0
GEMINI_CLI_VERSION=0.61.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
bin="$tools/node_modules/.bin"

# The version a CLI reports, as a bare number: `2.1.330 (Claude Code)`, `codex-cli 0.169.0` and
# `0.61.0` all give the number.
installed_version() {
    "$bin/$1" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -n 1 || true
}

# name, npm package, pinned version (one line each).
tools_list() {
    printf '%s %s %s\n' \
        claude "@anthropic-ai/claude-code" "$CLAUDE_CODE_VERSION" \
        codex "@openai/codex" "$CODEX_VERSION" \
        gemini "@google/gemini-cli" "$GEMINI_CLI_VERSION"
}

missing=()
while read -r name package version; do
    if [ -x "$bin/$name" ] && [ "$(installed_version "$name")" = "$version" ]; then
        echo "$name $version is already installed in .tools/"
    else
        missing+=("$package@$version")
    fi
done < <(tools_list)

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm is needed to install ${missing[*]}; install Node.js and npm first" >&2
    exit 1
fi

mkdir -p "$tools"
# A package.json of its own, so that npm installs here and not into an enclosing project.
if [ ! -f "$tools/package.json" ]; then
    printf '{\n  "name": "oneshot-test-tools",\n  "private": true\n}\n' >"$tools/package.json"
fi

echo "Installing ${missing[*]} into .tools/ ..."
# Claude Code's engines field asks for a newer Node than some runners have; its program is a
# native binary that does not run on Node, so the check is only a warning here. Codex ships its
# native binary as an optional platform dependency (@openai/codex-linux-x64 …), so optional
# dependencies must not be omitted.
npm install --prefix "$tools" --no-audit --no-fund --save-exact --include=optional \
    --loglevel=error "${missing[@]}"

# Claude Code puts its native binary in place with a postinstall script. An npm that skips
# install scripts leaves a placeholder; run the script ourselves then.
if [ "$(installed_version claude)" != "$CLAUDE_CODE_VERSION" ]; then
    echo "Running Claude Code's install script (npm skipped it) ..."
    (cd "$tools/node_modules/@anthropic-ai/claude-code" && node install.cjs)
fi

failed=0
while read -r name package version; do
    got="$(installed_version "$name")"
    if [ "$got" != "$version" ]; then
        echo "error: .tools/node_modules/.bin/$name ($package) reports version '${got:-none}', expected $version" >&2
        failed=1
    else
        echo "$name $got installed: $bin/$name"
    fi
done < <(tools_list)
exit "$failed"
