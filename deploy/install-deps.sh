#!/usr/bin/env bash
# Installs what Tessera needs on Debian 12 with Node.js 20: the FUSE 2 library and tools
# (@tessera/fuse-native links against libfuse.so.2), a C toolchain for that addon, the programs
# the mount tests run (git, sqlite3, python3) and the npm packages, then builds the addon from
# source. Idempotent: a second run installs and builds nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
missing=()
# grep reads all of ldconfig's output: with -q it would exit early, and pipefail would see SIGPIPE.
ldconfig -p | grep 'libfuse\.so\.2 ' >/dev/null || missing+=(libfuse2)
command -v fusermount >/dev/null 2>&1 || missing+=(fuse)
# node-gyp's toolchain for packages/fuse-native.
command -v g++ >/dev/null 2>&1 || missing+=(g++)
command -v make >/dev/null 2>&1 || missing+=(make)
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

# packages/fuse-native (our fork of fuse-native, no prebuilt binary): npm does not run its build,
# so build it here with npm's own node-gyp and the installed Node headers (no download), when the
# addon is missing or older than its sources.
addon_dir=packages/fuse-native
addon="$addon_dir/build/Release/fuse.node"
stale=0
[ -f "$addon" ] || stale=1
for source in "$addon_dir/fuse-native.c" "$addon_dir/binding.gyp"; do
  if [ "$source" -nt "$addon" ]; then stale=1; fi
done
if [ "$stale" = 1 ]; then
  node_gyp="$(npm prefix -g)/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js"
  node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  if [ ! -f "$node_gyp" ]; then
    echo "install-deps: npm's node-gyp not found at $node_gyp" >&2
    exit 1
  fi
  if [ ! -f "$node_prefix/include/node/node_api.h" ]; then
    echo "install-deps: Node's headers not found in $node_prefix/include/node" >&2
    exit 1
  fi
  echo "install-deps: building $addon"
  (cd "$addon_dir" && node "$node_gyp" rebuild --nodedir="$node_prefix" --loglevel=warn </dev/null)
fi
