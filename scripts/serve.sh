#!/usr/bin/env bash
# Builds the web client (web-client/ → web-client/dist, embedded in the binary) and runs
# `accord serve` in release mode. Extra arguments go to `accord serve`.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

(
  cd web-client
  # npm install only when the installed packages are missing or older than the lock file.
  if [[ ! -d node_modules || package-lock.json -nt node_modules ]]; then
    # `install`, not `ci`: see scripts/test-all.sh.
    npm install --no-audit --no-fund
  fi
  npm run build
)
exec cargo run --release -- serve "$@"
