#!/usr/bin/env bash
# moto's S3-compatible server, for the blob-store tests (signaling/tests/edge/blobs_s3.rs and the recording tests start it on
# loopback themselves; this installs it and can run one by hand).
#
#   scripts/s3-test-server.sh install      make .venv-s3/ (git-ignored) with moto[server] and
#                                          print moto_server's path, for ACCORD_MOTO
#   scripts/s3-test-server.sh run [PORT]   run it on 127.0.0.1:PORT (default 9000) in the
#                                          foreground; any key and secret are accepted
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="$PWD/.venv-s3"
MOTO="$VENV/bin/moto_server"
# moto 5 is what the tests were written against; a major version may change its server.
REQUIREMENT='moto[server]>=5.1,<6'

install() {
  if [[ ! -x "$MOTO" ]]; then
    echo "==> installing $REQUIREMENT into $VENV" >&2
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "$REQUIREMENT" >&2
  fi
  # Ignored without touching the project's .gitignore (Python 3.13's venv does the same).
  printf '*\n' >"$VENV/.gitignore"
  echo "$MOTO"
}

case "${1:-}" in
  install) install ;;
  run) exec "$(install)" -H 127.0.0.1 -p "${2:-9000}" ;;
  *)
    echo "usage: $0 install | run [PORT]" >&2
    exit 2
    ;;
esac
