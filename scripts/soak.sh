#!/usr/bin/env bash
# The memory soak of a scripted clinic day (ui/e2e/soak.mjs): builds the app, the platform and
# the empty Tauri 2 window it is compared with (tools/empty-window), then runs the day under a
# private Xvfb. Arguments go to soak.mjs (e.g. --walkins 600 --calls 600 --parts 8).
#   bash scripts/soak.sh                        # the full day, release builds
#   SOAK_PROFILE=debug bash scripts/soak.sh --walkins 16 --calls 16 --parts 2
#   SOAK_SKIP_BUILD=1 bash scripts/soak.sh …    # run what is built
# The report (Markdown) and every reading (JSON lines) land in ui/e2e/artifacts/soak-*.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/frontdesk-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export PATH="$HOME/.cargo/bin:$PATH"
export FRONTDESK_KEYCHAIN=off
profile="${SOAK_PROFILE:-release}"
case "$profile" in
  release) tauri_flags=(); cargo_flags=(--release) ;;
  debug) tauri_flags=(--debug); cargo_flags=() ;;
  *) echo "SOAK_PROFILE is release or debug" >&2; exit 2 ;;
esac
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

if [[ -z "${SOAK_SKIP_BUILD:-}" ]]; then
  step "build the app ($profile)"
  (cd ui && npx vite build --logLevel warn)
  (cd src-tauri && ../ui/node_modules/.bin/tauri build "${tauri_flags[@]}" --no-bundle --ci)
  step "build the platform (debug: it serves the desk, it is not measured)"
  cargo build -p frontdesk-central --bin frontdesk-central
  step "build the empty window ($profile, offline, the workspace's dependency versions)"
  # Its own workspace; the main workspace's lock file, so every dependency is the app's version
  # and its build in the shared target directory is reused.
  cp Cargo.lock tools/empty-window/Cargo.lock
  (cd tools/empty-window && cargo build --offline "${cargo_flags[@]}" --features custom-protocol)
fi
app="$CARGO_TARGET_DIR/$profile/frontdesk-app"
floor="$CARGO_TARGET_DIR/$profile/frontdesk-empty-window"
central="$CARGO_TARGET_DIR/debug/frontdesk-central"
for f in "$app" "$floor" "$central"; do test -x "$f" || { echo "missing: $f" >&2; exit 1; }; done
command -v tauri-driver >/dev/null || { echo "tauri-driver is missing (scripts/test-app.sh installs it)" >&2; exit 1; }

step "the day (under a private Xvfb)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-soak.XXXXXX")
Xvfb -displayfd 3 -screen 0 1366x768x24 -nolisten tcp 3>"$tmp/display" >"$tmp/xvfb.log" 2>&1 &
xvfb_pid=$!
cleanup() { kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT
for _ in $(seq 100); do [[ -s "$tmp/display" ]] && break; sleep 0.1; done
display=$(head -n1 "$tmp/display" || true)
if [[ -z "$display" ]]; then echo "Xvfb did not start:" >&2; cat "$tmp/xvfb.log" >&2; exit 1; fi
export DISPLAY=":$display"
echo "Xvfb on $DISPLAY; $(nproc) CPUs: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-); load $(cut -d' ' -f1-3 /proc/loadavg)"
cd ui
TMPDIR="$tmp" NO_AT_BRIDGE=1 FRONTDESK_APP_BIN="$app" FRONTDESK_CENTRAL_BIN="$central" FRONTDESK_FLOOR_BIN="$floor" \
  node e2e/soak.mjs "$@"
echo "report: $root/ui/e2e/artifacts/ (soak-*.md, soak-*.jsonl)"
