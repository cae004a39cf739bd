#!/usr/bin/env bash
# Install what is missing and start Kundenakte on embedded defaults (no servers needed).
# Data goes to $DMS_DATA_DIR (default ./data); port from $DMS_PORT (default 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh run
export DMS_DATA_DIR="${DMS_DATA_DIR:-$PWD/data}"
exec .venv/bin/dms serve --host "${DMS_HOST:-127.0.0.1}" --port "${DMS_PORT:-8000}"
