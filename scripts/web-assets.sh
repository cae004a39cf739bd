#!/usr/bin/env bash
# Vendors the web front end's npm packages (pinned below with their sha512):
#   swagger-ui-dist → dms/web/static/swagger-ui/   (the API docs page /api/docs)
#   pdfjs-dist      → dms/web/static/vendor/pdfjs/ (the web client's PDF preview)
# `npm pack` fetches each package tarball into a cache outside the checkout
# (~/.cache/kundenakte/npm, override: KUNDENAKTE_CACHE), its sha512 is checked against the pin,
# and only the files the pages load (plus the licences) are copied into the package folders,
# which are .gitignored: built, never committed. Idempotent; with the folders in place it only
# reads one small file per package, with the tarballs cached it needs no network and no npm.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${KUNDENAKTE_CACHE:-$HOME/.cache/kundenakte}/npm"

# The npm "integrity" of a file: sha512 in base64 (python3 here, node in the Dockerfile's build stage).
integrity() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import base64, hashlib, sys; print("sha512-" + base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' "$1"
  else
    node -e 'console.log("sha512-" + require("crypto").createHash("sha512").update(require("fs").readFileSync(process.argv[1])).digest("base64"))' "$1"
  fi
}

ensure_npm() {
  command -v npm >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || { echo "npm is needed once for the web assets: apt-get install -y npm" >&2; exit 1; }
  echo "==> apt-get install npm (once, to fetch the web assets)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends npm >/dev/null
}

# vendor NAME VERSION INTEGRITY DEST PATH... : copies each package/PATH (a file or a folder inside the
# tarball) into DEST under the same relative path, minus a leading build/. DEST/.version records the
# version and the list, so a changed pin or list copies again.
vendor() {
  local name="$1" version="$2" sha="$3" dest="$4"
  shift 4
  local files=("$@")
  local stamp="$dest/.version" want="$version ${files[*]}"
  if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    return 0
  fi
  local tarball="$CACHE/$name-$version.tgz"
  if [ ! -s "$tarball" ] || [ "$(integrity "$tarball")" != "$sha" ]; then
    ensure_npm
    echo "==> npm pack $name@$version into $CACHE"
    mkdir -p "$CACHE"
    rm -f "$tarball"
    (cd "$CACHE" && npm pack --silent --cache "$CACHE/npm-cache" "$name@$version" >/dev/null)
    local got
    got="$(integrity "$tarball")"
    if [ "$got" != "$sha" ]; then
      echo "$name $version: integrity $got, expected $sha" >&2
      rm -f "$tarball"
      exit 1
    fi
  fi
  local tmp
  tmp="$(mktemp -d)"
  tar -xzf "$tarball" -C "$tmp" "${files[@]/#/package/}"
  rm -rf "$dest"
  mkdir -p "$dest"
  local path rel
  for path in "${files[@]}"; do
    rel="${path#build/}"
    mkdir -p "$(dirname "$dest/$rel")"
    cp -R "$tmp/package/$path" "$dest/$rel"
  done
  rm -rf "$tmp"
  echo "$want" > "$stamp"
  echo "==> $name $version in $dest"
}

# Swagger UI for /api/docs: the bundle and its stylesheet.
vendor swagger-ui-dist 5.35.0 \
  "sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ==" \
  dms/web/static/swagger-ui \
  swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE

# pdf.js for the preview pane (dms/web/static/ui/js/preview.js): the library and its worker as ES modules;
# the standard fonts (PDFs that do not embed Helvetica/Times/Courier), the JBIG2 and JPEG 2000 image
# decoders (copier scans) with their no-WebAssembly fallbacks, the colour-management module and its
# profile. Not copied: CJK CMaps, the scripting engine (scripting stays off), the viewer app, source maps.
vendor pdfjs-dist 6.5.438 \
  "sha512-vg8Pw1x+AFKy4AMDvhuWl5cOYV8d698UoEANoFFhc79hqXDnZQqnOXoxw3HG907WHOg1JYOvLhP756boddFxpA==" \
  dms/web/static/vendor/pdfjs \
  LICENSE build/pdf.min.mjs build/pdf.worker.min.mjs standard_fonts iccs \
  wasm/jbig2.wasm wasm/jbig2_nowasm_fallback.js wasm/LICENSE_JBIG2 wasm/LICENSE_PDFJS_JBIG2 \
  wasm/openjpeg.wasm wasm/openjpeg_nowasm_fallback.js wasm/LICENSE_OPENJPEG wasm/LICENSE_PDFJS_OPENJPEG \
  wasm/qcms_bg.wasm wasm/LICENSE_QCMS wasm/LICENSE_PDFJS_QCMS
