#!/usr/bin/env bash
# Runs Frontdesk with its demo clinic. Installs what is missing first. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/frontdesk-target}"

bash scripts/install-deps.sh
cargo build --release --locked -p frontdesk-desk
bin="$CARGO_TARGET_DIR/release/frontdesk"
data="${FRONTDESK_DATA_DIR:-$PWD/.frontdesk-demo}"

"$bin" --data-dir "$data" init --demo
"$bin" --data-dir "$data" board
cat <<EOT

The demo desk is ready in $data. Try:
  $bin --data-dir $data patients search zs
  $bin --data-dir $data book --document <ID number> --department NK
  $bin --data-dir $data checkin <ticket code>
  $bin --data-dir $data status
EOT
