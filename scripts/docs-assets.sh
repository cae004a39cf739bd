#!/usr/bin/env bash
# Vendors Swagger UI (npm package swagger-ui-dist, pinned below) for the API docs page /api/docs:
# `npm pack` fetches the package tarball into a cache outside the checkout
# (~/.cache/kundenakte/npm, override: KUNDENAKTE_CACHE), its sha512 is checked against the pin,
# and the two files the page loads (plus the licence) are copied into dms/web/static/swagger-ui/,
# which is .gitignored: built, never committed. Idempotent; with the folder in place it only
# reads one small file, with the tarball cached it needs no network and no npm.
set -euo pipefail
cd "$(dirname "$0")/.."

SWAGGER_UI_VERSION=5.35.0
SWAGGER_UI_INTEGRITY="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="
FILES=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE)

dest=dms/web/static/swagger-ui
stamp="$dest/.version"
if [ "$(cat "$stamp" 2>/dev/null)" = "$SWAGGER_UI_VERSION" ]; then
  exit 0
fi

CACHE="${KUNDENAKTE_CACHE:-$HOME/.cache/kundenakte}/npm"
tarball="$CACHE/swagger-ui-dist-$SWAGGER_UI_VERSION.tgz"
integrity() { python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"; }

if [ ! -s "$tarball" ] || [ "$(integrity "$tarball")" != "$SWAGGER_UI_INTEGRITY" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    [ "$(id -u)" = 0 ] || { echo "npm is needed once for the docs page: apt-get install -y npm" >&2; exit 1; }
    echo "==> apt-get install npm (once, to fetch swagger-ui-dist)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  echo "==> npm pack swagger-ui-dist@$SWAGGER_UI_VERSION into $CACHE"
  mkdir -p "$CACHE"
  rm -f "$tarball"
  (cd "$CACHE" && npm pack --silent --cache "$CACHE/npm-cache" "swagger-ui-dist@$SWAGGER_UI_VERSION" >/dev/null)
  got="$(integrity "$tarball")"
  if [ "$got" != "$SWAGGER_UI_INTEGRITY" ]; then
    echo "swagger-ui-dist $SWAGGER_UI_VERSION: integrity $got, expected $SWAGGER_UI_INTEGRITY" >&2
    rm -f "$tarball"
    exit 1
  fi
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tarball" -C "$tmp" "${FILES[@]/#/package/}"
rm -rf "$dest"
mkdir -p "$dest"
cp "${FILES[@]/#/$tmp/package/}" "$dest/"
echo "$SWAGGER_UI_VERSION" > "$stamp"
echo "==> Swagger UI $SWAGGER_UI_VERSION in $dest"
