#!/usr/bin/env bash
# Installs what Tessera needs on Debian 12 with Node.js 20: the FUSE 2 library and tools
# (fuse-native links against libfuse.so.2), the programs the mount tests run (git, sqlite3,
# python3) and the npm packages. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
missing=()
ldconfig -p | grep -q 'libfuse\.so\.2 ' || missing+=(libfuse2)
command -v fusermount >/dev/null 2>&1 || missing+=(fuse)
# Programs the FUSE integration tests run on the mount.
for program in git sqlite3 python3; do
  command -v "$program" >/dev/null 2>&1 || missing+=("$program")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund </dev/null
fi
