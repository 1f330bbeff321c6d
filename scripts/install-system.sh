#!/usr/bin/env bash
# Install the Debian packages M5SER needs, only those that are missing. Idempotent.
set -euo pipefail
packages=(espeak-ng ffmpeg libsndfile1 libflac12 apertium apertium-eng-spa apertium-fr-es apertium-spa-ita)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
