#!/usr/bin/env bash
# Tests the desktop app: npm deps, TypeScript/Svelte type-check, the generated bindings are
# current, Vitest, the real app build (custom protocol), then end-to-end tests that drive the
# real binary through tauri-driver + WebKitWebDriver under a private Xvfb display.
# Needs the apt packages of scripts/apt-packages.txt (scripts/install-deps.sh), Rust and Node 20.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/frontdesk-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

step "npm ci (ui)"
lock_hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
if [[ -f ui/node_modules/.frontdesk-lock && "$(cat ui/node_modules/.frontdesk-lock)" == "$lock_hash" ]]; then
  echo "ui/node_modules matches package-lock.json"
else
  (cd ui && npm ci --no-audit --no-fund)
  echo "$lock_hash" > ui/node_modules/.frontdesk-lock
fi

step "tauri-driver"
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v tauri-driver >/dev/null; then
  cargo install tauri-driver --version '^2' --locked
fi
tauri-driver --help >/dev/null

step "bindings are current"
cargo test --locked -p frontdesk-app --lib bindings_are_exported -- --quiet
if git ls-files --error-unmatch ui/src/lib/bindings.ts >/dev/null 2>&1; then
  git diff --exit-code -- ui/src/lib/bindings.ts || {
    echo "ui/src/lib/bindings.ts is stale: commit the regenerated file" >&2
    exit 1
  }
else
  echo "note: ui/src/lib/bindings.ts is not committed yet"
fi

step "type-check (svelte-check, strict)"
(cd ui && npx svelte-check --tsconfig ./tsconfig.json --fail-on-warnings --output human)

step "vitest"
(cd ui && npx vitest run)

step "build the app (custom protocol)"
(cd ui && npx vite build --logLevel warn)
(cd src-tauri && ../ui/node_modules/.bin/tauri build --debug --no-bundle --ci)
app="$CARGO_TARGET_DIR/debug/frontdesk-app"
test -x "$app"
# The platform the sync end-to-end test enrolls with.
cargo build --locked -p frontdesk-central --bin frontdesk-central
central="$CARGO_TARGET_DIR/debug/frontdesk-central"
# The desk's CLI renders announcements to WAV files for the waiting-room test to compare.
cargo build --locked -p frontdesk-desk --bin frontdesk
cli="$CARGO_TARGET_DIR/debug/frontdesk"

step "end-to-end (tauri-driver + WebKitWebDriver under Xvfb)"
# Every desk of the run (replicas, printed PDFs, WebKit caches) lives under one temporary
# directory, removed at the end.
e2e_tmp=$(mktemp -d "${TMPDIR:-/tmp}/frontdesk-app-e2e.XXXXXX")
xvfb_log="$e2e_tmp/xvfb.log"
# -displayfd: Xvfb picks a free display number and writes it to fd 3.
Xvfb -displayfd 3 -screen 0 1366x768x24 -nolisten tcp 3>"$xvfb_log.display" >"$xvfb_log" 2>&1 &
xvfb_pid=$!
cleanup() { kill "$xvfb_pid" 2>/dev/null || true; wait "$xvfb_pid" 2>/dev/null || true; rm -rf "$e2e_tmp"; }
trap cleanup EXIT
for _ in $(seq 100); do [[ -s "$xvfb_log.display" ]] && break; sleep 0.1; done
display=$(head -n1 "$xvfb_log.display" || true)
if [[ -z "$display" ]]; then echo "Xvfb did not start:" >&2; cat "$xvfb_log" >&2; exit 1; fi
export DISPLAY=":$display"
echo "Xvfb on $DISPLAY"
rm -rf ui/e2e/artifacts
(cd ui && TMPDIR="$e2e_tmp" FRONTDESK_APP_BIN="$app" FRONTDESK_CENTRAL_BIN="$central" FRONTDESK_CLI_BIN="$cli" NO_AT_BRIDGE=1 node --test --test-concurrency=1 --test-reporter=spec e2e/*.e2e.mjs)
echo "screenshots: $root/ui/e2e/artifacts"
