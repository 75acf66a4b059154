#!/bin/sh
# valgrind memcheck over headless Pd (-batch) running each help patch (help-patches/*-help.pd):
# a driver opens it, runs DSP for 1 s of logical time, closes it (its objects are freed) and
# quits. Fails on any error, or definite leak, whose stack has a frame in our code (our
# binaries, libacids.so and *.pd_linux, or a file under src/); the other reports (libtorch,
# its cpuinfo, the dynamic loader, Pd's own GUI objects) are counted in a comment.
# acids-demo.pd is left out: it is the demo render (6 s of audio, writes out/), too slow
# under valgrind, and tests/pd runs it. TAP lines; exits 1 on failure.
set -u
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_pd.sh"
command -v valgrind >/dev/null || { notok "valgrind is installed"; exit 1; }

for help in "$ROOT"/help-patches/*~-help.pd; do # the externals' (acids-synth's has no model)
    [ -f "$help" ] || continue
    base=$(basename "$help")
    name=vg_${base%-help.pd}
    name=$(echo "$name" | tr -c 'a-zA-Z0-9_\n' '_')
    cat >"$T/$name.pd" <<PD
#N canvas 0 0 400 300 10;
#X obj 10 10 loadbang;
#X obj 10 35 t b b;
#X msg 100 60 \; pd open $base $ROOT/help-patches \; pd dsp 1;
#X obj 10 60 delay 1000;
#X obj 10 85 t b b b;
#X msg 100 110 \; pd-$base menuclose 1;
#X obj 10 135 print END;
#X msg 10 160 \; pd quit 0;
#X connect 0 0 1 0;
#X connect 1 1 2 0;
#X connect 1 0 3 0;
#X connect 3 0 4 0;
#X connect 4 2 5 0;
#X connect 4 1 6 0;
#X connect 4 0 7 0;
PD
    start=$(date +%s)
    timeout 300 valgrind --tool=memcheck --xml=yes --xml-file="$T/$name.xml" --num-callers=40 \
        --error-limit=no --leak-check=full \
        pd -nogui -batch -nosound -nrt -path "$ROOT" -open "$T/$name.pd" >"$T/$name.log" 2>&1
    code=$?
    secs=$(($(date +%s) - start))
    loads=$(grep -c ' loaded, method' "$T/$name.log")
    if reached_end "$name" && [ "$loads" -gt 0 ]; then
        ok "valgrind $base: Pd ran it to its end under memcheck ($loads models loaded, $secs s)"
    else
        notok "valgrind $base: ${why:+$why; }$loads models loaded; $(tail -3 "$T/$name.log" | tr '\n' '|')"
    fi
    res=$("$PY" - "$T/$name.xml" "$ROOT" <<'PY'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ours, theirs = [], 0
for e in root.iter("error"):
    kind = e.findtext("kind")
    frames = e.find("stack").findall("frame")
    def mine(f):
        obj = f.findtext("obj") or ""
        d = f.findtext("dir") or ""
        return (obj.endswith("/libacids.so") or obj.endswith(".pd_linux")
                or "/src/core" in d or "/src/pd" in d or "/src/externals" in d
                or "/src/spectral" in d or "/src/stages" in d)
    # The error belongs to the first frame past the allocators (Pd's getbytes too), libc and the loader: a report
    # inside libtorch's own init (reached from our calls) is libtorch's.
    first = next((f for f in frames if not any(k in (f.findtext("obj") or "") for k in
                  ("vgpreload", "/libc.so", "libstdc++", "/ld-linux"))
                  and f.findtext("fn") not in ("getbytes", "resizebytes", "copybytes")), None)
    if first is not None and mine(first) and kind not in ("Leak_PossiblyLost", "Leak_IndirectlyLost",
                                                      "Leak_StillReachable"):
        where = " < ".join((f.findtext("fn") or "?") for f in frames[:6])
        what = e.findtext("what") or (e.find("xwhat").findtext("text") if e.find("xwhat") is not None else "")
        ours.append(f"{kind}: {what} at {where}")
    else:
        theirs += 1
print(len(ours), theirs)
for o in ours[:5]:
    print("#  ", o)
PY
)
    set -- $res
    if [ "$#" -ge 2 ] && [ "$1" -eq 0 ]; then
        ok "valgrind $base: no memcheck error in our code ($2 reports elsewhere: libtorch, loader, Pd)"
    else
        notok "valgrind $base: ${1:-?} memcheck error(s) in our code"
        echo "$res" | sed -n '2,$p'
    fi
done
[ "$failures" -eq 0 ]
