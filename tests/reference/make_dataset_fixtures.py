#!/usr/bin/env python3
"""Writes the small fixtures the dataset tests read (run with Debian's python3: python3-pil,
python3-torchvision, python3-scipy, python3-numpy):

  svhn_tiny.mat        SVHN's format: X (32, 32, 3, 3) uint8, y (3, 1) double with 10 meaning digit 0,
                       zlib-compressed MATLAB v5 (scipy.io.savemat, as torchvision's downloads are)
  pil_reference.json   "images": index of pil_reference.bin (name, width, height, channels, byte offset);
                       "random_resized_crop": statistics of torchvision's RandomResizedCrop.get_params
  pil_reference.bin    uint8 HWC outputs of PIL / torchvision on the 40x30 source image below
  pil_decode.jpg, pil_cmyk.jpg, pil_grey.png, pil_grey.jpg
                       images whose PIL decoding (convert("RGB")) is stored in pil_reference.bin

    /usr/bin/python3 tests/reference/make_dataset_fixtures.py
"""
import json
import math
import os

import numpy as np
import scipy.io
import torch
from PIL import Image
import torchvision.transforms as T
import torchvision.transforms.functional as F

here = os.path.dirname(os.path.abspath(__file__))


def source(width=40, height=30):
    # Same formula as tests/test_datasets_transforms.cpp: smooth ramps plus some high-frequency content.
    y, x, c = np.meshgrid(np.arange(height), np.arange(width), np.arange(3), indexing="ij")
    return ((x * 7 + y * 13 + c * 50 + ((x * y) % 11) * 9) % 256).astype(np.uint8)


def crop_statistics(draws=20000):
    # RandomResizedCrop(scale=(0.08, 1), ratio=(3/4, 4/3)).get_params on images of a few shapes.
    torch.manual_seed(0)
    out = []
    for width, height in [(500, 375), (64, 512), (40, 30)]:
        img = Image.new("RGB", (width, height))
        area, logr, ws, hs, full = [], [], [], [], 0
        for _ in range(draws):
            i, j, h, w = T.RandomResizedCrop.get_params(img, [0.08, 1.0], [3 / 4, 4 / 3])
            area.append(h * w / (width * height))
            logr.append(math.log(w / h))
            ws.append(w)
            hs.append(h)
            full += (w, h) == (width, height)
        out.append({"width": width, "height": height, "draws": draws,
                    "mean_area": float(np.mean(area)), "std_area": float(np.std(area)),
                    "mean_log_ratio": float(np.mean(logr)), "std_log_ratio": float(np.std(logr)),
                    "mean_w": float(np.mean(ws)), "mean_h": float(np.mean(hs)), "whole_image": full / draws})
    return out


def main():
    # ---- SVHN
    X = np.zeros((32, 32, 3, 3), dtype=np.uint8)
    for n in range(3):
        for c in range(3):
            X[:, :, c, n] = (np.arange(32)[:, None] * 3 + np.arange(32)[None, :] * 5 + c * 40 + n * 17) % 256
    y = np.array([[10.0], [1.0], [5.0]])
    scipy.io.savemat(os.path.join(here, "svhn_tiny.mat"), {"X": X, "y": y}, do_compression=True)

    # ---- PIL / torchvision references
    src = Image.fromarray(source(), "RGB")
    outputs = {
        "down_17x13": src.resize((17, 13), Image.BILINEAR),
        "up_43x33": src.resize((43, 33), Image.BILINEAR),
        "down_5x4": src.resize((5, 4), Image.BILINEAR),  # wide filters (17 taps)
        "vertical_40x11": src.resize((40, 11), Image.BILINEAR),
        "horizontal_9x30": src.resize((9, 30), Image.BILINEAR),
        # torchvision's resized_crop(top, left, height, width, size): crop (5, 3, 27x22) -> 13 wide, 31 high
        "resized_crop": F.resized_crop(src, 3, 5, 22, 27, [31, 13], T.InterpolationMode.BILINEAR),
        "grey": src.convert("L"),
        "grey_down_17x13": src.convert("L").resize((17, 13), Image.BILINEAR),
        # ImageNet-style inference at small scale: Resize(20) (shorter side) then CenterCrop(15)
        "resize20_center15": T.CenterCrop(15)(T.Resize(20)(src)),
        # CenterCrop larger than the image pads with zeros
        "center_crop_20_of_17x13": T.CenterCrop(20)(src.resize((17, 13), Image.BILINEAR)),
    }
    src.save(os.path.join(here, "pil_decode.jpg"), quality=90)
    outputs["decode_jpg"] = Image.open(os.path.join(here, "pil_decode.jpg")).convert("RGB")
    cmyk = Image.fromarray(source(8, 8)[:, :, :1].repeat(4, axis=2) // 2 + np.array([0, 40, 80, 20], np.uint8), "CMYK")
    cmyk.save(os.path.join(here, "pil_cmyk.jpg"), quality=95)
    outputs["cmyk_jpg"] = Image.open(os.path.join(here, "pil_cmyk.jpg")).convert("RGB")
    Image.fromarray(source(12, 10)[:, :, 0], "L").save(os.path.join(here, "pil_grey.png"))
    outputs["grey_png"] = Image.open(os.path.join(here, "pil_grey.png")).convert("RGB")
    Image.fromarray(source(12, 10)[:, :, 1], "L").save(os.path.join(here, "pil_grey.jpg"), quality=90)
    outputs["grey_jpg"] = Image.open(os.path.join(here, "pil_grey.jpg")).convert("RGB")

    index, blob = [], bytearray()
    for name, img in outputs.items():
        a = np.asarray(img, dtype=np.uint8)
        channels = 1 if a.ndim == 2 else a.shape[2]
        index.append({"name": name, "width": img.size[0], "height": img.size[1], "channels": channels,
                      "offset": len(blob)})
        blob += a.tobytes()
    with open(os.path.join(here, "pil_reference.bin"), "wb") as f:
        f.write(bytes(blob))
    with open(os.path.join(here, "pil_reference.json"), "w") as f:
        json.dump({"images": index, "random_resized_crop": crop_statistics()}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
