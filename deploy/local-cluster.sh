#!/usr/bin/env bash
# One command from a fresh clone to a running local cluster on loopback:
#   bash deploy/local-cluster.sh            # data in ./.tessera
#   TESSERA_DIR=/tmp/t bash deploy/local-cluster.sh --metas 5
# Stop it with: npx tessera down --dir .tessera
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
npm run build --silent
exec node packages/cli/bin/tessera.js up --dir "${TESSERA_DIR:-.tessera}" "$@"
