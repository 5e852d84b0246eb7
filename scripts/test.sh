#!/usr/bin/env bash
# Run every check of the project, stopping at the first failing step: tool
# setup, formatting, clippy (native and wasm32), the native tests, the
# wasm-bindgen tests in headless Chromium, a release build and the end-to-end
# test of that build. Each step prints a heading and its duration.
#
# Usage: bash scripts/test.sh   (from any directory)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$repo_root/tests/e2e/node_modules/.bin:$PATH"

# The app crate, whose wasm-bindgen tests run in the browser.
readonly APP_PACKAGE="cnn-backprop-explorer"
# The end-to-end test's own build folder. The dist/ of trunk serve contains a
# live-reload script whose WebSocket fails with a console error under the
# test's server.
readonly E2E_DIST="target/dist-e2e"
readonly STEP_COUNT=15

step_number=0
run_start_ns="$(date +%s%N)"

# Print the time since the nanosecond timestamp $1, in seconds with one decimal.
elapsed_since() {
    local elapsed_ms=$((($(date +%s%N) - $1) / 1000000))
    printf '%d.%d s' $((elapsed_ms / 1000)) $((elapsed_ms % 1000 / 100))
}

# Run one step: "$1" is its title, the rest is the command.
run_step() {
    local title="$1"
    shift
    step_number=$((step_number + 1))
    printf '\n==> [%d/%d] %s\n    $ %s\n' "$step_number" "$STEP_COUNT" "$title" "$*"

    local step_start_ns status=0
    step_start_ns="$(date +%s%N)"
    "$@" || status=$?
    if [ "$status" -ne 0 ]; then
        printf '\n==> FAILED: [%d/%d] %s (exit code %d, after %s)\n' \
            "$step_number" "$STEP_COUNT" "$title" "$status" "$(elapsed_since "$step_start_ns")" >&2
        exit "$status"
    fi
    printf '==> ok: %s (%s)\n' "$title" "$(elapsed_since "$step_start_ns")"
}

run_step "setup" bash scripts/setup.sh
run_step "format check" cargo fmt --all --check
run_step "dependency review" python3 scripts/dependencies.py --check
run_step "clippy, native" cargo clippy --quiet --workspace --all-targets -- -D warnings
run_step "clippy, wasm32" cargo clippy --quiet --workspace --target wasm32-unknown-unknown -- -D warnings
# The app's browser tests are wasm32-only; the core's test targets need proptest, which
# does not build for wasm32, so only the app package lints its tests there.
run_step "clippy, wasm32 tests" \
    cargo clippy --quiet -p "$APP_PACKAGE" --all-targets --target wasm32-unknown-unknown -- -D warnings
run_step "native tests" cargo test --quiet --workspace
# This step needs .cargo/config.toml to set wasm-bindgen-test-runner as the
# wasm32 runner, and webdriver.json to start /usr/bin/chromium headless. No
# --quiet here: cargo passes it on to wasm-bindgen-test-runner, which rejects it.
run_step "wasm tests in headless Chromium" \
    env CHROMEDRIVER=/usr/bin/chromedriver \
    cargo test --target wasm32-unknown-unknown -p "$APP_PACKAGE"
# CARGO_TERM_QUIET keeps the "Compiling ..." lines of trunk's cargo build out
# of the log, but not its warnings and errors.
run_step "release build" \
    env CARGO_TERM_QUIET=true \
    trunk --quiet build --offline --skip-version-check --release --dist "$E2E_DIST"
run_step "end-to-end test: first page" node tests/e2e/run.mjs "$E2E_DIST"
run_step "end-to-end test: stepper" node tests/e2e/stepper.mjs "$E2E_DIST"
run_step "end-to-end test: export and share" node tests/e2e/share.mjs "$E2E_DIST"
run_step "end-to-end test: editors" node tests/e2e/editor.mjs "$E2E_DIST"
run_step "end-to-end test: training" node tests/e2e/training.mjs "$E2E_DIST"
run_step "end-to-end test: saved views, reset, non-finite values" node tests/e2e/hardening.mjs "$E2E_DIST"

printf '\n==> all %d steps passed in %s\n' "$STEP_COUNT" "$(elapsed_since "$run_start_ns")"
