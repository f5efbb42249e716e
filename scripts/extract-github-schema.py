#!/usr/bin/env python3
"""Regenerates tests/support/fake_github/github-schemas.json from GitHub's official REST description.

The fake GitHub server used by the tests validates every request body against GitHub's own
schema for that endpoint, and checks its own responses against GitHub's response schemas, so that
the fake cannot drift from what api.github.com accepts and returns. The description is published
on npm as `@octokit/openapi` (MIT licence); this script `npm pack`s the pinned version into a
temporary directory, reads `generated/api.github.com.json` (13 MB) and keeps only the endpoints the
fake implements:

- `requests`: the request-body schema of each endpoint that takes one, with every `$ref` resolved
  in place;
- `responses`: the schema of each 2xx JSON response, with `$ref`s kept as `#/components/NAME`
  (response objects share large pieces such as users and repositories);
- `components`: those shared pieces, themselves with `$ref`s of the same form.

Descriptions and examples are dropped. `keywords` lists every schema keyword that remains; the
validator in tests/support/fake_github/schema.rs must understand all of them (a test checks it).

Usage: scripts/extract-github-schema.py [VERSION]   (needs python3 and npm)
"""

import json
import os
import subprocess
import sys
import tarfile
import tempfile

VERSION = "23.0.2"
SPEC = "generated/api.github.com.json"
OUT = os.path.join(
    os.path.dirname(os.path.abspath(__file__)),
    "..", "tests", "support", "fake_github", "github-schemas.json",
)

# (method, OpenAPI path) of every REST endpoint the fake server implements. Keep this list in step
# with the router in tests/support/fake_github/rest.rs.
ENDPOINTS = [
    ("get", "/user"),
    ("get", "/repos/{owner}/{repo}"),
    ("get", "/repos/{owner}/{repo}/contents/{path}"),
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("post", "/repos/{owner}/{repo}/git/refs"),
    ("patch", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("delete", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("get", "/repos/{owner}/{repo}/issues"),
    ("post", "/repos/{owner}/{repo}/issues"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("patch", "/repos/{owner}/{repo}/issues/{issue_number}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("get", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("patch", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("delete", "/repos/{owner}/{repo}/issues/comments/{comment_id}"),
    ("get", "/repos/{owner}/{repo}/labels"),
    ("post", "/repos/{owner}/{repo}/labels"),
    ("get", "/repos/{owner}/{repo}/labels/{name}"),
    ("get", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("put", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    ("delete", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}"),
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("post", "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"),
    ("get", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}"),
    ("post", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/dispatches"),
    ("get", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
]

# Documentation only; nothing validates against these. Dropped where they are keywords, never
# where they are field names under `properties`.
DROP = {"description", "example", "examples", "title", "externalDocs", "deprecated", "readOnly",
        "writeOnly", "x-github", "x-github-breaking-changes"}


def fetch(version):
    with tempfile.TemporaryDirectory(prefix="octokit-openapi-") as tmp:
        out = subprocess.run(
            ["npm", "pack", "--silent", f"@octokit/openapi@{version}", "--pack-destination", tmp],
            check=True, capture_output=True, text=True,
        )
        tarball = os.path.join(tmp, out.stdout.strip().splitlines()[-1])
        with tarfile.open(tarball) as tar:
            member = tar.extractfile(f"package/{SPEC}")
            if member is None:
                sys.exit(f"{SPEC} is missing from @octokit/openapi@{version}")
            return json.load(member)


def lookup(doc, ref):
    if not ref.startswith("#/"):
        sys.exit(f"external $ref not supported: {ref}")
    node = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def inline(doc, node, stack=()):
    """The schema with every $ref replaced by its target (request bodies are not recursive)."""
    if isinstance(node, list):
        return [inline(doc, n, stack) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref in stack:
            sys.exit(f"recursive $ref in a request body: {ref}")
        return inline(doc, lookup(doc, ref), stack + (ref,))
    return {
        k: {name: inline(doc, sub, stack) for name, sub in v.items()} if k == "properties" else inline(doc, v, stack)
        for k, v in node.items()
        if k not in DROP
    }


def shared(doc, node, components):
    """The schema with $refs kept, rewritten to #/components/NAME; collects their targets."""
    if isinstance(node, list):
        return [shared(doc, n, components) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        target = lookup(doc, ref)
        # References to whole responses (components/responses/...) lead to a schema inside them.
        if ref.startswith("#/components/responses/"):
            return shared(doc, target, components)
        name = ref.rsplit("/", 1)[-1]
        if name not in components:
            components[name] = None  # reserve first: components can refer to themselves
            components[name] = shared(doc, target, components)
        return {"$ref": f"#/components/{name}"}
    out = {
        # Under `properties` the keys are field names (a field may be called "title").
        k: {name: shared(doc, sub, components) for name, sub in v.items()} if k == "properties"
        else shared(doc, v, components)
        for k, v in node.items()
        if k not in DROP
    }
    mapping = out.get("discriminator", {}).get("mapping")
    if mapping:
        # Same form as the $refs; the targets are among the oneOf branches, collected above.
        out["discriminator"]["mapping"] = {
            k: "#/components/" + v.rsplit("/", 1)[-1] for k, v in mapping.items()
        }
    return out


def keywords(node, found):
    """Collects the keywords of a schema and of its subschemas (not of values such as `default`)."""
    if isinstance(node, list):
        for n in node:
            keywords(n, found)
        return
    if not isinstance(node, dict):
        return
    found.update(node)
    for k, v in node.items():
        if k == "properties":
            keywords(list(v.values()), found)
        elif k in ("items", "additionalProperties", "not", "oneOf", "anyOf", "allOf"):
            keywords(v, found)


def main():
    version = sys.argv[1] if len(sys.argv) > 1 else VERSION
    doc = fetch(version)
    requests, responses, components = {}, {}, {}
    for method, path in ENDPOINTS:
        op = doc["paths"].get(path, {}).get(method)
        if op is None:
            sys.exit(f"{method.upper()} {path} is not in @octokit/openapi@{version}")
        key = f"{method.upper()} {path}"
        body = op.get("requestBody")
        if body is not None:
            body = inline(doc, body)
            schema = body["content"]["application/json"]["schema"]
            requests[key] = {"required": body.get("required", False), "schema": schema}
        for status, response in sorted(op["responses"].items()):
            if not status.startswith("2"):
                continue
            if "$ref" in response:
                response = lookup(doc, response["$ref"])
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None:
                responses.setdefault(key, {})[status] = shared(doc, schema, components)
    found = set()
    keywords([r["schema"] for r in requests.values()], found)
    keywords([s for r in responses.values() for s in r.values()], found)
    keywords(list(components.values()), found)
    # One entry per line: small diffs when the pinned version moves.
    lines = ["{"]
    lines.append(f' "source": {json.dumps(f"@octokit/openapi@{version} {SPEC} (MIT licence)")},')
    lines.append(' "generated_by": "scripts/extract-github-schema.py",')
    lines.append(f' "keywords": {json.dumps(sorted(found))},')
    lines.append(f' "endpoints": {json.dumps([f"{m.upper()} {p}" for m, p in ENDPOINTS])},')
    for section, entries, last in (("requests", requests, False), ("responses", responses, False),
                                   ("components", components, True)):
        lines.append(f' "{section}": {{')
        items = sorted(entries.items())
        for i, (k, v) in enumerate(items):
            comma = "," if i + 1 < len(items) else ""
            lines.append(f"  {json.dumps(k)}: {json.dumps(v, separators=(',', ':'), sort_keys=True)}{comma}")
        lines.append(" }" + ("" if last else ","))
    lines.append("}")
    with open(OUT, "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {os.path.normpath(OUT)}: {len(requests)} request schemas, "
          f"{len(responses)} response schemas, {len(components)} components")


if __name__ == "__main__":
    main()
