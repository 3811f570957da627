#!/usr/bin/env bash
# Runs every check and test of Frontdesk: formatting, lints, unit, property, integration and
# end-to-end tests (real platform processes on SQLite and on PostgreSQL, fault injection,
# printing read back with real tools), then the desktop app's type-check, unit tests and end-to-end tests in the real window.
# Installs what is missing first. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/frontdesk-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Test replicas keep their keys in files beside them, never in a developer's keychain.
export FRONTDESK_KEYCHAIN=off
# A CI run builds a fresh clone each time: incremental caches would only grow the shared
# target directory (by gigabytes) without being reused.
if [[ -n "${CI:-}" ]]; then export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"; fi
step() { printf '\n== %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

bash scripts/install-deps.sh

# The app's build script embeds the built UI; build it first so every cargo step sees it.
step "ui dependencies and build"
lock_hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
if [[ ! -f ui/node_modules/.frontdesk-lock || "$(cat ui/node_modules/.frontdesk-lock)" != "$lock_hash" ]]; then
  (cd ui && npm ci --no-audit --no-fund)
  echo "$lock_hash" > ui/node_modules/.frontdesk-lock
fi
(cd ui && npx vite build --logLevel warn)

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test (with a throw-away PostgreSQL cluster for the PostgreSQL back-end)"
bash scripts/with-postgres.sh cargo test --workspace --locked --no-fail-fast
step "desktop app"
bash scripts/test-app.sh
