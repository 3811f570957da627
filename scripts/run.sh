#!/usr/bin/env bash
# Runs Frontdesk with its demo clinic: the central platform on embedded SQLite with demo data,
# and the desktop app enrolled to it. Installs what is missing first. Safe to run again: the
# platform's database and the desk's replica are kept in .frontdesk-demo/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/frontdesk-target}"
port="${FRONTDESK_PORT:-8787}"
data="${FRONTDESK_DEMO_DIR:-$root/.frontdesk-demo}"
mkdir -p "$data"

bash scripts/install-deps.sh
echo "== building (the first build takes a while)"
cargo build --release --locked -p frontdesk-central -p frontdesk-desk
lock_hash=$(sha256sum ui/package-lock.json | cut -d' ' -f1)
if [[ ! -f ui/node_modules/.frontdesk-lock || "$(cat ui/node_modules/.frontdesk-lock)" != "$lock_hash" ]]; then
  (cd ui && npm ci --no-audit --no-fund)
  echo "$lock_hash" > ui/node_modules/.frontdesk-lock
fi
(cd ui && npx vite build --logLevel warn)
(cd src-tauri && ../ui/node_modules/.bin/tauri build --no-bundle --ci)
bin="$CARGO_TARGET_DIR/release"

echo "== starting the platform on http://127.0.0.1:$port"
"$bin/frontdesk-central" --db "$data/central.db" serve --demo --demo-leases --simulate-online 6 \
  --listen "127.0.0.1:$port" --admin-token-file "$data/admin-token" --plain-logs \
  >"$data/central.out" 2>"$data/central.log" &
central=$!
trap 'kill $central 2>/dev/null || true; wait $central 2>/dev/null || true' EXIT
for _ in $(seq 150); do grep -q '^listening on ' "$data/central.out" 2>/dev/null && break; sleep 0.2; done
if ! grep -q '^listening on ' "$data/central.out"; then
  echo "the platform did not start:" >&2; cat "$data/central.log" >&2; exit 1
fi
url="http://127.0.0.1:$port"
code=$(sed -n 's/.*enrollment code \([^ ]*\).*/\1/p' "$data/central.out" | head -n1)

desk=("$bin/frontdesk" --data-dir "$data/desk")
# The demo desk's admin (README: admin / admin123) moves it to this run's platform.
as_admin=(env FRONTDESK_STAFF=admin FRONTDESK_PASSWORD=admin123)
"${desk[@]}" init --demo-staff >/dev/null
if [[ "$("${desk[@]}" status --json | sed -n 's/.*"server": "\([^"]*\)".*/\1/p' | head -n1)" != "$url" ]]; then
  "${as_admin[@]}" "${desk[@]}" enroll --server "$url" --code "$code" --name "挂号窗口 1"
fi
"${desk[@]}" sync >/dev/null || true

if [[ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]]; then
  echo "== opening the desk app (close its window to stop)"
  FRONTDESK_DATA_DIR="$data/desk" "$bin/frontdesk-app"
else
  "${as_admin[@]}" "${desk[@]}" board
  cat <<EOT

No display here, so the desk app cannot open; the platform runs at $url with the demo clinic
(online bookings keep arriving), and this desk is enrolled to it:
  ${desk[*]} status
  ${desk[*]} sync
Press Ctrl-C to stop.
EOT
  wait "$central"
fi
