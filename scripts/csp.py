#!/usr/bin/env python3
"""Add a Content-Security-Policy to the index.html that trunk built.

Trunk runs this as a post-build hook with TRUNK_STAGING_DIR set to the folder
it is about to publish. The policy allows only the page's own origin, plus
'wasm-unsafe-eval' (to compile the WebAssembly module) and the SHA-256 hash of
each inline script trunk wrote (its loader, and the live-reload script under
`trunk serve`). Those scripts name hashed file names, so the hashes change with
every build and are computed here.

Under `trunk serve` the page carries trunk's live-reload script, whose text
trunk rewrites while serving (it fills in the server's address), so no hash
computed here can match it: the script then leaves the page without a policy
and prints that it did. Release builds (`trunk build --release`, the end-to-end tests)
always get the policy.

Run by hand on a built folder: TRUNK_STAGING_DIR=target/dist-e2e python3 scripts/csp.py
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import sys
from pathlib import Path

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)
MARKER = 'http-equiv="Content-Security-Policy"'


def policy(script_hashes: list[str]) -> str:
    """Return the policy text for the given script hashes."""
    scripts = " ".join(f"'sha256-{h}'" for h in script_hashes)
    directives = [
        "default-src 'self'",
        f"script-src 'self' 'wasm-unsafe-eval' {scripts}".strip(),
        # Yew sets style attributes (map sizes), while style sheets stay same-origin.
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        # Uploaded images are decoded from blob: URLs, and downloads use blob: URLs.
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    return "; ".join(directives)


def main() -> int:
    staging = os.environ.get("TRUNK_STAGING_DIR")
    if not staging:
        print("csp.py: TRUNK_STAGING_DIR is not set; run it as a trunk post_build hook", file=sys.stderr)
        return 1
    index = Path(staging) / "index.html"
    html = index.read_text(encoding="utf-8")
    if MARKER in html:
        return 0
    if "__TRUNK_ADDRESS__" in html:
        print("csp.py: live-reload build for trunk serve, so no Content-Security-Policy is added")
        return 0
    hashes = [
        base64.b64encode(hashlib.sha256(body.encode("utf-8")).digest()).decode("ascii")
        for body in INLINE_SCRIPT.findall(html)
    ]
    meta = f'<meta {MARKER} content="{policy(hashes)}" />'
    html, count = re.subn(r"(<meta charset=[^>]*>)", r"\1\n    " + meta.replace("\\", "\\\\"), html, count=1)
    if count != 1:
        print(f"csp.py: {index} has no <meta charset> to put the policy after", file=sys.stderr)
        return 1
    index.write_text(html, encoding="utf-8")
    print(f"csp.py: added a Content-Security-Policy with {len(hashes)} inline script hash(es)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
