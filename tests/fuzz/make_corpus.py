#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets into tests/fuzz/corpus/<target>/ (small valid files of each
format; the fuzzers mutate from them). Plain python3, no numpy:  python3 tests/fuzz/make_corpus.py"""
import gzip
import json
import os
import struct
import zlib

here = os.path.dirname(os.path.abspath(__file__))
reference = os.path.join(here, "..", "reference")


def out(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    if metadata:
        header["__metadata__"] = metadata
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + blob


out("fuzz_safetensors", "tiny.safetensors", safetensors({
    "w": ("F32", [2, 3], struct.pack("<6f", *range(6))),
    "n": ("I64", [2], struct.pack("<2q", 7, -1)),
    "e": ("F64", [0], b""),
}, {"model": "resnet20", "num_classes": "10"}))
out("fuzz_safetensors", "empty.safetensors", safetensors({}))

images = bytes(range(32))
idx = struct.pack(">IIII", 0x803, 2, 4, 4) + images
out("fuzz_idx", "two-4x4", idx)
out("fuzz_idx", "two-4x4.gz", gzip.compress(idx, mtime=0))

record = bytes([3]) + bytes((i * 7) % 256 for i in range(3072))
out("fuzz_cifar", "cifar10-record.bin", record)
out("fuzz_cifar", "cifar100-record.bin", bytes([1]) + record)


def cifar_pickle(pixels, label):
    """A Python 2 protocol-2 CIFAR batch dict, as tests/test_datasets_readers.cpp builds it."""
    p = bytearray()
    def short(s):
        p.extend(b"U" + bytes([len(s)]) + s.encode())
    p.extend(b"\x80\x02}q\x01(")
    short("batch_label"); short("testing batch 1 of 1"); short("labels")
    p.extend(b"]q\x02(K" + bytes([label]) + b"e")
    short("data")
    p.extend(b"cnumpy.core.multiarray\n_reconstruct\nq\x03cnumpy\nndarray\nq\x04K\x00\x85")
    short("b")
    p.extend(b"\x87Rq\x05(K\x01K\x01M\x00\x0c\x86cnumpy\ndtype\nq\x06")
    short("u1")
    p.extend(b"K\x00K\x01\x87Rq\x07(K\x03")
    short("|")
    p.extend(b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tbI00\n")
    p.extend(b"T" + struct.pack("<I", len(pixels)) + pixels)
    p.extend(b"tbu.")
    return bytes(p)


out("fuzz_cifar", "cifar10-python.pkl", cifar_pickle(record[1:], 3))

with open(os.path.join(reference, "svhn_tiny.mat"), "rb") as f:
    out("fuzz_svhn_mat", "svhn_tiny.mat", f.read())

for name in ("pil_grey.png", "pil_grey.jpg", "pil_cmyk.jpg"):
    with open(os.path.join(reference, name), "rb") as f:
        out("fuzz_image", name, f.read())
w, h = 3, 2
row = bytes([0, 0, 255, 0, 255, 0, 255, 0, 0]) + b"\0" * 3  # BGR pixels, padded to 4 bytes
bmp_pixels = row * h
out("fuzz_image", "tiny.bmp", b"BM" + struct.pack("<IHHI", 54 + len(bmp_pixels), 0, 0, 54) +
    struct.pack("<IiiHHIIiiII", 40, w, h, 1, 24, 0, len(bmp_pixels), 2835, 2835, 0, 0) + bmp_pixels)
out("fuzz_image", "tiny.pgm", b"P5\n3 2\n255\n" + bytes([0, 64, 128, 192, 255, 32]))



def tiff(width, height):
    """Little-endian, uncompressed 8-bit RGB in one strip."""
    pixels = bytes((i * 37) % 256 for i in range(3 * width * height))
    entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 2),
               (273, 4, 1, 0), (277, 3, 1, 3), (278, 3, 1, height), (279, 4, 1, len(pixels))]
    data_at = 8 + 2 + 12 * len(entries) + 4
    directory = struct.pack("<H", len(entries)) + b"".join(
        struct.pack("<HHII", tag, kind, count, data_at if tag == 273 else value)
        for tag, kind, count, value in entries) + struct.pack("<I", 0)
    return b"II*\0" + struct.pack("<I", 8) + directory + pixels


out("fuzz_image", "rgb-4x3.tiff", tiff(4, 3))
# opencv-5x3-lossless.webp (VP8L) was written by OpenCV's encoder (dismax::write_image) and is kept as committed.


def png(width, height):
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xffffffff)
    raw = b"".join(b"\0" + bytes((x * 40 + y * 90) % 256 for x in range(3 * width)) for y in range(height))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


out("fuzz_image", "rgb-5x4.png", png(5, 4))


def state_dict_pickle():
    """A torch.save data.pkl (protocol 2) of three float32 views of storages "0" and "1" (16 floats each, the
    64 bytes fuzz_torch_file gives them), written by the pickle module with stand-ins for torch's globals."""
    import collections
    import pickle
    import sys
    import types
    torch_module, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        return args
    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    FloatStorage = type("FloatStorage", (), {"__module__": "torch"})
    torch_module.FloatStorage, torch_module._utils = FloatStorage, utils
    sys.modules.update({"torch": torch_module, "torch._utils": utils})

    class Storage:
        def __init__(self, key):
            self.key = key

    class Tensor:
        def __init__(self, key, offset, size, stride):
            self.args = (Storage(key), offset, size, stride, False, collections.OrderedDict())

        def __reduce__(self):
            return (_rebuild_tensor_v2, self.args)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return ("storage", FloatStorage, obj.key, "cpu", 16) if isinstance(obj, Storage) else None

    import io
    buffer = io.BytesIO()
    state = collections.OrderedDict([("w", Tensor("0", 0, (4, 4), (4, 1))), ("t", Tensor("0", 1, (3, 2), (1, 4))),
                                     ("b", Tensor("1", 3, (5,), (2,)))])
    Pickler(buffer, protocol=2).dump(state)
    return buffer.getvalue()


out("fuzz_torch_file", "state_dict.pkl", state_dict_pickle())
for name in ("dtypes.pth", "views.pth", "wrapped.pth", "evil_opcode.pth"):
    with open(os.path.join(reference, "pth", name), "rb") as f:
        out("fuzz_torch_file", name, f.read())
print("corpus written to", os.path.join(here, "corpus"))
