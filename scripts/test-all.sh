#!/usr/bin/env bash
# The single test command for Accord: formatting, lints, build, Rust tests, the web client's type
# check, unit tests and build, then the Chromium tests.
# Works from any directory. Needs cargo (with rustfmt and clippy), node >= 20 with npm, and
# Debian's chromium at /usr/bin/chromium (.ci/run installs the system packages).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$(pwd)"

step() {
  printf '\n==================== %s ====================\n' "$*"
}

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --workspace --bins"
cargo build --workspace --bins

step "cargo test --workspace"
# The package tests keep the confirmation packages they build (good and tampered, with the
# Rust verifier's report of each); Vitest then checks that the browser's verifier answers the
# same for every one of them.
ACCORD_WRITE_PACKAGES="$(mktemp -d)"
export ACCORD_WRITE_PACKAGES
trap 'rm -rf "$ACCORD_WRITE_PACKAGES"' EXIT
cargo test --workspace

step "web client: npm install, type check, unit tests (Vitest), build"
# Built before the browser tests: the debug server reads web-client/dist at run time.
# `npm install`, not `npm ci`: npm 11 leaves other platforms' optional packages (rollup's
# native builds) out of the lock file and `npm ci` then refuses it; `install` still takes
# every version the lock file pins.
(cd web-client && npm install --no-audit --no-fund && npx tsc --noEmit \
  && ACCORD_PACKAGES="$ACCORD_WRITE_PACKAGES" npx vitest run && npm run build)

step "Chromium tests (tests/browser: npm ci && node --test)"
export ACCORD_BIN="${ACCORD_BIN:-$ROOT/target/debug/accord}"
# Last step on purpose: node's test summary must be the closing lines of the output.
(cd tests/browser && npm ci --no-audit --no-fund && node --test)
