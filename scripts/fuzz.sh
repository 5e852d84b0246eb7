#!/usr/bin/env bash
# Long fuzz runs, not part of the test command: RUNS cases (default 1,000,000) of each
# harness, in order:
# - core/tests/fuzz.rs: hostile specs, parameters, inputs and objectives through the
#   validator and the run;
# - tests/fuzz.rs: damaged permalinks through the decoder and the page's build, and random
#   pixel buffers through the image-upload conversion.
# Each prints its case count and how many cases reached the core.
#
# Usage: bash scripts/fuzz.sh [RUNS]   (about 4 minutes for 1,000,000 on 2 cores)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CNN_FUZZ_RUNS="${1:-1000000}"

cargo test -p cnn-core --test fuzz -- --nocapture
cargo test -p cnn-backprop-explorer --test fuzz -- --nocapture
