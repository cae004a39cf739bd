#!/usr/bin/env bash
# Installs what Kundenakte needs on Debian (run as root): system packages and a Python
# virtualenv in .venv with the project. Idempotent and cheap when everything is there.
#   scripts/install.sh          runtime only
#   scripts/install.sh test     runtime + test and scale-out dependencies
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
extras=""
[ "$mode" = "test" ] && extras="[scale,test]"
hash="$(sha256sum pyproject.toml | cut -c1-16)"
stamp=".venv/.installed-${hash}-${mode}"
# a test install includes everything a run install has
if [ ! -f "$stamp" ] && ! { [ "$mode" = "run" ] && [ -f ".venv/.installed-${hash}-test" ]; }; then
  echo "==> pip install -e .${extras}"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".${extras}"
  touch "$stamp"
fi
echo "==> installed ($(.venv/bin/python --version), tesseract $(tesseract --version 2>&1 | head -n1 | cut -d' ' -f2))"
