#!/usr/bin/env bash
# The single test command for Accord: formatting, lints, build, Rust tests, Chromium smoke test.
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
cargo test --workspace

step "Chromium smoke test (tests/browser: npm ci && node --test)"
export ACCORD_BIN="${ACCORD_BIN:-$ROOT/target/debug/accord}"
# Last step on purpose: node's test summary must be the closing lines of the output.
(cd tests/browser && npm ci --no-audit --no-fund && node --test)
