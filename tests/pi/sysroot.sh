#!/bin/sh
# Sets up the arm64 (Raspberry Pi OS 64-bit / Debian 12 arm64) cross build and its emulation:
#   - on the host: Debian's cross compilers (gcc/g++-aarch64-linux-gnu) and qemu-user;
#   - an arm64 sysroot made of Debian 12's own arm64 packages (libtorch-dev, libsndfile1-dev,
#     libfftw3-dev, libopenblas0-serial, puredata-core and all they depend on), unpacked with
#     dpkg-deb -x.
# Why a sysroot and not `dpkg --add-architecture arm64` + apt-get install: libtorch-dev has no
# Multi-Arch field and puredata-core is not co-installable either, and apt's plan to install
# libtorch1.13:arm64 next to the amd64 one removes the amd64 libtorch (some of its 370
# dependencies are not Multi-Arch: same). So the arm64 packages are fetched by apt into a
# private state (its own package lists, empty dpkg status, APT::Architecture=arm64: the
# system's dpkg configuration is not touched) and unpacked into $ACIDS_ARM64_SYSROOT.
# Idempotent: does nothing when the sysroot is complete for the same package list.
#
# Where: /var/cache/acids-arm64 as root, ~/.cache/acids-arm64 otherwise (apt for the host
# packages then goes through sudo). About 200 MB of .debs, 1 GB unpacked. Outside the work
# tree on purpose: CI runs in a fresh clone and reuses it.
# Prints the sysroot path on its last line; `sh tests/pi/sysroot.sh --path` prints only that.
set -e
if [ "$(id -u)" = 0 ]; then
    SUDO=
    CACHE=${ACIDS_ARM64_CACHE:-/var/cache/acids-arm64}
else
    SUDO=sudo
    CACHE=${ACIDS_ARM64_CACHE:-$HOME/.cache/acids-arm64}
fi
SYSROOT=${ACIDS_ARM64_SYSROOT:-$CACHE/sysroot}
# --path: only print where the sysroot is (or would be), for the Makefile.
[ "${1:-}" != --path ] || { echo "$SYSROOT"; exit 0; }
HOST_PACKAGES="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user"
ARM64_PACKAGES="libtorch-dev libsndfile1-dev libfftw3-dev libopenblas0-serial puredata-core libc6-dev"

# --- the host side ---
missing=""
for p in $HOST_PACKAGES; do
    dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed' ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "acids: installing$missing" >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >&2
fi

# --- the arm64 sysroot ---
stamp="$SYSROOT/.acids-sysroot"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$ARM64_PACKAGES" ] &&
    [ -e "$SYSROOT/usr/lib/aarch64-linux-gnu/libtorch_cpu.so" ]; then
    echo "$SYSROOT"
    exit 0
fi
echo "acids: making the arm64 sysroot $SYSROOT ($ARM64_PACKAGES)" >&2
mkdir -p "$CACHE/lists/partial" "$CACHE/apt" "$CACHE/debs/partial"
: >"$CACHE/status"
apt_arm64() {
    apt-get -q -y -o Debug::NoLocking=1 -o APT::Architecture=arm64 -o APT::Architectures::=arm64 \
        -o Dir::State::Lists="$CACHE/lists" -o Dir::State::status="$CACHE/status" \
        -o Dir::Cache="$CACHE/apt" -o Dir::Cache::archives="$CACHE/debs" \
        -o APT::Sandbox::User="$(id -un)" "$@"
}
apt_arm64 update >&2
apt_arm64 --no-install-recommends --download-only install $ARM64_PACKAGES >&2
# The closure of those packages, as apt resolved it: unpack exactly those .debs.
apt_arm64 --no-install-recommends -s install $ARM64_PACKAGES |
    awk '/^Inst /{print $2}' >"$CACHE/closure"
rm -rf "$SYSROOT"
mkdir -p "$SYSROOT"
n=0
while read -r p; do
    deb=$(ls "$CACHE/debs/${p}_"*_arm64.deb "$CACHE/debs/${p}_"*_all.deb 2>/dev/null | tail -1)
    [ -n "$deb" ] || { echo "acids: $p was not downloaded" >&2; exit 1; }
    dpkg-deb -x "$deb" "$SYSROOT"
    n=$((n + 1))
done <"$CACHE/closure"
# What the packages' maintainer scripts would have made: the BLAS/LAPACK alternatives
# (OpenBLAS, as on the Pi with libopenblas0-serial installed).
lib="$SYSROOT/usr/lib/aarch64-linux-gnu"
for f in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    ln -sfn "openblas-serial/$f" "$lib/$f"
done
[ -e "$lib/libtorch_cpu.so" ] && [ -x "$SYSROOT/usr/lib/puredata/bin/pd" ] ||
    { echo "acids: the arm64 sysroot is incomplete" >&2; exit 1; }
echo "$ARM64_PACKAGES" >"$stamp"
echo "acids: arm64 sysroot ready: $n packages, $(du -sh "$SYSROOT" | cut -f1)" >&2
echo "$SYSROOT"
