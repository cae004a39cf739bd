#!/usr/bin/env bash
# Install everything and run the whole test suite (lint + pytest). This is what CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/install.sh test
bash scripts/install-servers.sh
echo "==> ruff"
.venv/bin/ruff check .
echo "==> pytest"
status=0
.venv/bin/python -m pytest -p no:cacheprovider "$@" || status=$?
echo "==> test command finished in $(( $(date +%s) - started )) s (exit $status)"
exit $status
