"""Drawing and sound synthesis for `synth-mer`: a cartoon face whose geometry carries an emotion and a
voice-like harmonic signal whose pitch, energy and tempo carry one.

Cues are deliberately large and mutually distinct (a tiny model must learn them from a few hundred clips);
per-clip jitter (position, colours, intensity, pitch) keeps them from being pixel- or sample-identical.
The face also carries its emotion in a skin tint: the geometry alone changes a few hundred pixels, which a
small randomly initialised CLIP tower (32 px patches, features mixed into one CLS token) does not resolve
(a linear probe on its frame features was at chance); a tint over the whole face ellipse does reach it."""

from __future__ import annotations

import numpy as np

__all__ = ["FACE_PARAMS", "VOICE_PARAMS", "render_face", "render_voice"]

# brow_raise: px up; brow_inner: px the inner end sits lower (+) or higher (-) than the outer end;
# eye_open: eye height factor; mouth: curve kind; curve: px the mouth centre sits below the corners;
# skin: RGB of the face (flushed red when angry, pale blue when sad, ...).
FACE_PARAMS = {
    "neutral": dict(
        brow_raise=0.0, brow_inner=0.0, eye_open=1.0, mouth="curve", curve=0.0, skin=(220, 180, 140)
    ),
    "happy": dict(
        brow_raise=2.0, brow_inner=0.0, eye_open=0.75, mouth="curve", curve=10.0, skin=(250, 210, 80)
    ),
    "sad": dict(
        brow_raise=0.0, brow_inner=-7.0, eye_open=0.5, mouth="curve", curve=-9.0, skin=(140, 165, 225)
    ),
    "angry": dict(
        brow_raise=-3.0, brow_inner=9.0, eye_open=0.55, mouth="teeth", curve=-2.0, skin=(235, 85, 70)
    ),
    "surprise": dict(
        brow_raise=9.0, brow_inner=0.0, eye_open=1.7, mouth="open", curve=0.0, skin=(230, 160, 235)
    ),
    "worried": dict(
        brow_raise=4.0, brow_inner=-8.0, eye_open=1.25, mouth="wavy", curve=0.0, skin=(150, 205, 150)
    ),
}

# f0 Hz, slope: relative pitch change across a syllable, energy: peak amplitude, tempo: syllables/s,
# rolloff: harmonic amplitude k**-rolloff (small = buzzy), vibrato: relative depth at 7 Hz.
VOICE_PARAMS = {
    "neutral": dict(f0=150.0, slope=0.0, energy=0.25, tempo=3.0, rolloff=1.2, vibrato=0.0),
    "happy": dict(f0=280.0, slope=0.35, energy=0.5, tempo=4.5, rolloff=1.0, vibrato=0.0),
    "sad": dict(f0=105.0, slope=-0.3, energy=0.12, tempo=1.8, rolloff=1.6, vibrato=0.0),
    "angry": dict(f0=200.0, slope=-0.1, energy=0.85, tempo=6.0, rolloff=0.5, vibrato=0.0),
    "surprise": dict(f0=340.0, slope=0.8, energy=0.6, tempo=2.5, rolloff=1.0, vibrato=0.0),
    "worried": dict(f0=230.0, slope=0.0, energy=0.3, tempo=4.0, rolloff=1.2, vibrato=0.08),
}


def _ellipse(yy, xx, cy, cx, ry, rx):
    return ((yy - cy) / max(ry, 0.5)) ** 2 + ((xx - cx) / max(rx, 0.5)) ** 2 <= 1.0


def _curve_mask(yy, xx, x0, x1, curve_y, thickness):
    """Pixels within `thickness` (vertically) of the curve y = curve_y (evaluated on `xx`), x in [x0, x1]."""
    inside = (xx >= x0) & (xx <= x1)
    return inside & (np.abs(yy - curve_y) <= thickness)


def render_face(emotion: str, rng: np.random.Generator, num_frames: int, size: int = 128) -> np.ndarray:
    """(T, size, size, 3) uint8 frames of a drawn face showing `emotion`; a slow head bob makes the frames
    differ over time."""
    p = FACE_PARAMS[emotion]
    k = rng.uniform(0.85, 1.15)  # expression intensity
    s = size / 128.0
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    background = rng.integers(40, 120) + rng.integers(-12, 12, size=3)  # muted, so the skin tint stands out
    skin = np.array(p["skin"]) + rng.integers(-15, 15, size=3)
    cx = size / 2 + rng.uniform(-5, 5) * s
    cy0 = size / 2 + rng.uniform(-4, 4) * s
    phase = rng.uniform(0, 2 * np.pi)
    frames = np.empty((num_frames, size, size, 3), dtype=np.uint8)
    for t in range(num_frames):
        cy = cy0 + 2.0 * s * np.sin(phase + 2 * np.pi * t / max(num_frames, 1))
        img = np.empty((size, size, 3), dtype=np.uint8)
        img[:] = background
        img[_ellipse(yy, xx, cy, cx, 52 * s, 43 * s)] = np.clip(skin, 0, 255)
        dark = np.array([30, 20, 20])
        for side in (-1, 1):
            ex, ey = cx + side * 17 * s, cy - 10 * s
            eye_ry = 6.0 * s * (1 + (p["eye_open"] - 1) * k)
            img[_ellipse(yy, xx, ey, ex, eye_ry, 8.5 * s)] = (250, 250, 250)
            img[_ellipse(yy, xx, ey, ex, min(eye_ry, 3.5 * s), 3.5 * s)] = dark
            # Brow: a line from the outer to the inner end; the inner end moves by brow_inner.
            base = ey - 12 * s - p["brow_raise"] * k * s
            outer, inner = ex + side * 11 * s, ex - side * 11 * s
            x0, x1 = min(outer, inner), max(outer, inner)

            brow = base + p["brow_inner"] * k * s * (xx - outer) / (inner - outer)
            img[_curve_mask(yy, xx, x0, x1, brow, 2.0 * s)] = dark
        mx, my, hw = cx, cy + 24 * s, 16 * s
        if p["mouth"] == "open":
            img[_ellipse(yy, xx, my, mx, 11 * s * k, 8 * s)] = (90, 20, 30)
        elif p["mouth"] == "wavy":
            wave = my + 3.5 * s * k * np.sin(3 * np.pi * (xx - mx) / hw)
            img[_curve_mask(yy, xx, mx - hw, mx + hw, wave, 1.8 * s)] = dark
        elif p["mouth"] == "teeth":
            box = (np.abs(xx - mx) <= hw) & (np.abs(yy - my) <= 4 * s)
            img[box] = (245, 245, 245)
            img[box & (np.abs(yy - my) >= 2.6 * s)] = dark
            img[box & (np.abs(xx - mx) >= hw - 1.3 * s)] = dark
            for tooth in np.linspace(mx - hw, mx + hw, 7)[1:-1]:
                img[box & (np.abs(xx - tooth) <= 0.6 * s)] = dark
        else:
            curve = p["curve"] * k * s  # > 0: centre below the corners (smile), < 0: frown
            mouth = my + curve * (1 - ((xx - mx) / hw) ** 2) - curve / 2
            img[_curve_mask(yy, xx, mx - hw, mx + hw, mouth, 2.0 * s)] = dark
        frames[t] = img
    return frames


def render_voice(
    emotion: str, rng: np.random.Generator, seconds: float, sample_rate: int = 16000
) -> np.ndarray:
    """(N,) float32 in [-1, 1]: a train of harmonic 'syllables' with emotion-specific pitch, contour,
    loudness, rate and timbre, plus faint noise."""
    p = VOICE_PARAMS[emotion]
    n = int(round(seconds * sample_rate))
    t = np.arange(n, dtype=np.float64) / sample_rate
    f0 = p["f0"] * rng.uniform(0.95, 1.05)
    tempo = p["tempo"] * rng.uniform(0.9, 1.1)
    energy = p["energy"] * rng.uniform(0.9, 1.1)
    period = 1.0 / tempo
    offset = rng.uniform(0, period)
    pos = ((t + offset) % period) / period  # position inside the current syllable slot, 0..1
    voiced = pos < 0.7
    rel = np.clip(pos / 0.7, 0, 1)
    freq = f0 * (1 + p["slope"] * (rel - 0.5)) * (1 + p["vibrato"] * np.sin(2 * np.pi * 7 * t))
    phase = 2 * np.pi * np.cumsum(freq) / sample_rate
    wave = sum(np.sin(h * phase) * h ** (-p["rolloff"]) for h in range(1, 7))
    wave /= np.max(np.abs(wave)) + 1e-9
    envelope = np.where(voiced, np.sin(np.pi * rel) ** 2, 0.0)
    audio = energy * envelope * wave + 0.004 * rng.standard_normal(n)
    return np.clip(audio, -1, 1).astype(np.float32)
