#!/usr/bin/env python3
"""Write or check docs/dependencies.md, the listed review of every third-party package.

cargo-audit and cargo-deny read the RustSec advisory database from GitHub, which the
project's machines cannot reach, so the review is a list instead: every crate in
Cargo.lock and every npm package in the test and benchmark lock files, with its
version and licence, and for each direct dependency why it is there.

    python3 scripts/dependencies.py          # rewrite docs/dependencies.md
    python3 scripts/dependencies.py --check  # fail if the list is out of date or a
                                             # licence is not on the allowed list

`--check` runs `cargo metadata --offline`, so the crates must already be fetched.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "dependencies.md"
NPM_LOCKS = [ROOT / "tests" / "e2e" / "package-lock.json", ROOT / "bench" / "package-lock.json"]

# Licences accepted for code that ships in the page or runs in the tests.
ALLOWED = re.compile(
    r"^(MIT|Apache-2\.0|BSD-2-Clause|BSD-3-Clause|ISC|Zlib|Unlicense|BSL-1\.0|Unicode-3\.0|"
    r"Unicode-DFS-2016|0BSD|CC0-1\.0|MPL-2\.0|LLVM-exception|LGPL-2\.1-or-later)$"
)

# Why each direct dependency is there; a new direct dependency needs an entry.
WHY = {
    "serde": "(de)serializes specs, parameters, traces and worker messages",
    "thiserror": "the core's error enums",
    "serde_json": "JSON of cases, weights, permalinks and saved views (tests of the core too)",
    "proptest": "property tests of the core (test only)",
    "yew": "the page's components",
    "yew-agent": "the training web worker",
    "wasm-bindgen": "the bridge between Rust and the browser",
    "wasm-bindgen-futures": "awaiting fetch and other promises",
    "js-sys": "JavaScript built-ins (arrays, promises)",
    "web-sys": "DOM, canvas, storage and worker APIs",
    "plotters": "drawing heatmaps and plots",
    "plotters-canvas": "plotters on an HTML canvas",
    "futures": "streams of the worker's reactor",
    "gloo-timers": "yielding inside the worker between training chunks",
    "wasm-bindgen-test": "component tests in Chromium (test only)",
    "bincode": "round-trip test of the worker's message encoding (test only)",
}


def cargo_packages() -> tuple[list[dict], set[str]]:
    """Return the registry packages of the workspace and the names of direct deps."""
    output = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--offline"],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout
    metadata = json.loads(output)
    members = set(metadata["workspace_members"])
    direct = set()
    for package in metadata["packages"]:
        if package["id"] in members:
            direct.update(d["name"] for d in package["dependencies"] if d.get("source"))
    registry = [p for p in metadata["packages"] if p.get("source")]
    registry.sort(key=lambda p: (p["name"], p["version"]))
    return registry, direct


def npm_packages() -> list[tuple[str, str, str, str]]:
    """Return (lock file, name, version, licence) for every npm package."""
    found = []
    for lock in NPM_LOCKS:
        if not lock.exists():
            continue
        data = json.loads(lock.read_text(encoding="utf-8"))
        for path, info in sorted(data.get("packages", {}).items()):
            if not path:
                continue
            name = path.split("node_modules/")[-1]
            found.append((lock.relative_to(ROOT).as_posix(), name, info.get("version", "?"), info.get("license", "?")))
    return found


def licence_ok(expression: str) -> bool:
    """Whether some alternative of an SPDX expression uses only allowed licences."""
    if not expression:
        return False
    normal = expression.replace("/", " OR ").replace("(", " ").replace(")", " ")
    alternatives = [a for a in re.split(r"\s+OR\s+", normal) if a.strip()]
    for alternative in alternatives:
        parts = [p.strip() for p in re.split(r"\s+(?:AND|WITH)\s+", alternative) if p.strip()]
        if parts and all(ALLOWED.match(p) for p in parts):
            return True
    return False


def render() -> str:
    """Return the text of docs/dependencies.md."""
    registry, direct = cargo_packages()
    lines = [
        "# Dependency review",
        "",
        "Written by `python3 scripts/dependencies.py`; `bash scripts/test.sh` runs it with",
        "`--check`, which fails when Cargo.lock or an npm lock file lists a package this page",
        "does not, or a licence outside the allowed list. cargo-audit and cargo-deny need the",
        "RustSec advisory database from GitHub, which the project's machines cannot reach, so",
        "this list is the audit: every package is from crates.io or the npm registry, pinned",
        "by a lock file, and each direct dependency says why it is there.",
        "",
        "## Direct Rust dependencies",
        "",
        "| crate | why |",
        "|---|---|",
    ]
    for name in sorted(direct):
        lines.append(f"| {name} | {WHY.get(name, 'NOT REVIEWED')} |")
    lines += ["", "## Every crate in Cargo.lock", "", "| crate | version | licence |", "|---|---|---|"]
    for package in registry:
        lines.append(f"| {package['name']} | {package['version']} | {package.get('license') or '?'} |")
    lines += ["", "## npm packages (tests and benchmarks only; none ships in the page)", "",
              "| lock file | package | version | licence |", "|---|---|---|---|"]
    for lock, name, version, licence in npm_packages():
        lines.append(f"| {lock} | {name} | {version} | {licence} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" not in sys.argv[1:]:
        DOC.write_text(text, encoding="utf-8")
        print(f"wrote {DOC.relative_to(ROOT)}")
        return 0
    problems = []
    if not DOC.exists() or DOC.read_text(encoding="utf-8") != text:
        problems.append("docs/dependencies.md is out of date: run python3 scripts/dependencies.py and review the change")
    registry, direct = cargo_packages()
    problems += [f"direct dependency {n} has no reason in scripts/dependencies.py WHY" for n in sorted(direct) if n not in WHY]
    problems += [f"crate {p['name']} {p['version']} has licence {p.get('license')!r}, not on the allowed list"
                 for p in registry if not licence_ok(p.get("license") or "")]
    problems += [f"npm package {name} {version} has licence {licence!r}, not on the allowed list"
                 for _, name, version, licence in npm_packages() if not licence_ok(licence)]
    for problem in problems:
        print(f"dependencies: {problem}", file=sys.stderr)
    if not problems:
        print(f"dependencies: {len(registry)} crates and {len(npm_packages())} npm packages match docs/dependencies.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
