#!/usr/bin/env bash
# Counts the instructions of one cnn-core step with callgrind, which does not depend on
# the load of a shared machine, and lists the functions that execute them:
#   bash bench/profile.sh NETWORK forward|train BATCH
# - wasm: node runs the SIMD wasm build (bench/pkg, from bench/run.sh) for 5 and for 25
#   steps, with V8's optimizing compiler only (--no-liftoff) and no background threads;
#   the difference of the two totals divided by 20 is one step, compile time excluded.
# - native: the runner built for baseline x86-64 runs 20 steps, and callgrind_annotate
#   lists the functions. Baseline x86-64 has SSE2, 128-bit vectors like wasm's simd128,
#   and valgrind cannot run the AVX-512 code of a target-cpu=native build.
set -euo pipefail
cd "$(dirname "$0")/.."
network=${1:?usage: bash bench/profile.sh NETWORK forward\|train BATCH}
pass=${2:?usage: bash bench/profile.sh NETWORK forward\|train BATCH}
batch=${3:?usage: bash bench/profile.sh NETWORK forward\|train BATCH}
out=bench/out/profile
mkdir -p "$out"

total() { grep -o 'summary: [0-9]*' "$1" | grep -o '[0-9]*'; }
for steps in 5 25; do
  valgrind --tool=callgrind --smc-check=all-non-file --callgrind-out-file="$out/wasm-$steps.cg" \
    node --no-liftoff --single-threaded bench/tools/steps.mjs "$network" "$pass" "$batch" "$steps" \
    > /dev/null 2>&1
done
wasm=$(( ($(total "$out/wasm-25.cg") - $(total "$out/wasm-5.cg")) / 20 ))
echo "wasm in node: $wasm instructions per step ($network $pass, batch $batch)"

CARGO_TARGET_DIR=target/bench-profile CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only \
  cargo build --quiet --release -p cnn-bench --bin native
spec=$(node -e "import('./bench/networks.mjs').then((m) => console.log(JSON.stringify(JSON.stringify(m.NETWORKS.find((n) => n.name === '$network').spec))))")
echo "{\"spec\": $spec, \"seed\": 2024, \"batch\": $batch, \"mode\": \"$pass\", \"steps\": 20}" \
  | valgrind --tool=callgrind --callgrind-out-file="$out/native.cg" target/bench-profile/release/native \
    > /dev/null 2>&1
echo "native (SSE2): $(( $(total "$out/native.cg") / 20 )) instructions per step, start-up included"
callgrind_annotate --inclusive=no "$out/native.cg" 2>/dev/null \
  | grep -E '^ *[0-9,]+ \(' | sed 's/ \[.*\]$//' | head -16
