"""Write fashion_sample.npz: 40 synthetic, image-like 28 x 28 samples in [0, 1] with labels.

No download: each of the 10 classes is a garment-like silhouette (a filled shape at a class-own
place and size) with a soft edge and a little noise; the labels cycle through the classes so any
8 consecutive samples hold 8 different classes. Stored as uint8 / 255 in float16: about 20 KB.

    python tests/submissions/make_fashion_sample.py
"""

from pathlib import Path

import numpy as np

SAMPLES = 40


def silhouette(label: int, rng: np.random.Generator) -> np.ndarray:
    rows, cols = np.mgrid[0:28, 0:28]
    top, left = 3 + (label // 5) * 10 + rng.integers(-1, 2), 3 + (label % 5) * 4 + rng.integers(-1, 2)
    height, width = 8 + label % 3 * 3, 6 + label // 3 * 2
    inside = (rows >= top) & (rows < top + height) & (cols >= left) & (cols < left + width)
    image = inside * (0.6 + 0.4 * rng.random()) + 0.08 * rng.random((28, 28))
    return np.clip(image, 0.0, 1.0)


def main() -> None:
    rng = np.random.default_rng(2024)
    labels = np.arange(SAMPLES) % 10
    images = np.stack([silhouette(int(c), rng) for c in labels])
    x = (np.round(images * 255) / 255).astype("float16")
    np.savez_compressed(Path(__file__).with_name("fashion_sample.npz"), x=x, y=labels.astype("uint8"))


if __name__ == "__main__":
    main()
