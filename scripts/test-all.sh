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

step "the patched engine crates' own tests (vendor/README.md)"
# They are outside the workspace, so each is built on its own, pinned to the workspace's
# versions (a copy of its lock file, removed afterwards) and with rtc seeing the patched
# rtc-interceptor, as the service does.
trap 'rm -rf "$ACCORD_WRITE_PACKAGES" vendor/rtc*/Cargo.lock' EXIT
for crate in rtc-interceptor rtc; do
  cp Cargo.lock "vendor/$crate/Cargo.lock"
  CARGO_TARGET_DIR="$ROOT/target/vendor" cargo test --lib \
    --manifest-path "vendor/$crate/Cargo.toml" \
    --config "patch.crates-io.rtc-interceptor.path=\"$ROOT/vendor/rtc-interceptor\""
  rm -f "vendor/$crate/Cargo.lock"
done

# The end-to-end scenarios of every issue again, in the two other deployments the service
# runs in (README, "Tests"): one node on PostgreSQL, and two nodes sharing PostgreSQL and
# Redis behind one address. Tests about one process by nature (crash, drain, restart on the
# same folder, a proxy in front of the media port, the SQLite file itself) ran above and are
# left out here; they would only run once more on SQLite.
SCENARIOS=(
  active_speakers_rank_the_loudest_first:: agreement_drafting::
  bad_input_gets_error_frames_not_panics:: case_work_api:: caucus_keeps_each_side_private::
  crossing_offers_are_resolved_by_rollback:: hostile_clients_are_bounded::
  ice_tcp_client_joins_when_udp_is_blocked:: invites_admit_their_person_until_revoked::
  invites_go_out_through_the_configured_gateway:: judicial_confirmation::
  leaving_is_announced_to_others::
  mediator_with_four_parties:: one_to_one::
  online_intake_creates_a_case_with_parties_and_evidence:: paused_participants_keep_their_seat::
  personal_data_stays_private:: recording_a_session::
  resume_takes_over_a_seat_whose_socket_died_unnoticed::
  session_grants_are_enforced_by_the_server:: sign_in_and_intake_are_rate_limited::
  simulcast_layer_follows_track_settings:: six_way_many_to_many::
  staff_access_is_checked_on_every_case_endpoint:: staff_sign_in::
  tokens_and_headers_are_checked_at_the_edge:: whip_publisher_is_seen_and_whep_viewer_receives::
)
ONE_PROCESS_TESTS=(
  --skip acknowledged_edits_survive_a_kill_in_the_middle_of_a_burst
  --skip a_client_that_stops_reading_is_dropped_and_memory_stays_flat
  --skip the_first_connectivity_check_of_each_join_is_routed
  --skip a_paused_phone_keeps_its_seat_through_a_long_silence
  --skip phones_are_sealed_at_rest_and_shown_in_full_to_the_cases_mediator_only
  --skip a_client_address_is_logged_by_its_network_only
)

step "end-to-end scenarios on PostgreSQL (ACCORD_TEST_DEPLOYMENT=postgres)"
ACCORD_TEST_DEPLOYMENT=postgres cargo test -p accord-tests --test e2e -- \
  "${SCENARIOS[@]}" "${ONE_PROCESS_TESTS[@]}"

step "end-to-end scenarios on two nodes, PostgreSQL + Redis (ACCORD_TEST_DEPLOYMENT=cluster)"
# Left out: the last sign-in of the password-guessing test goes to the other node, which
# may let one attempt through before it has read the cluster's count (the bound
# signaling/src/limits.rs documents); cluster_nodes_share_redis tests the shared count.
ACCORD_TEST_DEPLOYMENT=cluster cargo test -p accord-tests --test e2e -- \
  "${SCENARIOS[@]}" "${ONE_PROCESS_TESTS[@]}" \
  --skip guessing_a_password_is_stopped_and_other_accounts_still_sign_in

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
