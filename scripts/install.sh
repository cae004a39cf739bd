#!/usr/bin/env bash
# Installs what Kundenakte needs on Debian (run as root): system packages and a Python
# virtualenv in .venv with the project. Idempotent and cheap when everything is there.
#   scripts/install.sh          runtime only (embedded defaults)
#   scripts/install.sh scale    runtime + clients of the scale-out servers
#   scripts/install.sh test     runtime + scale-out clients + test tools
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

apt_packages=(tesseract-ocr tesseract-ocr-deu tesseract-ocr-eng libmagic1 ca-certificates)
command -v python3 >/dev/null 2>&1 || apt_packages+=(python3)
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_packages+=(python3-venv)

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "==> apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  python3 -m venv .venv
fi
# Pinned sets from requirements/ (refresh: bash scripts/lock.sh); wheels are cached outside the
# checkout (~/.cache/kundenakte/uv), so a fresh .venv installs in seconds.
case "$mode" in
  run) extras="" ;;
  scale) extras="[scale]" ;;
  test) extras="[scale,test]" ;;
  *) echo "usage: scripts/install.sh [run|scale|test]" >&2; exit 2 ;;
esac
lock="requirements/${mode}.txt"
hash="$(cat pyproject.toml "$lock" | sha256sum | cut -c1-16)"
stamp=".venv/.installed-${hash}-${mode}"
if [ ! -f "$stamp" ]; then
  uv="$(bash scripts/uv.sh)"
  export UV_CACHE_DIR="${UV_CACHE_DIR:-${KUNDENAKTE_CACHE:-$HOME/.cache/kundenakte}/uv}"
  echo "==> installing .${extras} pinned by ${lock}"
  "$uv" pip install --quiet --python .venv/bin/python -c "$lock" -e ".${extras}"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
# The web assets from npm (Swagger UI for the API docs page, pdf.js for the web client's preview),
# copied into .gitignored package folders.
bash scripts/web-assets.sh
echo "==> installed ($(.venv/bin/python --version), tesseract $(tesseract --version 2>&1 | head -n1 | cut -d' ' -f2))"
