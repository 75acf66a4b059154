#!/bin/sh
# make dek: deken packages (zip files named as deken expects: LIBNAME[vVERSION](ARCH).dek)
#   out/dek/acids[v<version>](Linux-amd64-32).dek   this machine's build (make)
#   out/dek/acids[v<version>](Linux-arm64-32).dek   the cross build (make PLATFORM=aarch64-linux-gnu)
#   out/dek/acids[v<version>](Sources).dek          the source tree
# each with a .sha256 beside it. Each binary package holds one folder acids/: the externals,
# libacids.so, the help patches, the Pi launcher (acids-pi.sh, acids-pi.service,
# acids-pi-live.pd), README.md, LICENSE and models/ — what `make install` puts in place.
# libtorch is not in them: the target needs Debian's libtorch1.13, libopenblas0-serial and
# libfftw3 (README). An architecture whose build is missing is left out with a note.
#   sh tests/pi/dek.sh [OUTDIR]      (ACIDS_VERSION=... sets the version, default 0.1.0)
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
OUT=${1:-$ROOT/out/dek}
VERSION=${ACIDS_VERSION:-0.1.0}
PY=${ACIDS_PYTHON:-/usr/bin/python3}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

pack() { # pack STAGE ARCH: STAGE/acids -> OUT/acids[vVERSION](ARCH).dek
    dek="$OUT/acids[v$VERSION]($2).dek"
    rm -f "$dek"
    (cd "$1" && "$PY" -m zipfile -c "$dek" acids)
    (cd "$OUT" && sha256sum "$(basename "$dek")" >"$(basename "$dek").sha256")
    echo "dek: $dek ($(du -k "$dek" | cut -f1) kB)"
}

# models/ is installed as a flat folder: python's byte-code cache (from the model scripts and
# the test references that import them) is no part of it
rm -rf models/__pycache__
if [ -e rave~.pd_linux ] && [ -e libacids.so ]; then
    make -s install objectsdir="$TMP/amd64" >"$TMP/amd64.log" 2>&1 ||
        { cat "$TMP/amd64.log" >&2; exit 1; }
    pack "$TMP/amd64" Linux-amd64-32
else
    echo "dek: no native build (make): Linux-amd64-32 left out" >&2
fi
if [ -e build/arm64/rave~.pd_linux ]; then
    make -s PLATFORM=aarch64-linux-gnu install objectsdir="$TMP/arm64" >"$TMP/arm64.log" 2>&1 ||
        { cat "$TMP/arm64.log" >&2; exit 1; }
    pack "$TMP/arm64" Linux-arm64-32
else
    echo "dek: no arm64 build (make PLATFORM=aarch64-linux-gnu): Linux-arm64-32 left out" >&2
fi
# Sources: what git tracks or would track (.gitignore applies), else everything but products.
mkdir -p "$TMP/src/acids"
if git rev-parse --git-dir >/dev/null 2>&1; then
    git ls-files -co --exclude-standard
else
    find . -path ./build -prune -o -path ./out -prune -o -path ./.git -prune -o -type f -print |
        sed 's|^\./||' | grep -vE '\.(o|so|pd_linux|l_arm64)$'
fi | while IFS= read -r f; do
    [ -f "$f" ] || continue
    mkdir -p "$TMP/src/acids/$(dirname "$f")"
    cp -p "$f" "$TMP/src/acids/$f"
done
pack "$TMP/src" Sources
