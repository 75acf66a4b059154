"""Build models/timbre_demo.ts: a small navigable timbre space for timbre~, after
acids-ircam/variational-timbre (a per-frame conditional VAE over constant-Q frames,
conditioned on pitch class and octave), trained here on the fluidsynth instrument notes of
make_dataset.py. No real-time export of those models exists; this file defines it.

Interface (TorchScript, nn~ contract through nn_module.NNModule):
  encode  [1, 410, F] CQ log-magnitudes (features.cq_features, transposed) -> [1, L, F]
          posterior mean (deterministic); encode_params = [410, 256, L, 256]
  decode  [1, L + 12 + n_octaves, F] = latent, pitch-class one-hot, octave one-hot
          -> [1, 410, F] CQ log-magnitudes; decode_params = [L + 12 + n_octaves, 256, 410, 256]
          Frame-wise: no state, no time context, any F >= 1.
  Both accept any batch size B in place of 1 and raise ValueError on a wrong channel count.
  buffers   data_mean [410] (per-bin mean of the training log-CQ frames), data_max (scalar:
            max |x - data_mean| over them), so the network sees (x - data_mean) / data_max
            in [-1, 1]; out_min / out_max [410] (per-bin min / max of the training log-CQ):
            decode clamps its output to them, so latent coordinates far outside the prior
            cannot ask the resynthesis for magnitudes the dataset never had;
            family_centroids [n_families, L] (mean over each family's training notes of the
            note's mean latent, for display).
  attributes (read-only: set_<name> returns 1) sr 22050, n_fft 2048, hop 256, fmin 30.0,
            bins_per_octave 48, n_bins 410, latent_size L, octave_min, n_octaves, families.

Conditioning rule (tests/ref/timbre_ref.py: cond()): n = floor(note + 0.5) (round half up),
pitch class = n mod 12, octave = n // 12 - 1 (MIDI 60 = C4 -> octave 4), clamped to
[octave_min, octave_min + n_octaves - 1]. The dataset's pitches 33..102 give octave_min 1
and n_octaves 7.

L = 4: a musician can still navigate it by hand (four sliders, or two XY pads), and it is
where the held-out scores level off. Same training, held-out notes (log-CQ MSE /
nearest-centroid accuracy): L = 2: 0.73 / 0.65; L = 4: 0.52 / 0.92; L = 8: 0.43 / 0.96.

Training data: the frames of every note from its onset (minus one window, as a real-time
analysis sees the attack come in) to the end of its release gap, dropping frames more than
60 dB below the note's loudest frame (energy of the CQ frame). Loss per frame: squared
error summed over the 410 normalised bins + BETA * KL(q(z|x) || N(0, I)) + GAMMA *
cross-entropy of a linear family classifier on the posterior mean. The classifier is used
only in training and is not exported. It makes the space separate the instrument families
(variational-timbre used perceptual-dissimilarity regularisation instead, and we have no
ratings). With GAMMA = 0 held-out accuracy is 0.71 instead of 0.92, for the same MSE.
Augmentation, per frame: a pitch shift of up to +-SHIFT_AUG semitones, i.e. a roll by 4
bins per semitone with the edge bins repeated and the conditioning moved to match. Without
it the decoder memorises the training pitches: held-out MSE 1.19 instead of 0.60 with
+-2 semitones, at 20 epochs. Also a gain of up to +-GAIN_DB dB. The held-out notes are all
velocity 120 (make_dataset.py's split is i % 3 == 2, as is VELOCITIES[i % 3]); the training
notes are velocity 64 and 96. Adam with a cosine learning rate, seeded, deterministic
algorithms, CPU.

Prints a quality table on the held-out notes (split == 'test') and per-call times, then
self-checks the re-loaded file. Run from anywhere: /usr/bin/python3 models/make_timbre.py
"""
import hashlib
import math
import os
import sys
import time
from typing import List, Tuple

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import features  # noqa: E402
import make_dataset  # noqa: E402
from nn_module import NNModule, pin_hash_seed  # noqa: E402

OUT = os.path.join(HERE, "timbre_demo.ts")
DATASET = os.path.join(HERE, "..", "build", "dataset")
SR = features.SR
N_BINS = features.CQ_N_BINS
LATENT = 4
H1, H2 = 256, 128
SEED = 1107
EPOCHS = 60
BATCH = 256
LR = 2e-3
BETA = 0.05            # weight of the KL (per frame, nats) against the summed squared error
GAMMA = 0.5            # weight of the family cross-entropy
SHIFT_AUG = 3          # pitch-shift augmentation, semitones either way
GAIN_DB = 6.0          # gain augmentation, dB either way
# Threads for training: 1 by default. On this 2-core machine shared with other jobs, 2
# threads made an epoch ~18x slower (OpenMP threads spin-waiting for a descheduled peer:
# 237 s vs 13 s for 5 epochs at load 8); results are the same either way.
THREADS = int(os.environ.get("TIMBRE_THREADS", 1))
TOP_DB = 60.0          # frames quieter than the note's loudest frame by more are skipped
FAMILIES = ["strings", "brass", "reeds", "flutes", "keys", "plucked"]
RATIO = features.CQ_HOP  # one frame per hop: the nn~ ratio of both methods


def note_octave(n: int) -> int:
    return n // 12 - 1


# ------------------------------------------------------------------ model --

def mlp(sizes: List[int]) -> nn.Sequential:
    layers: List[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
    return nn.Sequential(*layers)


class Timbre(NNModule):

    def __init__(self, latent: int, octave_min: int, n_octaves: int, families: List[str],
                 data_mean: torch.Tensor, data_max: float, out_min: torch.Tensor,
                 out_max: torch.Tensor) -> None:
        super().__init__()
        self.latent = latent
        self.n_cond = 12 + n_octaves
        self.bins = N_BINS
        self.encoder = mlp([N_BINS, H1, H2, 2 * latent])
        self.decoder = mlp([latent + self.n_cond, H2, H1, N_BINS])
        self.register_buffer("data_mean", data_mean.float().clone())
        self.register_buffer("data_max", torch.tensor(float(data_max)))
        self.register_buffer("out_min", out_min.float().clone())
        self.register_buffer("out_max", out_max.float().clone())
        self.register_buffer("family_centroids", torch.zeros(len(families), latent))
        self.register_method("encode", N_BINS, RATIO, latent, RATIO)
        self.register_method("decode", latent + self.n_cond, RATIO, N_BINS, RATIO)
        self.register_attribute("sr", SR)
        self.register_attribute("n_fft", features.CQ_N_FFT)
        self.register_attribute("hop", features.CQ_HOP)
        self.register_attribute("fmin", float(features.CQ_FMIN))
        self.register_attribute("bins_per_octave", features.CQ_BINS_PER_OCTAVE)
        self.register_attribute("n_bins", N_BINS)
        self.register_attribute("latent_size", latent)
        self.register_attribute("octave_min", octave_min)
        self.register_attribute("n_octaves", n_octaves)
        assert len(families) == 6, "get_families is typed for six names"
        self.register_attribute("families", list(families))

    # Frame-level pieces (x: [N, 410] log-CQ), used by training and by the methods.
    def posterior(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder((x - self.data_mean) / self.data_max)
        return h[:, :self.latent], h[:, self.latent:]

    def generate(self, zc: torch.Tensor) -> torch.Tensor:
        """Normalised output (training loss is taken here, before the clamp)."""
        return self.decoder(zc)

    @torch.jit.export
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3 or x.shape[1] != self.bins:
            raise ValueError("timbre encode: expected [B, 410, F] CQ log-magnitudes")
        b, f = x.shape[0], x.shape[2]
        frames = x.transpose(1, 2).reshape(b * f, self.bins)
        mean, logvar = self.posterior(frames)
        return mean.reshape(b, f, self.latent).transpose(1, 2).contiguous()

    @torch.jit.export
    def decode(self, z: torch.Tensor) -> torch.Tensor:
        n_in = self.latent + self.n_cond
        if z.dim() != 3 or z.shape[1] != n_in:
            raise ValueError("timbre decode: expected [B, latent_size + 12 + n_octaves, F]")
        b, f = z.shape[0], z.shape[2]
        frames = z.transpose(1, 2).reshape(b * f, n_in)
        y = self.generate(frames) * self.data_max + self.data_mean
        y = torch.minimum(torch.maximum(y, self.out_min), self.out_max)
        return y.reshape(b, f, self.bins).transpose(1, 2).contiguous()

    # Read-only attributes: getters return the stored tuple, setters refuse (1).
    @torch.jit.export
    def get_sr(self) -> Tuple[int]:
        return self.sr

    @torch.jit.export
    def set_sr(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_n_fft(self) -> Tuple[int]:
        return self.n_fft

    @torch.jit.export
    def set_n_fft(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_hop(self) -> Tuple[int]:
        return self.hop

    @torch.jit.export
    def set_hop(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_fmin(self) -> Tuple[float]:
        return self.fmin

    @torch.jit.export
    def set_fmin(self, value: float) -> int:
        return 1

    @torch.jit.export
    def get_bins_per_octave(self) -> Tuple[int]:
        return self.bins_per_octave

    @torch.jit.export
    def set_bins_per_octave(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_n_bins(self) -> Tuple[int]:
        return self.n_bins

    @torch.jit.export
    def set_n_bins(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_latent_size(self) -> Tuple[int]:
        return self.latent_size

    @torch.jit.export
    def set_latent_size(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_octave_min(self) -> Tuple[int]:
        return self.octave_min

    @torch.jit.export
    def set_octave_min(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_n_octaves(self) -> Tuple[int]:
        return self.n_octaves

    @torch.jit.export
    def set_n_octaves(self, value: int) -> int:
        return 1

    @torch.jit.export
    def get_families(self) -> Tuple[str, str, str, str, str, str]:
        return self.families

    @torch.jit.export
    def set_families(self, value: str) -> int:
        return 1


# ------------------------------------------------------------------- data --

def cond_vector(pitch: int, octave_min: int, n_octaves: int) -> np.ndarray:
    """12 + n_octaves one-hot conditioning of an integer MIDI pitch (timbre_ref.cond)."""
    v = np.zeros(12 + n_octaves, dtype=np.float32)
    v[pitch % 12] = 1.0
    o = min(max(note_octave(pitch), octave_min), octave_min + n_octaves - 1)
    v[12 + o - octave_min] = 1.0
    return v


def note_frames(x: np.ndarray, note: dict) -> np.ndarray:
    """Kept CQ log-magnitude frames [n, 410] (float64) of one note."""
    a = max(int(round(note["start"] * SR)) - features.CQ_N_FFT, 0)
    b = int(round((note["end"] + make_dataset.GAP) * SR))
    f = features.cq_features(x[a:b])
    energy_db = 10.0 * np.log10(np.exp(2.0 * f).sum(axis=1))
    return f[energy_db > energy_db.max() - TOP_DB]


def load_notes():
    x, notes = make_dataset.load(DATASET, SR)
    pitches = [n["pitch"] for n in notes]
    octave_min = note_octave(min(pitches))
    n_octaves = note_octave(max(pitches)) - octave_min + 1
    out = []
    for n in notes:
        out.append(dict(frames=note_frames(x, n), pitch=n["pitch"],
                        family=FAMILIES.index(n["family"]), split=n["split"],
                        instrument=n["instrument"],
                        cond=cond_vector(n["pitch"], octave_min, n_octaves)))
    return out, octave_min, n_octaves


# --------------------------------------------------------------- training --

def build(stats, octave_min, n_octaves) -> Timbre:
    torch.manual_seed(SEED)
    return Timbre(LATENT, octave_min, n_octaves, FAMILIES, *stats)


def train(model: Timbre, notes) -> Tuple[nn.Linear, float]:
    tr = [n for n in notes if n["split"] == "train"]
    x = torch.from_numpy(np.concatenate([n["frames"] for n in tr])).float()
    pitch = torch.tensor([n["pitch"] for n in tr for _ in range(len(n["frames"]))])
    fam = torch.tensor([n["family"] for n in tr for _ in range(len(n["frames"]))])
    octave_min, n_octaves = model.octave_min[0], model.n_octaves[0]
    torch.manual_seed(SEED + 1)
    classifier = nn.Linear(LATENT, len(FAMILIES))
    params = list(model.encoder.parameters()) + list(model.decoder.parameters()) \
        + list(classifier.parameters())
    opt = torch.optim.Adam(params, lr=LR)
    n = x.shape[0]
    steps = EPOCHS * math.ceil(n / BATCH)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1.0 + math.cos(math.pi * min(s, steps) / steps)) * 0.95 + 0.05)
    g = torch.Generator().manual_seed(SEED + 2)
    bins = torch.arange(N_BINS)
    t0 = time.time()
    for epoch in range(EPOCHS):
        perm = torch.randperm(n, generator=g)
        tot = [0.0, 0.0, 0.0]
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            k = len(idx)
            # Augmentation: a pitch shift of -SHIFT..SHIFT semitones (4 bins each, edge
            # bins repeated; the conditioning follows) and a gain of +-GAIN_DB.
            shift = torch.randint(-SHIFT_AUG, SHIFT_AUG + 1, (k,), generator=g)
            src = (bins[None, :] - 4 * shift[:, None]).clamp(0, N_BINS - 1)
            gain = (torch.rand(k, 1, generator=g) * 2.0 - 1.0) * (GAIN_DB / 20.0 * math.log(10))
            xb = x[idx].gather(1, src) + gain
            p = pitch[idx] + shift
            octave = (torch.div(p, 12, rounding_mode="floor") - 1 - octave_min) \
                .clamp(0, n_octaves - 1)
            c = torch.cat([nn.functional.one_hot(p % 12, 12),
                           nn.functional.one_hot(octave, n_octaves)], 1).float()
            mean, logvar = model.posterior(xb)
            z = mean + torch.exp(0.5 * logvar) * torch.randn(mean.shape, generator=g)
            y = model.generate(torch.cat([z, c], 1))
            rec = (y - (xb - model.data_mean) / model.data_max).pow(2).sum(1).mean()
            kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()
            ce = nn.functional.cross_entropy(classifier(mean), fam[idx])
            loss = rec + BETA * kl + GAMMA * ce
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot[0] += rec.item() * k
            tot[1] += kl.item() * k
            tot[2] += ce.item() * k
        if epoch % 10 == 0 or epoch == EPOCHS - 1:
            print(f"  epoch {epoch:3d}  rec {tot[0] / n:.4f}  kl {tot[1] / n:.2f}  "
                  f"ce {tot[2] / n:.3f}  ({time.time() - t0:.0f} s)", flush=True)
    return classifier, time.time() - t0


# ------------------------------------------------------------- evaluation --

def note_latent(encode, frames: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        z = encode(torch.from_numpy(frames.T.copy()).float()[None])
    return z[0].numpy().mean(axis=1)


def centroids(encode, notes) -> np.ndarray:
    tr = [n for n in notes if n["split"] == "train"]
    lat = np.stack([note_latent(encode, n["frames"]) for n in tr])
    fam = np.array([n["family"] for n in tr])
    return np.stack([lat[fam == k].mean(axis=0) for k in range(len(FAMILIES))])


def quality(encode, decode, notes, cent: np.ndarray) -> dict:
    """Reconstruction and nearest-centroid scores on the held-out notes."""
    te = [n for n in notes if n["split"] == "test"]
    sq, lsd, sc, hits = [], [], [], 0
    for n in te:
        xf = torch.from_numpy(n["frames"].T.copy()).float()[None]
        with torch.no_grad():
            z = encode(xf)
            cond = torch.from_numpy(n["cond"])[None, :, None].expand(1, -1, z.shape[2])
            y = decode(torch.cat([z, cond], 1))[0].numpy().T.astype(np.float64)
        x = n["frames"]
        d = y - x
        sq.append((d ** 2).mean())
        lsd.append(np.sqrt(((20.0 / math.log(10.0)) ** 2 * (d ** 2)).mean(axis=1)).mean())
        sc.append(np.linalg.norm(np.exp(x) - np.exp(y)) / np.linalg.norm(np.exp(x)))
        lat = z[0].numpy().mean(axis=1)
        hits += int(np.argmin(((cent - lat) ** 2).sum(axis=1)) == n["family"])
    return dict(mse=float(np.mean(sq)), lsd=float(np.mean(lsd)), sc=float(np.mean(sc)),
                acc=hits / len(te))


def call_time(method, channels: int, reps: int = 300) -> float:
    """Median seconds of one call on a single frame [1, channels, 1]."""
    x = torch.randn(1, channels, 1) * 0.5
    times = []
    with torch.no_grad():
        for _ in range(20):
            method(x)
        for _ in range(reps):
            t = time.perf_counter()
            method(x)
            times.append(time.perf_counter() - t)
    return float(np.median(times))


@torch.no_grad()
def clamped(m, scale: float, uniform: bool, n_octaves: int, n: int = 2000) -> float:
    """Fraction of decoded bins at the clamp for random latents and conditionings."""
    g = torch.Generator().manual_seed(9)
    if uniform:
        z = (torch.rand(1, LATENT, n, generator=g) * 2.0 - 1.0) * scale
    else:
        z = torch.randn(1, LATENT, n, generator=g) * scale
    c = torch.zeros(1, 12 + n_octaves, n)
    c[0, torch.randint(0, 12, (n,), generator=g), torch.arange(n)] = 1.0
    c[0, 12 + torch.randint(0, n_octaves, (n,), generator=g), torch.arange(n)] = 1.0
    y = m.decode(torch.cat([z, c], 1))[0].T
    return float(((y <= m.out_min) | (y >= m.out_max)).float().mean())


# ------------------------------------------------------------ self-checks --

def fmt(v) -> str:
    return "[" + ", ".join(f"{float(a):.2f}" for a in np.asarray(v).ravel()) + "]"


@torch.no_grad()
def check(path: str, octave_min: int, n_octaves: int, notes) -> None:
    m = torch.jit.load(path)
    n_in = LATENT + 12 + n_octaves
    assert list(m.get_methods()) == ["encode", "decode"], m.get_methods()
    assert m.encode_params.dtype == torch.long and m.decode_params.dtype == torch.long
    assert m.encode_params.tolist() == [N_BINS, RATIO, LATENT, RATIO]
    assert m.decode_params.tolist() == [n_in, RATIO, N_BINS, RATIO]
    expect = dict(sr=(SR,), n_fft=(2048,), hop=(256,), fmin=(30.0,), bins_per_octave=(48,),
                  n_bins=(410,), latent_size=(LATENT,), octave_min=(octave_min,),
                  n_octaves=(n_octaves,), families=tuple(FAMILIES))
    assert list(m.get_attributes()) == list(expect), m.get_attributes()
    for name, value in expect.items():
        got = tuple(getattr(m, "get_" + name)())
        assert got == value and all(type(a) is type(b) for a, b in zip(got, value)), \
            (name, got)
        arg = value[0]
        assert getattr(m, "set_" + name)(arg) != 0, name
        assert getattr(m, name + "_params").shape == (len(value),)
    assert tuple(m.data_mean.shape) == (N_BINS,) and m.data_max.dim() == 0
    assert tuple(m.family_centroids.shape) == (len(FAMILIES), LATENT)
    assert bool(torch.isfinite(m.family_centroids).all())
    x = torch.from_numpy(notes[0]["frames"][:7].T.copy()).float()[None]
    z1, z2 = m.encode(x), m.encode(x)
    assert tuple(z1.shape) == (1, LATENT, 7) and torch.equal(z1, z2), "encode deterministic"
    for i in range(7):
        zi = m.encode(x[:, :, i:i + 1])
        assert torch.allclose(zi[0, :, 0], z1[0, :, i], atol=1e-5, rtol=0), "encode per frame"
    g = torch.Generator().manual_seed(5)
    zc = torch.cat([torch.randn(1, LATENT, 7, generator=g) * 2.0,
                    torch.zeros(1, 12 + n_octaves, 7)], 1)
    for i in range(7):
        zc[0, LATENT + (i * 5) % 12, i] = 1.0
        zc[0, LATENT + 12 + i % n_octaves, i] = 1.0
    y = m.decode(zc)
    assert tuple(y.shape) == (1, N_BINS, 7) and bool(torch.isfinite(y).all())
    worst = 0.0
    for i in range(7):
        yi = m.decode(zc[:, :, i:i + 1])
        worst = max(worst, float((yi[0, :, 0] - y[0, :, i]).abs().max()))
    assert worst <= 1e-5, f"decode F=1 vs F=7 differ by {worst}"
    big = m.decode(torch.cat([torch.full((1, LATENT, 1), 50.0), zc[:, LATENT:, :1]], 1))
    assert bool(torch.isfinite(big).all()) and bool((big[0, :, 0] <= m.out_max).all())
    silent = m.encode(torch.full((1, N_BINS, 1), math.log(features.CQ_FLOOR)))
    assert bool(torch.isfinite(silent).all())
    for bad, meth in ((torch.zeros(1, N_BINS + 1, 1), m.encode), (torch.zeros(1, 3, 1), m.decode)):
        try:
            meth(bad)
        except Exception:  # noqa: BLE001 (torch.jit.Error)
            pass
        else:
            raise AssertionError("wrong channel count accepted")
    ref = os.path.join(HERE, "..", "tests", "ref", "timbre_ref.py")
    if os.path.exists(ref):  # the reference's conditioning rule agrees with training's
        import importlib.util
        spec = importlib.util.spec_from_file_location("timbre_ref", ref)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for p in range(0, 128):
            assert np.array_equal(mod.model_cond(m, p + 0.3), cond_vector(p, octave_min,
                                                                          n_octaves)), p
    print(f"self-checks passed (decode F=1 vs F=7 max diff {worst:.1e}; "
          f"encode of digital silence: {fmt(silent[0, :, 0].numpy())})")


# ------------------------------------------------------------------- main --

def main() -> None:
    pin_hash_seed()
    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    t0 = time.time()
    notes, octave_min, n_octaves = load_notes()
    tr = np.concatenate([n["frames"] for n in notes if n["split"] == "train"])
    mean = tr.mean(axis=0)
    stats = (torch.from_numpy(mean), float(np.abs(tr - mean).max()),
             torch.from_numpy(tr.min(axis=0)), torch.from_numpy(tr.max(axis=0)))
    n_test = sum(n["split"] == "test" for n in notes)
    print(f"{len(notes)} notes ({n_test} held out), {len(tr)} training frames, "
          f"octaves {octave_min}..{octave_min + n_octaves - 1}, data_max {stats[1]:.3f} "
          f"({time.time() - t0:.0f} s)")

    untrained = build(stats, octave_min, n_octaves)
    model = build(stats, octave_min, n_octaves)
    model.train()
    _, train_s = train(model, notes)
    model.eval()
    model.family_centroids.copy_(torch.from_numpy(centroids(model.encode, notes)).float())
    scripted = torch.jit.script(model)
    torch.jit.save(scripted, OUT)

    loaded = torch.jit.load(OUT)
    torch.set_num_threads(1)
    rows = [("untrained", quality(untrained.encode, untrained.decode, notes,
                                  centroids(untrained.encode, notes))),
            ("trained", quality(loaded.encode, loaded.decode, notes,
                                loaded.family_centroids.numpy()))]
    te = [n for n in notes if n["split"] == "test"]
    majority = max(sum(n["family"] == k for n in te) for k in range(len(FAMILIES))) / len(te)
    t_enc = call_time(loaded.encode, N_BINS)
    t_dec = call_time(loaded.decode, LATENT + 12 + n_octaves)
    with torch.no_grad():
        train_lat = np.concatenate([loaded.encode(torch.from_numpy(n["frames"].T.copy())
                                                  .float()[None])[0].numpy().T
                                    for n in notes if n["split"] == "train"])

    print(f"\nheld-out notes: {n_test}, {sum(len(n['frames']) for n in te)} frames "
          f"(training {train_s:.0f} s)")
    print("| model     | log-CQ MSE | log-spectral dist (dB) | spectral conv. | "
          "nearest-centroid acc. |")
    print("|-----------|-----------:|-----------------------:|---------------:|"
          "----------------------:|")
    for name, q in rows:
        print(f"| {name:9s} | {q['mse']:10.4f} | {q['lsd']:22.2f} | {q['sc']:14.3f} | "
              f"{q['acc']:21.3f} |")
    print(f"chance: 1/{len(FAMILIES)} = {1 / len(FAMILIES):.3f} (majority class "
          f"{majority:.3f})")
    print(f"per-frame call, 1 thread: encode {t_enc * 1e6:.0f} us, decode {t_dec * 1e6:.0f} us")
    print("training latents (posterior means, all frames): mean "
          f"{fmt(train_lat.mean(0))} std {fmt(train_lat.std(0))}\n  1st pct "
          f"{fmt(np.percentile(train_lat, 1, axis=0))} 99th pct "
          f"{fmt(np.percentile(train_lat, 99, axis=0))}")
    print(f"decode of z ~ N(0, I) / z ~ U(-3, 3) at random pitches: "
          f"{clamped(loaded, 1.0, False, n_octaves):.1%} / "
          f"{clamped(loaded, 3.0, True, n_octaves):.1%}"
          " of bins at the out_min/out_max clamp")
    print("family centroids:")
    for name, c in zip(FAMILIES, loaded.family_centroids.numpy()):
        print(f"  {name:8s} {fmt(c)}")

    check(OUT, octave_min, n_octaves, notes)
    with open(OUT, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    print(f"wrote {OUT} ({os.path.getsize(OUT) / 1e6:.2f} MB, sha256 {digest}) "
          f"in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
