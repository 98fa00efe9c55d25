#!/usr/bin/env bash
# scripts/deps.sh - install the Debian packages packr needs (Debian 12).
# Idempotent: installs only what `dpkg -s` reports missing, and runs
# `apt-get update` once, only if something has to be installed.
# Runs as root, or through sudo when not root.
set -euo pipefail

PACKAGES=(
    clang lld wasi-libc libclang-rt-14-dev-wasm32   # guest/build.sh: C -> wasm32
    valgrind                                        # leak checks of the C examples/tests
    pkg-config cmake g++ libgtest-dev               # C/C++ tests
)

missing=()
for pkg in "${PACKAGES[@]}"; do
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing+=("$pkg")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps.sh: all ${#PACKAGES[@]} packages already installed"
    exit 0
fi

SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then
        SUDO=(sudo)
    else
        echo "deps.sh: not root and no sudo; please install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "deps.sh: installing ${missing[*]}"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"
