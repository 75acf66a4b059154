# tests/robust/lib_pd.sh: what the robustness suites share (sourced after tests/lib.sh).
# Headless Pd runs and generated patches (from tests/pd/lib_pd.sh), and the list of externals every suite goes through.

# The externals under test, each as "name": each must accept [name <fixture> forward] with
# the 1-in/1-out fixtures of tests/fixtures and the messages of rave~ (src/pd/acids_pd.c).
# Adding an external is one word here.
EXTERNALS=${ROBUST_EXTERNALS:-"rave~"}

B=2048         # the fixtures' default buffer
LAT=$((2 * B)) # the engine's latency

RT=$ROOT/tests/robust
T=$ACIDS_TMP/robust
mkdir -p "$T"

# pd_run, new_patch, add, con... (BATCH, TIMEOUT: see there): tests/pd/lib_pd.sh.
. "$(dirname "$0")/../pd/lib_pd.sh"
# end_after OBJ: the robust suites' name for end_of_patch (print "END: bang" and quit on OBJ's bang).
end_after() { end_of_patch "$1"; }
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
