#!/usr/bin/env bash
# Install the offline speech engines of M5SER (Debian bookworm, run as root).
# Idempotent: re-running only installs what is missing.
#   - adds Debian's contrib/non-free components for bookworm (MBROLA voices, SVOX Pico,
#     RHVoice are non-free: their licences are recorded per voice in manifests/voices/)
#   - installs mbrola + voices, libttspico-utils, rhvoice + voices, festival + voices
#   - installs the engines' Python packages into the project venv (PYTHON, default .venv)
set -euo pipefail

PYTHON="${PYTHON:-$(dirname "$0")/../.venv/bin/python}"
SOURCES=/etc/apt/sources.list.d/m5ser-nonfree.sources

if ! grep -rqsE '^(Components:.*non-free( |$)|deb .* bookworm .*non-free( |$))' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    # Reuse the machine's own Debian mirror (its first URIs line), adding contrib + non-free.
    mirror=$(grep -hm1 '^URIs:' /etc/apt/sources.list.d/debian.sources 2>/dev/null | awk '{print $2}')
    [ -n "$mirror" ] || mirror=$(grep -hm1 '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}')
    [ -n "$mirror" ] || { echo "install-engines: cannot find the Debian mirror in /etc/apt" >&2; exit 1; }
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: contrib non-free\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" "$codename" "$codename" > "$SOURCES"
fi

APT_PACKAGES=(
    espeak-ng sox
    mbrola
    mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1
    mbrola-de1 mbrola-de2 mbrola-de3 mbrola-de4 mbrola-de5 mbrola-de6 mbrola-de7
    mbrola-fr1 mbrola-fr2 mbrola-fr3 mbrola-fr4 mbrola-fr6
    mbrola-es1 mbrola-es2 mbrola-es3 mbrola-es4
    mbrola-it1 mbrola-it2 mbrola-it3 mbrola-it4
    libttspico-utils
    rhvoice rhvoice-russian rhvoice-english
    festival festvox-kallpc16k festvox-rablpc16k festvox-italp16k festvox-itapc16k festvox-ru
    festvox-ellpc11k
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# Python side (PyPI): the engines' wheels, pinned to the versions tested here. The torch
# constraint keeps pip from replacing the venv's torch.
if [ -x "$PYTHON" ]; then
    pin=()
    if torch_version=$("$PYTHON" -c 'import torch; print(torch.__version__.split("+")[0])' 2>/dev/null); then
        pin=("torch==$torch_version")
    fi
    "$PYTHON" -m pip install --quiet "${pin[@]}" -r "$(dirname "$0")/engines-requirements.txt"
else
    echo "install-engines: no Python at $PYTHON; set PYTHON=... to install the engines' Python packages" >&2
fi
