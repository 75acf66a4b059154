#!/bin/sh
# The deken packages (tests/pi/dek.sh) and the Pi launcher, natively (amd64): the packages are
# made into a scratch folder, their contents checked (the arm64 one holds aarch64 binaries),
# the amd64 one is unpacked into a fresh user externals folder that Pd searches without
# preferences (~/.local/lib/pd/extra, HOME pointing to scratch) and headless Pd loads rave~
# from it by [declare -path acids] and by [declare -lib acids/rave~]; then the installed
# acids-pi.sh runs its live patch headless.
# TAP lines; exits 1 on failure. Runs from tests/run.sh or alone.
set -u
. "$(dirname "$0")/../lib.sh"
T=$ACIDS_TMP/pkg
rm -rf "$T"
mkdir -p "$T"
V=0.1.0

# --- 1. the packages ---
if ACIDS_VERSION=$V sh "$ROOT/tests/pi/dek.sh" "$T/dek" >"$T/dek.log" 2>&1; then
    ok "dek: packages made ($(grep -c '^dek: /' "$T/dek.log"))"
else
    notok "dek: tests/pi/dek.sh failed: $(tail -3 "$T/dek.log" | tr '\n' ' ')"
fi
AMD="$T/dek/acids[v$V](Linux-amd64-32).dek"
ARM="$T/dek/acids[v$V](Linux-arm64-32).dek"
SRC="$T/dek/acids[v$V](Sources).dek"
# list DEK: the member names
list() { "$PY" -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$1"; }
for dek in "$AMD" "$ARM"; do
    name=$(basename "$dek")
    if [ ! -s "$dek" ]; then
        case $dek in *arm64*) [ -e "$ROOT/build/arm64/rave~.pd_linux" ] || {
            ok "dek: $name # SKIP no arm64 build (no arm64 sysroot)"; continue; } ;; esac
        notok "dek: $name was made"
        continue
    fi
    members=$(list "$dek")
    missing=
    for m in acids/rave~.pd_linux acids/libacids.so acids/rave~-help.pd acids/models/rave_demo.ts \
        acids/acids-pi.sh acids/acids-pi.service acids/acids-pi-live.pd acids/LICENSE acids/README.md; do
        printf '%s\n' "$members" | grep -qxF "$m" || missing="$missing $m"
    done
    [ -z "$missing" ] && ok "dek: $name holds the externals, libacids.so, help, launcher, models" ||
        notok "dek: $name lacks$missing"
    (cd "$T/dek" && sha256sum -c --quiet "$name.sha256") >/dev/null 2>&1 &&
        ok "dek: $name.sha256 matches" || notok "dek: $name.sha256 does not match"
done
if [ -s "$SRC" ]; then
    members=$(list "$SRC")
    printf '%s\n' "$members" | grep -qxF acids/src/core/engine.c &&
        printf '%s\n' "$members" | grep -qxF acids/Makefile &&
        ! printf '%s\n' "$members" | grep -qE '\.(o|so|pd_linux)$' &&
        ok "dek: Sources package holds the sources, no build products" ||
        notok "dek: Sources package contents are wrong"
else
    notok "dek: the Sources package was made"
fi
# the binaries' architectures
arch_of() { # DEK: the architecture `file` reports for acids/rave~.pd_linux
    rm -rf "$T/x" && mkdir -p "$T/x" && "$PY" -m zipfile -e "$1" "$T/x" && file -b "$T/x/acids/rave~.pd_linux"
}
[ -s "$AMD" ] && case $(arch_of "$AMD") in *x86-64*) ok "dek: amd64 package holds x86-64 binaries" ;;
    *) notok "dek: amd64 package: $(arch_of "$AMD")" ;; esac
[ -s "$ARM" ] && case $(arch_of "$ARM") in *aarch64*) ok "dek: arm64 package holds aarch64 binaries" ;;
    *) notok "dek: arm64 package: $(arch_of "$ARM")" ;; esac

# --- 2. installed into a Pd externals folder, loaded by [declare] in headless Pd ---
H=$T/home
EXT=$H/.local/lib/pd/extra
mkdir -p "$EXT" "$T/patches"
"$PY" -m zipfile -e "$AMD" "$EXT" 2>"$T/unzip.log" || notok "dek: unpack: $(cat "$T/unzip.log")"
declare_test() { # NAME DECLARE: a patch elsewhere that declares acids, creates rave~, quits
    cat >"$T/patches/$1.pd" <<PATCH
#N canvas 0 0 400 300 10;
#X declare $2;
#X obj 10 10 declare $2;
#X obj 10 40 osc~ 220;
#X obj 10 70 rave~ rave_demo;
#X obj 10 100 env~;
#X obj 10 130 print level;
#X obj 200 10 loadbang;
#X msg 200 40 \; pd dsp 1;
#X obj 200 70 delay 500;
#X obj 200 100 t b b;
#X obj 200 130 print END;
#X msg 200 160 \; pd quit 0;
#X connect 1 0 2 0;
#X connect 2 0 3 0;
#X connect 3 0 4 0;
#X connect 5 0 6 0;
#X connect 5 0 7 0;
#X connect 7 0 8 0;
#X connect 8 1 9 0;
#X connect 8 0 10 0;
PATCH
    HOME=$H timeout 60 pd -nogui -batch -nosound -nrt -open "$T/patches/$1.pd" >"$T/$1.log" 2>&1
    code=$?
    if [ "$code" -eq 0 ] && grep -q '^END: bang' "$T/$1.log" &&
        grep -qE "rave~: $H/.*/acids/models/rave_demo.ts loaded" "$T/$1.log" &&
        ! grep -qiE "error|couldn't" "$T/$1.log"; then
        ok "installed package: [declare $2] finds rave~ and its model in $(basename "$EXT")/acids"
    else
        notok "installed package: [declare $2]: exit $code: $(grep -iE "error|couldn't|rave~" "$T/$1.log" | head -3 | tr '\n' ' ')"
    fi
}
declare_test declare_path "-path acids"
declare_test declare_lib "-lib acids/rave~"

# --- 3. the launcher: headless, the live patch opened, DSP on (no audio device here) ---
cat >"$T/patches/dsp_on.pd" <<'PATCH'
#N canvas 0 0 400 300 10;
#X obj 10 10 sig~ 1;
#X obj 10 40 snapshot~;
#X obj 10 70 print dsp;
#X obj 200 10 loadbang;
#X obj 200 40 delay 300;
#X obj 200 70 t b b;
#X msg 200 100 \; pd quit 0;
#X connect 0 0 1 0;
#X connect 1 0 2 0;
#X connect 3 0 4 0;
#X connect 4 0 5 0;
#X connect 5 1 1 0;
#X connect 5 0 6 0;
PATCH
ACIDS_AUDIO=none ACIDS_RT=0 ACIDS_PD_FLAGS="-batch -open $T/patches/dsp_on.pd" timeout 60 \
    sh "$EXT/acids/acids-pi.sh" >"$T/launcher.log" 2>&1
code=$?
if [ "$code" -eq 0 ] && grep -q '^dsp: 1' "$T/launcher.log" &&
    grep -qE "rave~: $H/.*/acids/models/rave_demo.ts loaded" "$T/launcher.log" &&
    ! grep -qiE "error|couldn't" "$T/launcher.log"; then
    ok "launcher: acids-pi.sh opens acids-pi-live.pd headless with DSP on, rave_demo loaded"
else
    notok "launcher: exit $code: $(head -5 "$T/launcher.log" | tr '\n' ' ')"
fi
[ "$failures" -eq 0 ]
