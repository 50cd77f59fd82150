"""Make ``digits.npz``, the embedded 8x8 handwritten digits, once, from scikit-learn's copy.

Source: the UCI Machine Learning Repository, "Optical Recognition of Handwritten Digits"
(E. Alpaydin and C. Kaynak, 1998), https://doi.org/10.24432/C50P49, licensed CC BY 4.0.
scikit-learn bundles its test set, 1,797 images of 8x8 integer pixels in 0..16 from 13 writers,
as ``sklearn.datasets.load_digits``; this script copies that bundled file, no download.

Stored compressed: ``images (1797, 8, 8) uint8`` in 0..16 and ``labels (1797,) uint8`` in 0..9,
in scikit-learn's order. jaxmlp reads it with numpy alone, so the core install needs no
scikit-learn. Run from the repository root: ``python jaxmlp/_data/make_digits.py``.
"""

import pathlib

import numpy as np


def main() -> None:
    from sklearn.datasets import load_digits  # the maintainer's tool, never a run-time import

    digits = load_digits()
    images = digits.images.astype(np.uint8)
    labels = digits.target.astype(np.uint8)
    if not (np.array_equal(images, digits.images) and np.array_equal(labels, digits.target)):
        raise ValueError("load_digits returned values that do not fit uint8.")
    path = pathlib.Path(__file__).with_name("digits.npz")
    np.savez_compressed(path, images=images, labels=labels)
    print(f"wrote {path}: images {images.shape}, labels {labels.shape}")


if __name__ == "__main__":
    main()
