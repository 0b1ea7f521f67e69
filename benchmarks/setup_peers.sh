#!/usr/bin/env bash
# Installs the OCR engines that benchmarks/peers.py compares sparkhtr with. They are not
# dependencies of sparkhtr: this script is only for people who want to rerun the comparison.
#
#   Tesseract 5 (LSTM engine) with English data, from Debian/Ubuntu packages, and its Python
#   bindings (tesserocr links libtesseract directly, pytesseract only wraps the CLI);
#   RapidOCR (PP-OCR models run by onnxruntime; its wheel brings its default models).
#
# Usage: benchmarks/setup_peers.sh [PYTHON]   (default: .venv/bin/python)
# None of these pulls torch; sparkhtr's own torch stays untouched.
set -euo pipefail

PYTHON="${1:-.venv/bin/python}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

if command -v apt-get >/dev/null 2>&1; then
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends \
        tesseract-ocr tesseract-ocr-eng tesseract-ocr-fra libtesseract-dev libleptonica-dev pkg-config
else
    echo "apt-get not found: install tesseract-ocr (with English data) with your package manager" >&2
fi

"$PYTHON" -m pip install onnxruntime rapidocr pytesseract
# tesserocr builds against libtesseract; when it cannot, peers.py falls back to pytesseract / the CLI.
"$PYTHON" -m pip install tesserocr || echo "tesserocr did not install; peers.py will call the tesseract CLI" >&2
