# tests/pd/lib_pd.sh: the Pd test harness the Pd suites share (tests/pd/run_*.sh and, through
# tests/robust/lib_pd.sh, tests/robust/run_*.sh). Sourced after tests/lib.sh:
#   . "$(dirname "$0")/lib_pd.sh"
# The caller sets T (the folder for patches and logs) before running anything. Knobs, set by
# the caller (for good or just before a call):
#   BATCH=-batch (default): DSP as fast as possible, loads synchronous; BATCH= : Pd's real-time
#     scheduler (with -nosound it follows the system clock), the objects in real-time mode.
#   TIMEOUT=60: seconds before Pd is killed (exit code 124).
#   FIXPATH=$FIX: a second Pd search path after $ROOT (empty: none).
#   ALLOWED: one extended regexp; log lines matching it are tolerated by log_check.
#   COUNT_QUIT_CRASHES=1: log_check lets a SIGSEGV after "END: bang" pass, listing the run in
#     $crashed_at_quit for the suite to judge once (empty, the default: it fails the run).
BATCH=-batch
TIMEOUT=60
FIXPATH=$FIX
COUNT_QUIT_CRASHES=
crashed_at_quit=

# --- running Pd and reading its log ---

# pd_run NAME PATCH [pd flags]: headless Pd on PATCH, log in $T/NAME.log, exit code in $code.
pd_run() {
    name=$1 patch=$2
    shift 2
    timeout "$TIMEOUT" pd -nogui $BATCH -nosound -nrt -path "$ROOT" ${FIXPATH:+-path "$FIXPATH"} "$@" \
        -open "$patch" >"$T/$name.log" 2>&1
    code=$?
}

# log_check NAME EXPECTED: sets $why to what is wrong with the last run (empty if nothing): a
# non-zero exit (124 is the timeout), no "END: bang" (printed right before the patch's final
# `; pd quit 0`), a missing expected line, or an error / "couldn't create" / failure / warning
# line that no pattern expects. EXPECTED: extended regexps, one a line (leading blanks ignored);
# lines matching $ALLOWED (may be empty) are tolerated without being required.
log_check() {
    log=$T/$1.log
    why=
    # A crash after the patch's last word (SIGSEGV at exit, with a model call in flight) is
    # counted in $crashed_at_quit, for the suite to report once; the render itself is still judged.
    if [ -n "$COUNT_QUIT_CRASHES" ] && [ "$code" -eq 139 ] && grep -q '^END: bang' "$log"; then
        crashed_at_quit="$crashed_at_quit $1"
        code=0
        sed -i '/Segmentation fault/d' "$log"
    fi
    [ "$code" -eq 0 ] || why="$why; pd exited with $code"
    grep -q '^END: bang' "$log" || why="$why; the patch did not reach its final quit"
    printf '%s\n' "$2" | sed 's/^[[:space:]]*//; /^$/d' >"$T/$1.expected"
    while IFS= read -r p; do
        grep -qE -- "$p" "$log" || why="$why; no line /$p/"
    done <"$T/$1.expected"
    [ -z "${ALLOWED:-}" ] || echo "$ALLOWED" >>"$T/$1.expected"
    unexpected=$(grep -iE "error|couldn't|fail|warning|segmentation|abort" "$log" |
        grep -vE -f "$T/$1.expected" | head -5)
    [ -z "$unexpected" ] || why="$why; unexpected: $unexpected"
    why=${why#; }
}

# pd_test NAME PATCH EXPECTED [pd flags]: pd_run, then log_check, as one TAP line.
pd_test() {
    name=$1 patch=$2 expected=$3
    shift 3
    pd_run "$name" "$patch" "$@"
    log_check "$name" "$expected"
    if [ -z "$why" ]; then ok "$name: Pd ran to its end, log as expected"; else notok "$name: $why"; fi
}

# compare NAME ACTUAL.wav REF.f32 CH [wavcmp options]: one TAP line from $WAVCMP.
compare() {
    name=$1 wav=$2 ref=$3 ch=$4
    shift 4
    if [ ! -s "$wav" ]; then
        notok "$name: $wav was not written"
    elif [ ! -s "$ref" ]; then
        notok "$name: no reference $ref"
    elif out=$("$WAVCMP" "$wav" "$ref" "$ch" "$@" 2>&1); then
        ok "$name ($out)"
    else
        notok "$name: $out"
    fi
}

# torch_ref NAME MODEL METHOD IN.f32 IN_CH: the torch reference ($REF) in $T/NAME.f32.
torch_ref() {
    "$PY" "$REF" "$2" "$3" "$4" "$5" "$T/$1.f32" 2>"$T/$1.referr" ||
        notok "torch reference $1: $(cat "$T/$1.referr")"
}

# --- generating patches ---

# Objects are numbered in the order they are written: add() sets $last to the new one's index.

# new_patch PATCH: starts the patch file $P (and empties $n and the $writes of record()).
new_patch() {
    P=$1
    n=0
    writes=
    echo "#N canvas 0 0 900 700 10;" >"$P"
}
# add KIND ARGS...: appends "#X KIND ARGS" (obj, msg...) to $P, laid out on a grid; sets $last.
add() {
    kind=$1
    shift
    echo "#X $kind $((10 + (n % 4) * 220)) $((10 + n / 4 * 30)) $*;" >>"$P"
    last=$n
    n=$((n + 1))
}
# con FROM OUTLET TO INLET: connects two objects of $P.
con() { echo "#X connect $1 $2 $3 $4;" >>"$P"; }
# end_of_patch OBJ: when OBJ bangs, print "END: bang" and quit.
end_of_patch() {
    add obj t b b
    con "$1" 0 "$last" 0
    t_end=$last
    add obj print END
    con "$t_end" 1 "$last" 0
    add msg '\; pd quit 0'
    con "$t_end" 0 "$last" 0
}

# render_patch PATCH SR OUT.wav SOURCE MESSAGES STAGE...: a chain of objects recorded to a file.
# Plays SOURCE into a chain of objects and records the last one's outputs for $L samples into
# OUT.wav (float). SOURCE: "file IN.wav NCH" (one array per channel, tabplay~) or
# "sig V0 V1 ..." (constant [sig~]s). MESSAGES (may be empty): the content of a message box
# sent to the last object at load, before DSP starts. STAGE: "NOUT object arguments" (e.g.
# "1 rave~ rave_demo"). Each object's info outlet (after its NOUT signal outlets) goes to
# [print info].
render_patch() {
    new_patch "$1"
    sr=$2 out=$3 src=$4 msgs=$5
    shift 5
    add obj loadbang
    lb=$last
    add obj t b b b b
    trig=$last
    con "$lb" 0 "$trig" 0
    add msg '\; pd dsp 1'
    con "$trig" 2 "$last" 0
    srcs= # the signals feeding the next stage, as object/outlet
    case $src in
    file\ *)
        file=${src#file }
        nin=${file##* }
        file=${file% *}
        arrays=
        k=0
        while [ "$k" -lt "$nin" ]; do
            add obj array define in$k
            arrays="$arrays in$k"
            k=$((k + 1))
        done
        add msg read -resize "$file" $arrays
        con "$trig" 3 "$last" 0
        add obj soundfiler
        con "$((last - 1))" 0 "$last" 0
        k=0
        while [ "$k" -lt "$nin" ]; do
            add obj tabplay~ in$k
            con "$trig" 1 "$last" 0
            srcs="$srcs $last/0"
            k=$((k + 1))
        done
        ;;
    sig\ *)
        for v in ${src#sig }; do
            add obj sig~ "$v"
            srcs="$srcs $last/0"
        done
        ;;
    esac
    for stage in "$@"; do
        nout=${stage%% *}
        add obj ${stage#* }
        obj=$last
        k=0
        for s in $srcs; do
            con "${s%/*}" "${s#*/}" "$obj" "$k"
            k=$((k + 1))
        done
        srcs=
        k=0
        while [ "$k" -lt "$nout" ]; do
            srcs="$srcs $obj/$k"
            k=$((k + 1))
        done
        add obj print info
        con "$obj" "$nout" "$last" 0
    done
    if [ -n "$msgs" ]; then
        add msg "$msgs"
        con "$trig" 2 "$last" 0
        con "$last" 0 "$obj" 0
    fi
    arrays=
    k=0
    for s in $srcs; do
        add obj array define out$k $L
        arrays="$arrays out$k"
        add obj tabwrite~ out$k
        con "${s%/*}" "${s#*/}" "$last" 0
        con "$trig" 1 "$last" 0
        k=$((k + 1))
    done
    # after L samples and some blocks: write the arrays, print END, quit
    add obj delay $(((L * 1000 + sr - 1) / sr + 50))
    con "$trig" 0 "$last" 0
    add obj t b b
    t2=$last
    con "$((last - 1))" 0 "$t2" 0
    add msg write -bytes 4 "$out" $arrays
    con "$t2" 1 "$last" 0
    add obj soundfiler
    con "$((last - 1))" 0 "$last" 0
    end_of_patch "$t2"
}
