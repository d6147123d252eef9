#!/usr/bin/env bash
# One command from a fresh clone to a running local cluster on loopback (3 meta members,
# 3 chunk servers) with the namespace mounted:
#   bash deploy/local-cluster.sh                        # data in ./.tessera, mounted at ./.tessera/mnt
#   TESSERA_DIR=/tmp/t TESSERA_MOUNT=/mnt/t bash deploy/local-cluster.sh
# Stop it (unmounts first) with: node packages/cli/bin/tessera.js down --dir .tessera
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${TESSERA_DIR:-.tessera}"
mountpoint="${TESSERA_MOUNT:-$dir/mnt}"
bash deploy/install-deps.sh
npm run build --silent
mkdir -p "$mountpoint"
exec node packages/cli/bin/tessera.js up --dir "$dir" --mount "$mountpoint" "$@"
