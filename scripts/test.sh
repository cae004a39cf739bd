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
# Test files run in parallel worker processes (pytest-xdist; each file stays in one worker, in
# order): most tests wait on real servers and OCR, so 3 workers fit this 2-core machine.
# DMS_TEST_WORKERS=0 runs everything in this one process.
workers="${DMS_TEST_WORKERS:-3}"
.venv/bin/python -m pytest -p no:cacheprovider -n "$workers" --dist loadfile --durations=25 "$@" || status=$?
echo "==> test command finished in $(( $(date +%s) - started )) s (exit $status)"
exit $status
