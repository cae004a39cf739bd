#!/usr/bin/env bash
# Refresh the pinned requirement sets in requirements/ from pyproject.toml:
#   requirements/test.txt   runtime + scale-out clients + test tools (what the test command installs)
#   requirements/scale.txt  runtime + scale-out clients (production with servers)
#   requirements/run.txt    runtime only (embedded defaults, `scripts/serve.sh`)
# test.txt is resolved first and the smaller sets are resolved within it, so a package has the
# same version in every set. Resolution is universal (markers instead of this machine's
# platform) from Python 3.11 on. Run after changing dependencies in pyproject.toml:
#   bash scripts/lock.sh            (add --upgrade to move every pin to the newest release)
set -euo pipefail
cd "$(dirname "$0")/.."
uv="$(bash scripts/uv.sh)"
common=(--quiet --universal --python-version 3.11 --no-header --annotation-style line "$@")
export UV_CUSTOM_COMPILE_COMMAND="bash scripts/lock.sh"
"$uv" pip compile pyproject.toml --extra scale --extra test "${common[@]}" -o requirements/test.txt
"$uv" pip compile pyproject.toml --extra scale -c requirements/test.txt "${common[@]}" -o requirements/scale.txt
"$uv" pip compile pyproject.toml -c requirements/test.txt "${common[@]}" -o requirements/run.txt
wc -l requirements/*.txt
