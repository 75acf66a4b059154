#!/bin/sh
# The offline renderer (build/acids-render) against the torch reference (tests/ref/torch_ref.py):
# each method of the shipped models with --keep-latency, compared sample by sample at the
# latency the renderer reports; then files it must refuse. TAP lines; exits 1 on any failure.
# Runs from tests/run.sh or alone: sh tests/cli/run_cli_tests.sh
set -u
. "$(dirname "$0")/../lib.sh"
T=$ACIDS_TMP/cli
mkdir -p "$T"
RENDER=$ROOT/build/acids-render
INPUT=$ROOT/models/demo.wav

for b in "$RENDER" "$WAVCMP"; do
    [ -x "$b" ] || { notok "$b is built (make cli test-binaries)"; exit 1; }
done

# Sound file -> channel-major float32, zero-padded to a whole number of 2048-sample buffers
# (the streaming models take whole buffers; padding at the end changes nothing before it).
to_f32() { # in.wav out.f32 pad
    "$PY" - "$@" <<'EOF'
import sys, numpy as np, soundfile as sf
x, _ = sf.read(sys.argv[1], dtype="float32", always_2d=True)
pad = int(sys.argv[3])
if pad > 1:
    x = np.concatenate([x, np.zeros(((-len(x)) % pad, x.shape[1]), "float32")])
np.ascontiguousarray(x.T).astype("<f4").tofile(sys.argv[2])
EOF
}

# render NAME MODEL METHOD IN: renders to $T/NAME.wav, sets $latency from the printed line.
render() {
    latency=
    if ! "$RENDER" "$2" "$4" "$T/$1.wav" --method "$3" --keep-latency >"$T/$1.out" 2>&1; then
        notok "$1: acids-render failed: $(cat "$T/$1.out")"
        return 1
    fi
    latency=$(sed -n 's/.*latency \([0-9][0-9]*\) samples.*/\1/p' "$T/$1.out")
    if [ -z "$latency" ]; then
        notok "$1: no latency in the renderer's line: $(cat "$T/$1.out")"
        return 1
    fi
}

# check NAME MODEL METHOD IN.f32 IN_CH OUT_CH TOL OFFSET
check() {
    if ! "$PY" "$REF" "$2" "$3" "$4" "$5" "$T/$1.ref.f32" 2>"$T/$1.referr"; then
        notok "$1: torch reference failed: $(cat "$T/$1.referr")"
        return
    fi
    if out=$("$WAVCMP" "$T/$1.wav" "$T/$1.ref.f32" "$6" --offset "$8" --tol "$7" 2>&1); then
        ok "$1 matches torch at latency $latency ($out)"
    else
        notok "$1 differs from torch at latency $latency: $out"
    fi
}

to_f32 "$INPUT" "$T/in.f32" 2048

if render forward "$DEMO" forward "$INPUT"; then
    [ "$latency" = 4096 ] && ok "forward: reported latency is 2 x 2048" ||
        notok "forward: latency $latency, expected 4096"
    check forward "$DEMO" forward "$T/in.f32" 1 1 1e-4 "$latency"
fi

# Latent-rate files hold one frame per 2048 samples: the latency is latency/2048 frames.
if render encode "$DEMO" encode "$INPUT"; then
    check encode "$DEMO" encode "$T/in.f32" 1 8 1e-5 $((latency / 2048))
    to_f32 "$T/encode.wav" "$T/z.f32" 1
    if render decode "$DEMO" decode "$T/encode.wav"; then
        check decode "$DEMO" decode "$T/z.f32" 8 1 1e-4 "$latency"
    fi
fi

if render v1_forward "$V1" forward "$INPUT"; then
    check v1_forward "$V1" forward "$T/in.f32" 1 1 1e-4 "$latency"
fi

# Files it must refuse: non-zero exit and a message naming the cause.
# refuse NAME PATTERN MODEL IN [args]
refuse() {
    name=$1 pattern=$2 model=$3 input=$4
    shift 4
    "$RENDER" "$model" "$input" "$T/refused.wav" "$@" >"$T/refuse.out" 2>&1
    code=$?
    msg=$(tr '\n' ' ' <"$T/refuse.out")
    if [ "$code" -ne 0 ] && grep -qi "$pattern" "$T/refuse.out"; then
        ok "refuses $name (exit $code: $msg)"
    else
        notok "refuses $name: exit $code, expected non-zero and /$pattern/: $msg"
    fi
}

sox -q "$INPUT" -c 2 "$T/stereo.wav" 2>/dev/null ||
    "$PY" -c "import sys, soundfile as sf, numpy as np; x, r = sf.read(sys.argv[1]); sf.write(sys.argv[2], np.stack([x, x], 1), r)" "$INPUT" "$T/stereo.wav"
refuse "a missing model file" "no such file.*nosuch.ts" "$T/nosuch.ts" "$INPUT"
refuse "garbage.ts" "garbage.ts.*not a zip" "$FIX/garbage.ts" "$INPUT"
refuse "nocontract.ts" "nocontract.ts.*not a model acids knows" "$FIX/nocontract.ts" "$INPUT"
refuse "a stereo file into forward" "2 channel.*forward takes 1" "$DEMO" "$T/stereo.wav"
refuse "a missing input file" "nosuch.wav" "$DEMO" "$T/nosuch.wav"
refuse "an unknown method" "no method 'nosuch'" "$DEMO" "$INPUT" --method nosuch

[ "$failures" -eq 0 ]
