#!/usr/bin/env bash
# Builds cnn-core's benchmark workloads for wasm32 with SIMD (for Node, through
# wasm-bindgen) and natively, installs the npm contenders from bench/package-lock.json,
# and runs the benchmark. Arguments go to bench/run.mjs (see its usage line), e.g.
#   bash bench/run.sh --rounds 9 --ms 400 --networks N2,N3
# or only builds with `bash bench/run.sh --build-only`.
# Needs the wasm32-unknown-unknown target and wasm-bindgen-cli at the wasm-bindgen
# version in Cargo.lock (scripts/setup.sh installs both), Node.js 20 and npm.
set -euo pipefail
cd "$(dirname "$0")/.."

# Its own target folder, so that these flags do not rebuild the app's artifacts, and
# opt-level 3 instead of the workspace release profile's "s", which sizes the app's wasm.
export CARGO_TARGET_DIR=target/bench
export CARGO_PROFILE_RELEASE_OPT_LEVEL=3

RUSTFLAGS='-C target-feature=+simd128' \
  cargo build --quiet --release -p cnn-bench --lib --target wasm32-unknown-unknown
wasm-bindgen --target nodejs --out-dir bench/pkg \
  "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/cnn_bench.wasm"
# bench/package.json makes .js files ES modules; wasm-bindgen's nodejs output is CommonJS.
echo '{"type": "commonjs"}' > bench/pkg/package.json

RUSTFLAGS='-C target-cpu=native' cargo build --quiet --release -p cnn-bench --bin native

if [ "${1:-}" = --build-only ]; then
  exit 0
fi
if [ ! -d bench/node_modules ]; then
  (cd bench && npm ci --no-audit --no-fund)
fi
node bench/run.mjs --native "$CARGO_TARGET_DIR/release/native" "$@"
