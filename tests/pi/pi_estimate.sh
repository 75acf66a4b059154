#!/bin/sh
# The Raspberry Pi 4 estimate for rave_demo (README, "Raspberry Pi"): not a test, figures.
#   sh tests/pi/pi_estimate.sh      (needs make build/direct_call, valgrind, python3-torch)
# 1. Operations: the conv multiply-adds of one forward call of 2048 samples, counted by
#    forward hooks on the model's own PyTorch modules (models/make_rave.py).
# 2. Instructions: valgrind --tool=callgrind on the x86-64 build/direct_call (the engine's
#    libtorch path without Pd), forward calls of 2048 samples; the difference between two
#    call counts leaves out loading and warm-up. Everything a call costs is in it: the
#    TorchScript interpreter, operator dispatch, allocations, OpenBLAS.
# 3. The native time per call on this machine (direct_call's CPU time).
set -eu
cd "$(dirname "$0")/../.."
PY=${ACIDS_PYTHON:-/usr/bin/python3}
MODEL=${1:-models/rave_demo.ts}
B=2048
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
[ -x build/direct_call ] || make -s build/direct_call >/dev/null

macs=$("$PY" - <<'EOF'
import sys, torch
sys.path.insert(0, "models")
import make_rave as mr
enc, dec = mr.build_encoder(), mr.build_decoder()
macs = 0
def hook(m, inp, out):
    global macs
    macs += out.numel() * m.in_channels // m.groups * m.kernel_size[0]
for net in (enc, dec):
    for m in net.modules():
        if isinstance(m, torch.nn.Conv1d):
            m.register_forward_hook(hook)
with torch.no_grad():
    z = enc(torch.zeros(1, 1, 2048))
    dec(z[:, :mr.LATENT])
print(macs)
EOF
)

# direct_call runs SECONDS of audio in calls of B samples at the model's rate (44100)
calls() { awk -v s="$1" -v b=$B 'BEGIN { print int(s * 44100 / b) }'; }
instr() { # SECONDS -> total instructions (Ir) of the run
    valgrind --tool=callgrind --callgrind-out-file="$TMP/cg.$1" build/direct_call "$MODEL" forward "$1" $B \
        >/dev/null 2>"$TMP/vg.$1"
    sed -n 's/^summary: //p' "$TMP/cg.$1"
}
i1=$(instr 1)
i5=$(instr 5)
n1=$(calls 1)
n5=$(calls 5)
per_call=$(((i5 - i1) / (n5 - n1)))
t=$(build/direct_call "$MODEL" forward 20 $B)
n20=$(calls 20)
awk -v macs="$macs" -v ic="$per_call" -v t="$t" -v n="$n20" -v b=$B 'BEGIN {
    budget = b / 44100 * 1e3                       # ms of audio per call
    tcall = t / n * 1e3                            # ms per call here
    printf "model: %s, forward of %d samples (%.1f ms of audio at 44.1 kHz)\n", ENVIRON["MODEL"], b, budget
    printf "conv multiply-adds per call: %.2f M (%.1f MFLOP)\n", macs / 1e6, 2 * macs / 1e6
    printf "x86-64 instructions per call (callgrind): %.1f M (%.1f per multiply-add)\n", ic / 1e6, ic / macs
    printf "time per call on this machine: %.3f ms (%.2f G instructions/s)\n", tcall, ic / tcall / 1e6
    # Cortex-A72 at 1.5 GHz: 3-wide decode; peak 16 single-precision FLOP/cycle (two 128-bit
    # NEON FMA pipes) = 24 GFLOP/s. Instruction throughput assumed 1.0 per cycle (a typical
    # IPC for such mixed interpreter/BLAS code on the A72), and 1.3 x the x86-64 instruction
    # count for arm64 (128-bit NEON against 256-bit AVX2 in the BLAS part).
    ipc = 1.0; f = 1.5e9; ratio = 1.3
    tpi = ic * ratio / (ipc * f) * 1e3
    tflop = 2 * macs / 24e9 * 1e3
    printf "Pi 4 (Cortex-A72 1.5 GHz), one core: ~%.1f ms per call by instructions (%.0f%% of the %.1f ms budget); FLOP bound alone %.2f ms\n", tpi, 100 * tpi / budget, budget, tflop
}'
