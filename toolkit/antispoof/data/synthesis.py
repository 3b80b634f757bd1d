"""Synthetic presentation attacks made from real face crops (training-time augmentation).

Each transform is a small pure function on an H×W×3 float32 RGB image (0..255) with explicit
parameters, modelling one physical effect of showing a face on a screen or on paper and filming
it again. ``synthesize`` draws a family and parameters at random and chains the effects.

Screen replay: display resampling and moiré, sub-pixel RGB stripes, reduced gamut and gamma,
backlight bloom, glare, a bezel edge, refresh banding, re-capture blur and noise, JPEG of the
re-capture. Print: halftone dots, paper texture, ink gamut, bending shading, a paper border.
"""
import cv2
import numpy as np

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _grid(image):
    h, w = image.shape[:2]
    return np.mgrid[0:h, 0:w].astype(np.float32)  # y, x


def _clip(image):
    return np.clip(image, 0, 255).astype(np.float32)


def moire(image, period, angle, strength):
    """Interference of the display's pixel grid with the camera's: a sinusoidal brightness
    pattern of ``period`` pixels at ``angle`` radians (energy at spatial frequency 1/period)."""
    y, x = _grid(image)
    wave = np.cos(2 * np.pi * (x * np.cos(angle) + y * np.sin(angle)) / period)
    return _clip(image * (1 + strength * wave)[..., None])


def subpixel_stripes(image, pitch, strength):
    """Each display pixel is an R, G and B stripe side by side: columns of period ``pitch``
    pixels in which each third favours one channel."""
    _, x = _grid(image)
    phase = np.floor((x % pitch) / pitch * 3).astype(int)
    mask = np.stack([(phase == c) for c in range(3)], axis=-1).astype(np.float32)
    return _clip(image * ((1 - strength) + strength * 3 * mask) / ((1 - strength) + strength))


def gamut(image, chroma, gamma):
    """A display's or an ink's smaller colour range: chroma pulled toward grey by ``chroma``
    (1 keeps it) and tones bent by ``gamma``."""
    luma = (image @ LUMA)[..., None]
    toned = luma + chroma * (image - luma)
    return _clip(255 * (np.clip(toned, 0, 255) / 255) ** gamma)


def bloom(image, strength, sigma):
    """Backlight bleeding around bright areas: a blurred copy of the highlights added."""
    highlights = np.clip(image - 128, 0, None)
    return _clip(image + strength * cv2.GaussianBlur(highlights, (0, 0), sigma))


def glare(image, cx, cy, radius, strength):
    """A specular reflection on the glass: a bright radial patch at (cx, cy), fractions of the
    width and height."""
    y, x = _grid(image)
    h, w = image.shape[:2]
    d2 = ((x - cx * w) ** 2 + (y - cy * h) ** 2) / (radius * max(h, w)) ** 2
    return _clip(image + strength * 255 * np.exp(-d2)[..., None])


def border(image, side, width, colour):
    """A bezel or paper edge inside the crop: ``width`` (fraction) of ``side`` (0 top, 1 right,
    2 bottom, 3 left) painted ``colour``."""
    out = image.copy()
    h, w = image.shape[:2]
    n = max(1, int(round(width * (h if side in (0, 2) else w))))
    region = {0: (slice(0, n), slice(None)), 1: (slice(None), slice(w - n, w)),
              2: (slice(h - n, h), slice(None)), 3: (slice(None), slice(0, n))}[side]
    out[region] = np.asarray(colour, np.float32)
    return out


def banding(image, period, strength):
    """Rolling-shutter capture of a refreshing screen: horizontal bands."""
    y, _ = _grid(image)
    return _clip(image * (1 - strength * (0.5 + 0.5 * np.sin(2 * np.pi * y / period)))[..., None])


def recapture(image, sigma, noise, seed):
    """The second camera: defocus blur and sensor noise."""
    blurred = cv2.GaussianBlur(image, (0, 0), sigma) if sigma > 0 else image
    return _clip(blurred + np.random.default_rng(seed).normal(0, noise, image.shape))


def jpeg(image, quality):
    """The re-captured frame compressed again."""
    ok, data = cv2.imencode(".jpg", np.clip(image, 0, 255).astype(np.uint8)[..., ::-1],
                            [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32)


def halftone(image, cell, strength):
    """Printed dots: in each ``cell``×``cell`` cell a round dot whose area follows the ink
    coverage, per channel (energy at spatial frequency 1/cell)."""
    y, x = _grid(image)
    r = np.hypot((x % cell) - (cell - 1) / 2, (y % cell) - (cell - 1) / 2) / (cell / 2)
    coverage = 1 - image / 255  # ink needed
    dots = (r[..., None] < np.sqrt(coverage) * 1.15).astype(np.float32)
    printed = 255 * (1 - dots)
    return _clip((1 - strength) * image + strength * printed)


def paper(image, strength, seed):
    """Paper fibre texture: low-amplitude, slightly blurred noise multiplied in."""
    grain = np.random.default_rng(seed).normal(0, 1, image.shape[:2]).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8)
    return _clip(image * (1 + strength * grain)[..., None])


def bend(image, amount, axis):
    """A bent photograph lit from one side: brightness falling off across ``axis``."""
    y, x = _grid(image)
    t = (x / max(1, image.shape[1] - 1)) if axis == 0 else (y / max(1, image.shape[0] - 1))
    return _clip(image * (1 - amount * (1 - np.cos(np.pi * t)) / 2)[..., None])


def camera(image, rng):
    """What any webcam does to any face, live or not: some blur, noise and JPEG. Applied to
    real crops too, so that a model cannot take these for signs of an attack."""
    out = recapture(image, rng.uniform(0, 1.0) * image.shape[0] / 64, rng.uniform(0, 5),
                    rng.integers(2**31))
    return jpeg(out, rng.integers(40, 95)) if rng.random() < 0.7 else out


SCREEN = ("moire", "stripes", "gamut", "bloom", "glare", "border", "banding", "recapture", "jpeg")
PRINT = ("halftone", "paper", "gamut", "bend", "border", "recapture", "jpeg")
FAMILIES = ("screen", "print")


def synthesize(image, rng, families=FAMILIES, disabled=()):
    """A synthetic attack from a real crop: one family drawn, its transforms applied with
    random parameters in a physically plausible range, each with probability 0.6."""
    family = families[rng.integers(len(families))]
    steps = [s for s in (SCREEN if family == "screen" else PRINT) if s not in disabled]
    h = image.shape[0]
    out = image.astype(np.float32)
    for step in steps:
        if rng.random() > 0.6:
            continue
        if step == "moire":
            out = moire(out, rng.uniform(3, 12), rng.uniform(0, np.pi), rng.uniform(0.05, 0.25))
        elif step == "stripes":
            out = subpixel_stripes(out, 3 * rng.integers(2, 5), rng.uniform(0.1, 0.4))
        elif step == "gamut":
            out = gamut(out, rng.uniform(0.5, 0.9), rng.uniform(0.7, 1.4))
        elif step == "bloom":
            out = bloom(out, rng.uniform(0.2, 0.8), rng.uniform(2, 6) * h / 64)
        elif step == "glare":
            out = glare(out, rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.1, 0.4),
                        rng.uniform(0.1, 0.5))
        elif step == "border":
            colour = (rng.uniform(0, 40),) * 3 if family == "screen" else (rng.uniform(200, 255),) * 3
            out = border(out, rng.integers(4), rng.uniform(0.03, 0.12), colour)
        elif step == "banding":
            out = banding(out, rng.uniform(8, 32) * h / 64, rng.uniform(0.05, 0.2))
        elif step == "recapture":
            out = recapture(out, rng.uniform(0, 1.2) * h / 64, rng.uniform(1, 6), rng.integers(2**31))
        elif step == "jpeg":
            out = jpeg(out, rng.integers(30, 80))
        elif step == "halftone":
            out = halftone(out, rng.integers(3, 6), rng.uniform(0.2, 0.6))
        elif step == "paper":
            out = paper(out, rng.uniform(0.02, 0.08), rng.integers(2**31))
        elif step == "bend":
            out = bend(out, rng.uniform(0.1, 0.4), rng.integers(2))
    return out
