#!/usr/bin/env python3
"""Writes image_ops.safetensors, the fixture of tests/test_image_ops.cpp: torchvision 0.14's functional ops
on PIL images (Pillow underneath) and TrivialAugmentWide's ops through its own _apply_op (run with Debian's
python3: python3-torch, python3-torchvision, python3-pil, python3-numpy):

    /usr/bin/python3 tests/reference/make_image_op_fixtures.py [--stress OUT]

Tensors (uint8 arrays are HWC, grey images HxWx1):
  input/<image>                          the source images
  <op>/<case>/params                     float64 parameters of one call (see OPS below for their order)
  <op>/<case>/<image>                    its result on each image
  trivial_augment/<Op>/<bin>/<pos|neg>/<image>
                                         _apply_op(img, Op, magnitude of the bin (negated for neg), NEAREST,
                                         fill None), exactly as TrivialAugmentWide.forward calls it
  trivial_augment/magnitudes/<Op>        float32 magnitude table of each op that has one
Metadata: trivial_augment_ops, the op names of _augmentation_space in order.

--stress OUT writes a much larger file (bigger images, many random parameters) for checking by hand;
it is not committed.
"""
import argparse
import math
import os

import numpy as np
from PIL import Image
import torchvision.transforms.functional as F
from torchvision.transforms import InterpolationMode, TrivialAugmentWide
from torchvision.transforms.autoaugment import _apply_op

import safetensors_io

here = os.path.dirname(os.path.abspath(__file__))


def test_image(width, height, seed, grey=False):
    """Ramps in different directions per channel, uniform noise on part of it, saturated and grey patches."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    channels = 1 if grey else 3
    img = np.zeros((height, width, channels), dtype=np.int64)
    for c in range(channels):
        ramp = (x * (97 + 40 * c) // max(width - 1, 1) + y * (181 - 60 * c) // max(height - 1, 1) + 11 * c)
        img[:, :, c] = ramp % 256
    noisy = rng.random((height, width)) < 0.5
    img[noisy] = rng.integers(0, 256, size=(int(noisy.sum()), channels))
    img[: height // 5, : width // 4] = 255  # saturated corner
    img[-(height // 4):, : width // 5] = 0
    patch = img[height // 3 : height // 3 + 3, width // 2 : width // 2 + 3, :1]
    img[height // 3 : height // 3 + 3, width // 2 : width // 2 + 3] = patch  # grey pixels (r = g = b)
    return img.astype(np.uint8)


def narrow_image():
    """Per-channel ranges that exercise autocontrast / equalize branches: a stretch, a constant, two values."""
    rng = np.random.default_rng(7)
    img = np.zeros((10, 12, 3), dtype=np.uint8)
    img[:, :, 0] = rng.integers(60, 141, size=(10, 12))
    img[:, :, 1] = 77
    img[:, :, 2] = np.where(rng.random((10, 12)) < 0.3, 20, 200)
    return img


def to_pil(a):
    return Image.fromarray(a[:, :, 0], "L") if a.shape[2] == 1 else Image.fromarray(a, "RGB")


def from_pil(img):
    a = np.asarray(img, dtype=np.uint8)
    return a[:, :, None] if a.ndim == 2 else a


def affine_call(img, p):
    angle, tx, ty, scale, shx, shy, has_center, cx, cy = p
    center = [cx, cy] if has_center else None
    return F.affine(img, angle=angle, translate=[tx, ty], scale=scale, shear=[shx, shy],
                    interpolation=InterpolationMode.NEAREST, fill=None, center=center)


# op name -> (function of (PIL image, params), images it runs on)
OPS = {
    "adjust_brightness": lambda img, p: F.adjust_brightness(img, p[0]),
    "adjust_contrast": lambda img, p: F.adjust_contrast(img, p[0]),
    "adjust_saturation": lambda img, p: F.adjust_saturation(img, p[0]),
    "adjust_sharpness": lambda img, p: F.adjust_sharpness(img, p[0]),
    "adjust_hue": lambda img, p: F.adjust_hue(img, p[0]),
    "posterize": lambda img, p: F.posterize(img, int(p[0])),
    "solarize": lambda img, p: F.solarize(img, p[0]),
    "autocontrast": lambda img, p: F.autocontrast(img),
    "equalize": lambda img, p: F.equalize(img),
    # angle, translate x, translate y, scale, shear x, shear y, has center, center x, center y
    "affine": affine_call,
    "rotate": lambda img, p: F.rotate(img, p[0], interpolation=InterpolationMode.NEAREST, fill=None),
}

SMALL_CASES = {
    "adjust_brightness": [[0.0], [0.37], [1.0], [1.5], [2.3]],
    "adjust_contrast": [[0.0], [0.5], [1.0], [1.8]],
    "adjust_saturation": [[0.0], [0.45], [1.7]],
    "adjust_sharpness": [[0.0], [0.6], [1.9], [3.0]],
    "adjust_hue": [[-0.5], [-0.27], [-0.002], [0.1], [0.5]],
    "posterize": [[0], [1], [4], [7], [8]],
    "solarize": [[0.0], [100.0], [127.5], [255.0], [256.0]],
    "autocontrast": [[]],
    "equalize": [[]],
    "affine": [[30.0, 2, -3, 1.2, 10.0, -5.0, 0, 0, 0],
               [-45.0, 0, 0, 0.8, 0.0, 0.0, 0, 0, 0],
               [0.0, 0, 0, 2.0, 0.0, 0.0, 1, 3.5, 2.0],
               [12.5, 0, 0, 0.0003, 0.0, 0.0, 1, 7.5, 6.5]],  # corners beyond 16.16: PIL's float path
    "rotate": [[0.0], [33.3], [-17.0], [90.0], [-90.0], [180.0], [405.0], [-135.0], [200.5]],
}


# Images for the histogram ops besides the common ones: equalize needs over 510 pixels to do anything.
SPECIAL_USERS = {
    "adjust_contrast": ["narrow", "flat"],
    "autocontrast": ["narrow", "flat", "rgb32", "grey32x24"],
    "equalize": ["narrow", "flat", "rgb32", "grey32x24"],
}


def stress_cases(rng):
    def factors(n, hi):
        return [[0.0], [1.0]] + [[float(v)] for v in rng.uniform(0.0, hi, n)]
    affine = []
    for _ in range(40):
        affine.append([float(rng.uniform(-180, 180)), int(rng.integers(-20, 21)), int(rng.integers(-20, 21)),
                       float(rng.uniform(0.5, 2.0)), float(rng.uniform(-40, 40)), float(rng.uniform(-40, 40)),
                       int(rng.integers(0, 2)), float(rng.uniform(0, 40)), float(rng.uniform(0, 30))])
    return {
        "adjust_brightness": factors(80, 3.0),
        "adjust_contrast": factors(80, 3.0),
        "adjust_saturation": factors(80, 3.0),
        "adjust_sharpness": factors(80, 3.0),
        "adjust_hue": [[-0.5], [0.5], [0.0]] + [[float(v)] for v in rng.uniform(-0.5, 0.5, 80)],
        "posterize": [[b] for b in range(9)],
        "solarize": [[float(t)] for t in range(-1, 258, 7)] + [[float(v)] for v in rng.uniform(0, 256, 20)],
        "autocontrast": [[]],
        "equalize": [[]],
        "affine": SMALL_CASES["affine"] + affine,
        "rotate": [[a] for a in (0.0, 90.0, 180.0, 270.0, -90.0, 360.0, 720.5, -0.5)]
                  + [[float(v)] for v in rng.uniform(-400, 400, 60)],
    }


def case_name(params):
    return "_".join(repr(float(p)) for p in params) if params else "default"


def trivial_augment_cases(out, images, bins, negated_bins):
    ta = TrivialAugmentWide()  # num_magnitude_bins 31, NEAREST, fill None
    space = ta._augmentation_space(ta.num_magnitude_bins)
    for name, (magnitudes, signed) in space.items():
        if magnitudes.ndim > 0:
            out[f"trivial_augment/magnitudes/{name}"] = magnitudes.numpy().astype(np.float32)
        for b in (bins if magnitudes.ndim > 0 else [0]):
            for negate in ((False, True) if signed and b in negated_bins else (False,)):
                # The magnitude exactly as forward computes it.
                magnitude = float(magnitudes[b].item()) if magnitudes.ndim > 0 else 0.0
                if negate:
                    magnitude *= -1.0
                for image_name, a in images.items():
                    result = _apply_op(to_pil(a), name, magnitude, interpolation=ta.interpolation, fill=ta.fill)
                    out[f"trivial_augment/{name}/{b}/{'neg' if negate else 'pos'}/{image_name}"] = from_pil(result)
    return ",".join(space.keys())


def build(images, special, cases, bins, negated_bins):
    out = {f"input/{n}": a for n, a in {**images, **special}.items()}
    for op, op_cases in cases.items():
        targets = dict(images)
        targets.update({n: special[n] for n in SPECIAL_USERS.get(op, []) if n in special})
        for params in op_cases:
            key = f"{op}/{case_name(params)}"
            out[f"{key}/params"] = np.array(params, dtype=np.float64)
            for image_name, a in targets.items():
                out[f"{key}/{image_name}"] = from_pil(OPS[op](to_pil(a), params))
    names = trivial_augment_cases(out, images, bins, negated_bins)
    return out, {"trivial_augment_ops": names}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--stress", metavar="OUT", help="write the large hand-checking fixture here instead")
    args = parser.parse_args()
    if args.stress:
        images = {"rgb64x48": test_image(64, 48, 1), "rgb33x37": test_image(33, 37, 2),
                  "grey31x29": test_image(31, 29, 3, grey=True),
                  "noise40": np.random.default_rng(4).integers(0, 256, (40, 40, 3)).astype(np.uint8),
                  "tiny2x5": test_image(2, 5, 5)}
        special = {"narrow": narrow_image(), "flat": np.full((6, 7, 3), 93, dtype=np.uint8),
                   "rgb32": test_image(32, 32, 10), "grey32x24": test_image(32, 24, 11, grey=True)}
        tensors, meta = build(images, special, stress_cases(np.random.default_rng(0)), list(range(31)),
                              list(range(31)))
        path = args.stress
    else:
        images = {"rgb16": test_image(16, 16, 1), "rgb15x10": test_image(15, 10, 2),
                  "grey11x9": test_image(11, 9, 3, grey=True)}
        # Bin 20 is Rotate's 90 degrees (PIL's exact quarter turn on the square image); bin 0 negated only
        # matters to the geometry through a signed zero, which the stress set covers.
        special = {"narrow": narrow_image(), "rgb32": test_image(32, 32, 10),
                   "grey32x24": test_image(32, 24, 11, grey=True)}
        tensors, meta = build(images, special, SMALL_CASES, [0, 7, 20, 30], [7, 20, 30])
        path = os.path.join(here, "image_ops.safetensors")
    safetensors_io.save(path, tensors, meta)
    print(f"{path}: {len(tensors)} tensors, {os.path.getsize(path)} bytes")


if __name__ == "__main__":
    main()
