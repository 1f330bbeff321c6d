#!/usr/bin/env bash
# Install the XTTS-v2 hub backend's own environment, `.venv-xtts` in the repo root.
#
# coqui-tts (imports as `TTS`) needs torchaudio, and torchaudio wheels are pinned to one torch
# release (the newest, 2.11, has none for the main venv's torch 2.14.1), so XTTS runs in a
# worker process (`scripts/xtts_worker.py`) in this separate venv with torch 2.9.1. From torch
# 2.9 on, TTS also wants torchcodec for audio I/O, which loads Debian's ffmpeg libraries.
# On x86_64 PyPI's torch 2.9.1 is a CUDA build: several GB to download the first time.
#
# Idempotent: a stamp holding the pinned requirements skips everything when nothing changed.
# Environment: XTTS_VENV (default .venv-xtts), PYTHON (default python3) to create it with.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV="${XTTS_VENV:-.venv-xtts}"
PYTHON="${PYTHON:-python3}"
TORCH=(torch==2.9.1)
REQUIREMENTS=(
    "${TORCH[@]}"
    torchaudio==2.9.1
    torchcodec==0.9.1
    'coqui-tts[zh,ja]==0.28.0'  # zh: pypinyin + spacy-pkuseg, ja: cutlet + fugashi + unidic-lite
    six==1.17.0                 # imported by TTS.tts.utils.text.punctuation, not declared by coqui-tts 0.28.0
    transformers==5.23.0        # the release resolved and tested with coqui-tts 0.28.0
)
STAMP="$VENV/.stamp-xtts"
wanted=$(printf '%s\n' "${REQUIREMENTS[@]}")

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ] && "$VENV/bin/python" -c 'import TTS' 2>/dev/null; then
    exit 0
fi

start=$SECONDS
if ! dpkg-query -W -f='${Status}' ffmpeg 2>/dev/null | grep -q 'install ok installed'; then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ffmpeg
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# torch alone first, so that no later requirement can pull another build of it.
"$VENV/bin/python" -m pip install --quiet "${TORCH[@]}"
"$VENV/bin/python" -m pip install --quiet "${REQUIREMENTS[@]}"
"$VENV/bin/python" -c 'import TTS, torch, torchaudio; print("xtts venv: TTS", TTS.__version__, "torch", torch.__version__)'
printf '%s\n' "$wanted" > "$STAMP"
echo "install-xtts: $VENV ready in $((SECONDS - start)) s ($(du -sh "$VENV" | cut -f1))"
