"""make_fuzz_patch.py EXT SEED OUT.pd [keep]: a Pd patch that sends EXT's every method random atom lists.

Deterministic (random.Random(SEED)). Two targets receive the messages through [r fuzzN]:
[EXT identity forward] (a model with an attribute, `gain`) and [EXT] without a model; and
a handful of [EXT ...] objects are created with random arguments. Before each message the
patch prints "mark: K" so a crash can be traced to its message; at the end "END: bang" and
`; pd quit 0` (first deleting the objects, unless "keep"). Atoms: floats (0, +-1, buffer-like, huge, +-1e39 which Pd reads as +-inf,
denormal, fractional, random), symbols (method, model and attribute names, fixtures, paths,
words, 900- and 3000-character ones), lists of 0 to 20 atoms, 17 (one past set's limit) and
1000. The selectors: every method of acids_pd.c, unknown ones, bang, float, list, symbol.
Prints the number of messages on stdout.
"""
import random
import sys

ext, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rnd = random.Random(seed)

METHODS = ["load", "method", "buffer", "enable", "offline", "threads", "reset", "get", "set", "info"]
FLOATS = [0, 1, -1, 2, 64, 2048, 4096, 1000, 1048576, 1048577, 2147483648, -2147483649,
          1e39, -1e39, 3.4e38, -3.4e38, 1e-40, 0.5, -0.25, 65, 63, 1e20, 16777217]
SYMS = ["forward", "scaled", "encode", "decode", "nosuch", "gain", "work", "sr", "identity",
        "identity.ts", "nan", "slow", "throws", "throws_every3", "stateful", "garbage.ts",
        "empty.ts", "truncated", "wrong_shape", "tuple", "multi", "latent", "rave_demo",
        "/nonexistent/model.ts", "../../../../etc/passwd", "/dev/zero", "/tmp", ".", "..",
        "-buffer", "-threads", "-offline", "symbol", "float", "bang", "list", "inf", "nan",
        "1e", "0x10", "-", "%s%s%s%n", "é"]


def word(k):
    return "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz_0123456789.-") for _ in range(k)) or "w"


def atom():
    r = rnd.random()
    if r < 0.35:
        return repr(rnd.choice(FLOATS)) if rnd.random() < 0.7 else f"{rnd.uniform(-1e6, 1e6):.6g}"
    if r < 0.8:
        return rnd.choice(SYMS)
    if r < 0.95:
        return "x" + word(rnd.randint(1, 12))
    return "L" + word(rnd.choice([900, 3000]))


def atoms():
    r = rnd.random()
    n = 0 if r < 0.2 else 1 if r < 0.5 else 2 if r < 0.65 else rnd.randint(3, 20) if r < 0.9 \
        else 17 if r < 0.95 else 1000
    return [atom() for _ in range(n)]


def fix(a):
    # a message must not start with a float if the selector is a word; empty ones are skipped
    return [x for x in a if x]


msgs = []
for target in ("fuzz0", "fuzz1"):
    for _ in range(40):
        for sel in METHODS:
            msgs.append((target, [sel] + atoms()))
        msgs.append((target, ["x" + word(rnd.randint(1, 8))] + atoms()))      # unknown selector
        msgs.append((target, ["bang"]))
        msgs.append((target, [repr(rnd.choice(FLOATS))]))                      # float
        msgs.append((target, ["list"] + atoms()))
        msgs.append((target, [repr(rnd.choice(FLOATS))] + atoms()))            # list, implicit
        msgs.append((target, ["symbol"] + atoms()[:1]))
rnd.shuffle(msgs)
# a few well-formed ones, so that the deep paths run: valid loads, gets and sets
for k in range(0, len(msgs), 97):
    msgs.insert(k, ("fuzz0", rnd.choice([["load", "identity"], ["get", "gain"], ["set", "gain", "2"],
                                         ["method", "scaled"], ["offline", "1"], ["enable", "1"],
                                         ["buffer", "4096"], ["threads", "2"], ["reset"]])))

keep = len(sys.argv) > 4 and sys.argv[4] == "keep"
# The objects live in [pd targets], emptied before the quit (unless "keep" is given): Pd 0.53
# exits without freeing the patch, and an object still alive at exit is a separate matter.
lines = ["#N canvas 0 0 900 700 10;", "#N canvas 0 0 400 300 targets 0;"]
objs = []


def obj(text):
    lines.append(f"#X obj 10 {10 + 20 * len(objs)} {text};")
    objs.append(text)
    return len(objs) - 1


def msg(text):
    lines.append(f"#X msg 10 {10 + 20 * len(objs)} {text};")
    objs.append(text)
    return len(objs) - 1


def connect(a, o, b, i):
    lines.append(f"#X connect {a} {o} {b} {i};")


t0 = obj(f"{ext} identity forward")
t1 = obj(ext)
for t, name in ((t0, "fuzz0"), (t1, "fuzz1")):
    r = obj(f"r {name}")
    connect(r, 0, t, 0)
    p = obj(f"print info{name[-1]}")
    connect(t, 1, p, 0)
# objects made with random arguments (refused ones are "couldn't create", the others live)
for _ in range(30):
    args = [rnd.choice(["identity", "slow", "nan", "garbage.ts", "nosuch"])] if rnd.random() < 0.6 else []
    args += atoms()[:6]
    obj(" ".join([ext] + args))
lines.append("#X restore 500 10 pd targets;")
objs = ["pd targets"]
pm = obj("r mark")
connect(pm, 0, obj("print mark"), 0)
lb = obj("loadbang")
connect(lb, 0, msg("\\; pd dsp 1"), 0)
# one message box per 50 messages, banged in order by [t b b ...] chains through [delay 0]s,
# so DSP runs between the groups
prev = lb
for g in range(0, len(msgs), 50):
    d = obj("delay 1")
    connect(prev, 0, d, 0)
    body = []
    for k, (target, m) in enumerate(msgs[g : g + 50], g):
        body.append(f"\\; mark {k} \\; {target} {' '.join(fix(m))}")
    connect(d, 0, msg(" ".join(body)), 0)
    prev = d
d = obj("delay 100")
connect(prev, 0, d, 0)
if not keep:
    connect(d, 0, msg("\\; pd-targets clear"), 0)
connect(d, 0, obj("print END"), 0)
connect(d, 0, msg("\\; pd quit 0"), 0)
open(out, "w").write("\n".join(lines) + "\n")
print(len(msgs))
