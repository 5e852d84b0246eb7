#!/usr/bin/env bash
# Install the tools that build, serve and test the app, skipping each one that
# is already present, so a run on a machine that has them all only checks
# versions (measured: 0.5 s on a 2-core machine).
#
# Sources are the Debian archive (Chromium, ChromeDriver), rustup (the wasm32
# target, rustfmt, clippy), crates.io (trunk, wasm-bindgen-cli), the npm
# registry (the packages in tests/e2e/package-lock.json) and PyPI (NumPy, for
# the exported scripts' test). Nothing else is downloaded. The script exports nothing: scripts that need the tools put
# $HOME/.cargo/bin and tests/e2e/node_modules/.bin on PATH themselves.
#
# Usage: bash scripts/setup.sh   (from any directory)
set -euo pipefail

readonly TRUNK_VERSION="0.21.14"
# NumPy 2.3 needs Python 3.11 or newer (its Requires-Python is ">=3.11").
readonly NUMPY_VERSION="2.3.5"
readonly MIN_NODE_MAJOR=20

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo_root"

cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
e2e_dir="$repo_root/tests/e2e"
export PATH="$cargo_bin:$e2e_dir/node_modules/.bin:$PATH"

start_seconds=$SECONDS
present_count=0
installed_count=0
installed_names=()

report_present() {
    printf 'setup: %-22s already present (%s)\n' "$1" "$2"
    present_count=$((present_count + 1))
}

report_installed() {
    printf 'setup: %-22s installed (%s)\n' "$1" "$2"
    installed_count=$((installed_count + 1))
    installed_names+=("$1")
}

fail() {
    printf 'setup: error: %s\n' "$*" >&2
    exit 1
}

# Print the first line that "$@" writes, or nothing when the command is
# missing or fails.
first_output_line() {
    "$@" 2>/dev/null | head -n 1 || true
}

# Run a command as root: directly when this shell is root, else through sudo.
run_as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        fail "'$*' needs root, but this user is not root and sudo is not installed"
    fi
}

check_prerequisites() {
    local tool
    for tool in rustup cargo node npm; do
        command -v "$tool" >/dev/null 2>&1 ||
            fail "$tool not found on PATH ($PATH); install it first"
    done

    local node_major
    node_major="$(node -p 'process.versions.node.split(".")[0]')"
    if [ "$node_major" -lt "$MIN_NODE_MAJOR" ]; then
        fail "Node.js $(node --version) is too old: the end-to-end tests need Node.js $MIN_NODE_MAJOR or newer"
    fi
}

install_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        report_present "chromium" "/usr/bin/chromium, /usr/bin/chromedriver"
        return
    fi

    echo "setup: installing Debian packages chromium and chromium-driver"
    run_as_root apt-get update -qq
    run_as_root env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq chromium chromium-driver >/dev/null
    [ -x /usr/bin/chromium ] || fail "apt-get finished but /usr/bin/chromium is missing"
    [ -x /usr/bin/chromedriver ] || fail "apt-get finished but /usr/bin/chromedriver is missing"
    report_installed "chromium" "$(first_output_line /usr/bin/chromium --version)"
}

install_rust_target() {
    if rustup target list --installed | grep -qx 'wasm32-unknown-unknown'; then
        report_present "wasm32 target" "wasm32-unknown-unknown"
        return
    fi

    rustup target add wasm32-unknown-unknown
    report_installed "wasm32 target" "wasm32-unknown-unknown"
}

install_rust_components() {
    local installed component subcommand
    installed="$(rustup component list --installed)"
    for component in rustfmt clippy; do
        # The cargo subcommand of rustfmt is "fmt".
        subcommand="${component/rustfmt/fmt}"
        # Installed components are listed with the host triple appended, such as
        # "clippy-x86_64-unknown-linux-gnu".
        if grep -q "^${component}-" <<<"$installed"; then
            report_present "$component" "$(first_output_line cargo "$subcommand" --version)"
        else
            rustup component add "$component"
            report_installed "$component" "$(first_output_line cargo "$subcommand" --version)"
        fi
    done
}

install_trunk() {
    local found
    found="$(first_output_line trunk --version)"
    if [ "$found" = "trunk $TRUNK_VERSION" ]; then
        report_present "trunk" "$found"
        return
    fi

    echo "setup: installing trunk $TRUNK_VERSION from crates.io (found: ${found:-none}), which takes about 5 to 10 minutes on 2 cores"
    cargo install --quiet --locked trunk --version "$TRUNK_VERSION"
    found="$(first_output_line trunk --version)"
    [ "$found" = "trunk $TRUNK_VERSION" ] ||
        fail "cargo install finished but 'trunk --version' printed '${found:-nothing}', expected 'trunk $TRUNK_VERSION'"
    report_installed "trunk" "$found"
}

# Print the version of the wasm-bindgen package in Cargo.lock. The CLI must
# match it exactly, because wasm-bindgen-cli rejects a wasm file built against
# a different version of the wasm-bindgen crate.
locked_wasm_bindgen_version() {
    [ -f Cargo.lock ] ||
        fail "Cargo.lock not found in $repo_root. Run 'cargo generate-lockfile' there first."

    local versions count
    versions="$(awk '
        /^\[\[package\]\]/ { in_wasm_bindgen = 0 }
        /^name = "wasm-bindgen"$/ { in_wasm_bindgen = 1 }
        in_wasm_bindgen && /^version = / { gsub(/"/, "", $3); print $3; in_wasm_bindgen = 0 }
    ' Cargo.lock)"
    count="$(grep -c . <<<"$versions" || true)"

    if [ "$count" -eq 0 ]; then
        fail "Cargo.lock has no wasm-bindgen package, so the wasm-bindgen-cli version to install is unknown; add the app crate (which depends on wasm-bindgen) to the workspace and run 'cargo generate-lockfile'"
    fi
    if [ "$count" -gt 1 ]; then
        fail "Cargo.lock has $count versions of wasm-bindgen ($(paste -sd ' ' <<<"$versions")), but one wasm-bindgen-cli can match only one of them; make every crate use the same wasm-bindgen version"
    fi
    echo "$versions"
}

install_wasm_bindgen() {
    local version found_cli found_runner
    version="$(locked_wasm_bindgen_version)"
    found_cli="$(first_output_line wasm-bindgen --version)"
    found_runner="$(first_output_line wasm-bindgen-test-runner --version)"
    if [ "$found_cli" = "wasm-bindgen $version" ] &&
        [ "$found_runner" = "wasm-bindgen-test-runner $version" ]; then
        report_present "wasm-bindgen-cli" "$found_cli, as in Cargo.lock"
        return
    fi

    # No --locked: the locked build of wasm-bindgen-cli 0.2.130 fails, because
    # its published lock file names a webpki-roots release missing from crates.io.
    echo "setup: installing wasm-bindgen-cli $version from crates.io (found: ${found_cli:-none}), which takes about 2 to 5 minutes on 2 cores"
    cargo install --quiet wasm-bindgen-cli --version "$version"
    found_cli="$(first_output_line wasm-bindgen --version)"
    [ "$found_cli" = "wasm-bindgen $version" ] ||
        fail "cargo install finished but 'wasm-bindgen --version' printed '${found_cli:-nothing}', expected 'wasm-bindgen $version'"
    report_installed "wasm-bindgen-cli" "$found_cli"
}

# npm ci deletes and rewrites node_modules on every run, so after a successful
# install the script stores the lock file's SHA-256 in node_modules and skips
# the install while that checksum and the tools are unchanged.
install_npm_packages() {
    local stamp="$e2e_dir/node_modules/.setup-lock-sha256"
    local lock="$e2e_dir/package-lock.json"
    local wasm_opt="$e2e_dir/node_modules/.bin/wasm-opt"

    if [ ! -f "$lock" ]; then
        echo "setup: tests/e2e/package-lock.json not found, so running npm install to create it"
        (cd "$e2e_dir" && npm install --no-audit --no-fund --loglevel=error >/dev/null)
        sha256sum "$lock" | cut -d' ' -f1 >"$stamp"
        report_installed "npm packages" "created tests/e2e/package-lock.json"
        return
    fi

    local lock_sum
    lock_sum="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ] &&
        [ -x "$wasm_opt" ] && [ -d "$e2e_dir/node_modules/playwright-core" ] &&
        [ -d "$e2e_dir/node_modules/axe-core" ]; then
        report_present "npm packages" "$(first_output_line "$wasm_opt" --version)"
        return
    fi

    (cd "$e2e_dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock_sum" >"$stamp"
    report_installed "npm packages" "$(first_output_line "$wasm_opt" --version)"
}

# The core's tests run the NumPy scripts that it exports with python3. Any
# NumPy that imports is accepted, and a missing one is installed for this user
# from PyPI.
install_numpy() {
    local found
    found="$(first_output_line python3 -c 'import numpy; print(numpy.__version__)')"
    if [ -n "$found" ]; then
        report_present "numpy" "numpy $found"
        return
    fi

    command -v python3 >/dev/null 2>&1 || fail "python3 not found on PATH ($PATH); install Python 3 first"
    echo "setup: installing numpy $NUMPY_VERSION from PyPI for $(first_output_line python3 --version)"
    python3 -m pip install --quiet --user --no-warn-script-location \
        --root-user-action=ignore "numpy==$NUMPY_VERSION"
    found="$(first_output_line python3 -c 'import numpy; print(numpy.__version__)')"
    [ -n "$found" ] ||
        fail "pip finished but 'python3 -c \"import numpy\"' still fails"
    report_installed "numpy" "numpy $found"
}

check_prerequisites
install_chromium
install_rust_target
install_rust_components
install_trunk
install_npm_packages
install_numpy
# Last, because it fails until Cargo.lock names wasm-bindgen, and every other
# tool can be installed before that.
install_wasm_bindgen

summary="setup: done in $((SECONDS - start_seconds)) s: $installed_count installed"
if [ "$installed_count" -gt 0 ]; then
    summary+=" (${installed_names[*]})"
fi
echo "$summary, $present_count already present"
