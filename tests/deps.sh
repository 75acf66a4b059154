#!/bin/sh
# Installs the Debian 12 packages acids needs that are missing (with sudo when not root),
# make included, so `sh tests/deps.sh && make ...` works on a fresh machine.
set -e
PACKAGES="make gcc g++ puredata-core puredata-extra puredata-dev libtorch-dev libsndfile1-dev libfftw3-dev \
libopenblas0-serial python3-torch python3-numpy python3-scipy python3-soundfile \
fluidsynth fluid-soundfont-gm"
missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=
    [ "$(id -u)" = 0 ] || SUDO=sudo
    echo "acids: installing$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
fi
# libtorch's convolutions run 8x slower on the reference BLAS (REFERENCE.md §3): OpenBLAS
# takes over through Debian's alternatives unless someone pinned another one.
blas=$(readlink -f /usr/lib/$(gcc -dumpmachine)/libblas.so.3 2>/dev/null || true)
case "$blas" in
*openblas*) ;;
*) echo "acids: warning: libblas.so.3 is $blas, not OpenBLAS: models will run slowly" \
    "(sudo update-alternatives --config libblas.so.3-$(gcc -dumpmachine))" ;;
esac
# --- Raspberry Pi (issue 6): cross compilers, qemu-user and the arm64 sysroot for
# `make PLATFORM=aarch64-linux-gnu` and tests/pi/ (tests/pi/sysroot.sh; ACIDS_ARM64=0 skips it).
# When it cannot be set up, the arm64 build is left out and its tests say SKIP.
if [ "${ACIDS_ARM64:-1}" != 0 ]; then
    sh "$(dirname "$0")/pi/sysroot.sh" >/dev/null ||
        echo "acids: warning: the arm64 cross build could not be set up: its tests will be skipped"
fi
# --- end Raspberry Pi
