#!/usr/bin/env bash
# Prints the path of a pinned `uv` (the fast pip replacement), installing it once into a cache
# outside the checkout (~/.cache/kundenakte/tools, override: KUNDENAKTE_CACHE).
# uv comes from PyPI as a wheel with its binary; it only installs our locked requirements.
set -euo pipefail
UV_VERSION=0.13.9
CACHE="${KUNDENAKTE_CACHE:-$HOME/.cache/kundenakte}"
tool="$CACHE/tools/uv-$UV_VERSION"
if [ ! -x "$tool/bin/uv" ]; then
  echo "==> installing uv $UV_VERSION into $tool" >&2
  rm -rf "$tool.tmp"
  python3 -m venv "$tool.tmp" >&2
  "$tool.tmp/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION" >&2
  rm -rf "$tool"
  mv "$tool.tmp" "$tool"
  # the venv's scripts carry the temporary path in their shebang; the uv binary itself does not
fi
echo "$tool/bin/uv"
