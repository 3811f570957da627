#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine with Rust and Node lacks for building and testing
# Frontdesk. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

want=()
while read -r pkg; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || want+=("$pkg")
done < scripts/apt-packages.txt

if ((${#want[@]})); then
  echo "Installing system packages: ${want[*]}"
  if [[ $(id -u) -eq 0 ]]; then sudo=(); elif command -v sudo >/dev/null; then sudo=(sudo); else
    echo "Need root (or sudo) to install: ${want[*]}" >&2; exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  # dpkg sometimes fails once on an archive error; a second try succeeds.
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}" \
    || "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${want[@]}"
fi

if ! command -v cargo >/dev/null; then
  echo "Rust (cargo) is required: https://rustup.rs" >&2; exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt 2>/dev/null || true
