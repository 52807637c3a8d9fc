"""vitsd.book.from_scratch: the chapters' NumPy re-derivations equal the package's layers."""

import numpy as np
import pytest

from vitsd.book.from_scratch import spt_patches


def loop_spt(images, p):
    """Reference by hand: for every patch and view, read each pixel through the shift."""
    n, h, w, c = images.shape
    s = p // 2
    offsets = [(0, 0), (s, s), (-s, s), (s, -s), (-s, -s)]  # original, left-up, ...
    out = np.zeros((n, (h // p) * (w // p), p * p * 5 * c))
    for b in range(n):
        for k in range((h // p) * (w // p)):
            r0, c0 = (k // (w // p)) * p, (k % (w // p)) * p
            values = []
            for i in range(p):
                for j in range(p):
                    for dy, dx in offsets:
                        y, x = r0 + i + dy, c0 + j + dx
                        for ch in range(c):
                            inside = 0 <= y < h and 0 <= x < w
                            values.append(images[b, y, x, ch] if inside else 0.0)
            out[b, k] = values
    return out


def test_a_hand_case_on_a_numbered_4x4_image():
    image = np.arange(16, dtype=float).reshape(1, 4, 4, 1)
    flat = spt_patches(image, 2)  # 4 patches of 2x2, shifts of 1
    assert flat.shape == (1, 4, 2 * 2 * 5)
    # patch 0, pixel (0, 0): original 0; left-up shows the pixel one down and right, 5;
    # left-down the pixel one up (outside: 0) ; right-up one left (outside: 0); right-down 0.
    np.testing.assert_array_equal(flat[0, 0, :5], [0, 5, 0, 0, 0])
    # patch 3 (bottom right), its pixel (1, 1) = image pixel 15: left-up reads outside.
    np.testing.assert_array_equal(flat[0, 3, -5:], [15, 0, 0, 0, 10])


@pytest.mark.parametrize("size, p, c", [(8, 4, 1), (12, 6, 3), (8, 2, 2)])
def test_equals_the_loop_reference(size, p, c):
    images = np.random.default_rng(size + p).normal(size=(2, size, size, c))
    np.testing.assert_allclose(spt_patches(images, p), loop_spt(images, p))


@pytest.mark.backend
@pytest.mark.parametrize("size, p", [(32, 4), (24, 6)])
def test_equals_the_layers_flat_patches(size, p):
    import vitsd

    images = np.random.default_rng(p).integers(0, 256, (2, size, size, 3)).astype("float32")
    layer = vitsd.ShiftedPatchTokenization(p, 16)
    np.testing.assert_array_equal(spt_patches(images, p),
                                  np.asarray(layer.flat_patches(images)))


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match="divisible by patch_size"):
        spt_patches(np.zeros((1, 6, 6, 1)), 4)
    with pytest.raises(ValueError, match="patch_size"):
        spt_patches(np.zeros((1, 8, 8, 1)), 1)
    with pytest.raises(ValueError, match="images"):
        spt_patches(np.zeros((8, 8, 1)), 4)
