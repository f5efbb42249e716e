#!/usr/bin/env bash
# Installs the external programs the integration tests run for real into .tools/ (git-ignored):
#   - Claude Code (npm @anthropic-ai/claude-code), at the version the tests pin
#     (tests/real_claude.rs), as .tools/node_modules/.bin/claude.
# Needs npm and access to the npm registry. Safe to run again: it does nothing when the pinned
# version is already there.
#
# Usage: scripts/install-test-tools.sh
set -euo pipefail

CLAUDE_CODE_VERSION=2.1.330
CODEX_VERSION=0.169.0
GEMINI_CLI_VERSION=0.61.0

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="$root/.tools"
claude="$tools/node_modules/.bin/claude"

installed_version() {
    "$claude" --version 2>/dev/null | awk '{print $1}'
}

if [ -x "$claude" ] && [ "$(installed_version)" = "$CLAUDE_CODE_VERSION" ]; then
    echo "Claude Code $CLAUDE_CODE_VERSION is already installed in .tools/"
    exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
    echo "error: npm is needed to install Claude Code; install Node.js and npm first" >&2
    exit 1
fi

mkdir -p "$tools"
# A package.json of its own, so that npm installs here and not into an enclosing project.
if [ ! -f "$tools/package.json" ]; then
    printf '{\n  "name": "oneshot-test-tools",\n  "private": true\n}\n' >"$tools/package.json"
fi

echo "Installing Claude Code $CLAUDE_CODE_VERSION into .tools/ ..."
# The package's engines field asks for a newer Node than some runners have; its program is a
# native binary that does not run on Node, so the check is only a warning here.
npm install --prefix "$tools" --no-audit --no-fund --save-exact --loglevel=error \
    "@anthropic-ai/claude-code@$CLAUDE_CODE_VERSION"

# The package puts its native binary in place with a postinstall script. An npm that skips
# install scripts leaves a placeholder; run the script ourselves then.
if [ "$(installed_version)" != "$CLAUDE_CODE_VERSION" ]; then
    echo "Running the package's install script (npm skipped it) ..."
    (cd "$tools/node_modules/@anthropic-ai/claude-code" && node install.cjs)
fi

version="$(installed_version)"
if [ "$version" != "$CLAUDE_CODE_VERSION" ]; then
    echo "error: .tools/node_modules/.bin/claude reports version '${version:-none}', expected $CLAUDE_CODE_VERSION" >&2
    exit 1
fi
echo "Claude Code $version installed: $claude"
