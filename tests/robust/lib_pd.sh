# tests/robust/lib_pd.sh: what the robustness suites share (sourced after tests/lib.sh).
# Headless Pd runs, generated patches, and the list of externals every suite goes through.

# The externals under test, each as "name": each must accept [name <fixture> forward] with
# the 1-in/1-out fixtures of tests/fixtures and the messages of rave~ (src/pd/acids_pd.c).
# Adding an external is one word here.
EXTERNALS=${ROBUST_EXTERNALS:-"rave~"}

B=2048         # the fixtures' default buffer
LAT=$((2 * B)) # the engine's latency

RT=$ROOT/tests/robust
T=$ACIDS_TMP/robust
mkdir -p "$T"

# pd_run NAME PATCH [pd flags]: headless Pd, log in $T/NAME.log, exit code in $code.
# BATCH=-batch (default): DSP as fast as possible, loads synchronous. BATCH= : Pd's real-time
# scheduler (with -nosound it follows the system clock), the objects in real-time mode.
# TIMEOUT: seconds before Pd is killed (exit code 124).
BATCH=-batch
TIMEOUT=60
pd_run() {
    name=$1 patch=$2
    shift 2
    timeout "$TIMEOUT" pd -nogui $BATCH -nosound -nrt -path "$ROOT" -path "$FIX" "$@" \
        -open "$patch" >"$T/$name.log" 2>&1
    code=$?
}

# Patches: objects numbered in the order they are written; add() sets $last.
new_patch() {
    P=$1
    n=0
    echo "#N canvas 0 0 900 700 10;" >"$P"
}
add() {
    kind=$1
    shift
    echo "#X $kind $((10 + (n % 4) * 220)) $((10 + n / 4 * 30)) $*;" >>"$P"
    last=$n
    n=$((n + 1))
}
con() { echo "#X connect $1 $2 $3 $4;" >>"$P"; }
# end_after OBJ: when OBJ bangs, print "END: bang" and quit.
end_after() {
    add obj t b b
    con "$1" 0 "$last" 0
    _t=$last
    add obj print END
    con "$_t" 1 "$last" 0
    add msg '\; pd quit 0'
    con "$_t" 0 "$last" 0
}
# reached_end NAME: Pd exited 0 after printing END (sets $why otherwise).
reached_end() {
    why=
    [ "$code" -eq 0 ] || why="pd exited with $code"
    grep -q '^END: bang' "$T/$1.log" || why="${why:+$why; }the patch did not reach its quit"
    [ -z "$why" ]
}
# crash_lines NAME: lines of the log telling of a crash.
crash_lines() {
    grep -iE 'segmentation|abort|core dumped|stack smashing|double free|corrupt|terminate called' \
        "$T/$1.log" | head -3
}
