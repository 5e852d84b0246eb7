#!/usr/bin/env bash
# Install any missing tools, then serve the app with live reload at
# http://127.0.0.1:$PORT/ (PORT defaults to 8080).
#
# trunk serve writes into dist/, including a live-reload script, so the
# end-to-end test builds into target/dist-e2e instead of reusing dist/.
#
# Usage: [PORT=8080] bash scripts/serve.sh [extra trunk serve options]
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

bash scripts/setup.sh

# trunk runs offline (here and through Trunk.toml), so it uses the
# wasm-bindgen in cargo's bin folder and the wasm-opt (binaryen 132) from the
# end-to-end test's npm packages, and downloads neither. Offline mode also
# keeps cargo offline, so the crates are fetched first.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$repo_root/tests/e2e/node_modules/.bin:$PATH"
cargo fetch --quiet

exec trunk serve --offline --skip-version-check \
    --address 127.0.0.1 --port "${PORT:-8080}" "$@"
