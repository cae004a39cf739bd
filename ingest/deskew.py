"""Skew estimation for scans: the angle at which text lines are most horizontal.

Projection profile on a small copy of the page: rotated by the right angle, the rows of ink
and the blank rows between lines alternate most sharply (the row sums vary the most).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

MAX_ANGLE = 6.0
MIN_CORRECTION = 0.8  # below this Tesseract copes on its own


def _score(small: Image.Image, angle: float) -> float:
    turned = small.rotate(angle, resample=Image.Resampling.NEAREST, fillcolor=255)
    ink = np.asarray(turned, dtype=np.uint8) < 160
    return float(np.var(ink.sum(axis=1)))


def estimate_skew(image: Image.Image) -> float:
    """Degrees (counter-clockwise, PIL's sense) that straighten the page; 0.0 when unsure."""
    gray = image.convert("L")
    factor = max(1, gray.width // 450)
    small = gray.reduce(factor) if factor > 1 else gray
    if (np.asarray(small) < 160).mean() < 0.002:  # (almost) blank page
        return 0.0
    coarse = np.arange(-MAX_ANGLE, MAX_ANGLE + 0.01, 1.0)
    best = max(coarse, key=lambda a: _score(small, float(a)))
    fine = np.arange(best - 0.75, best + 0.76, 0.25)
    best = max(fine, key=lambda a: _score(small, float(a)))
    return round(float(best), 1) if abs(best) >= MIN_CORRECTION else 0.0


def straighten(image: Image.Image, angle: float) -> Image.Image:
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
