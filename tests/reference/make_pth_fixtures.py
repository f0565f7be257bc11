#!/usr/bin/env python3
"""Writes tests/reference/pth/: files saved by torch.save the way users save them, for tests/test_torch_file.cpp.
    /usr/bin/python3 tests/reference/make_pth_fixtures.py      (Debian's python3-torch)

- dtypes.pth: a state_dict of float32, float64, float16 (subnormals, infinities), bfloat16, int64, bool, uint8.
- views.pth: tensors that are views of one storage (offsets, transposed and sliced strides), a 0-d and an
  empty tensor.
- wrapped.pth: a training checkpoint {'net': state_dict of nn.Parameters (keep_vars), 'acc', 'epoch'}.
- expected.safetensors: every tensor above as a contiguous array (float16/bfloat16 as float32, bool as uint8),
  under "<file>/<name>".
- resnet20_dismax.pth: torch.save(nn.DataParallel(model).state_dict()) of the narrow CIFAR ResNet-20 with the
  original's DisMax head (bool validationset_available, [2, 25] precomputed_thresholds) of
  make_checkpoint_fixture.py, with resnet20_dismax_io.safetensors holding an input batch and PyTorch's logits.
- legacy.pth (the pre-1.6 format), evil_global.pth (a pickle calling os.system), evil_opcode.pth (a data.pkl
  with an opcode no state_dict needs): files the reader must refuse.
"""
import collections
import io
import os
import sys
import zipfile

import numpy as np
import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "pth")
os.makedirs(out, exist_ok=True)
sys.path.insert(0, here)
import safetensors_io  # noqa: E402
import torch_models as tm  # noqa: E402

expected = {}


def record(file, state):
    for name, t in state.items():
        t = t.detach()
        if t.dtype in (torch.float16, torch.bfloat16):
            t = t.float()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        expected[f"{file}/{name}"] = t.contiguous().numpy()


dtypes = collections.OrderedDict()
dtypes["f32"] = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1
dtypes["f64"] = torch.tensor([1e-300, -2.5, 3.0], dtype=torch.float64)
dtypes["f16"] = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 6.0e-8, 1.0e-5, float("inf"), -float("inf"), 0.333],
                             dtype=torch.float16)
dtypes["bf16"] = torch.tensor([1.0, -3.140625, 1e30, -1e-30], dtype=torch.bfloat16)
dtypes["i64"] = torch.tensor([[1, -2], [2 ** 40, -(2 ** 62)]], dtype=torch.int64)
dtypes["flag"] = torch.tensor([True, False, True])
dtypes["u8"] = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)
torch.save(dtypes, os.path.join(out, "dtypes.pth"))
record("dtypes", dtypes)

base = torch.arange(24, dtype=torch.float32)
views = collections.OrderedDict()
views["base"] = base
views["slice"] = base[2:10]
views["transposed"] = base.view(4, 6).t()
views["strided"] = base.view(4, 6)[1:, 1::2]
views["scalar"] = torch.tensor(7.5)
views["empty"] = torch.zeros(0, 3)
torch.save(views, os.path.join(out, "views.pth"))
record("views", views)

torch.manual_seed(1)
layer = torch.nn.Linear(3, 2)
torch.save({"net": layer.state_dict(keep_vars=True), "acc": 93.25, "epoch": 12}, os.path.join(out, "wrapped.pth"))
record("wrapped", layer.state_dict())

torch.manual_seed(3)
model = tm.CifarResNet([3, 3, 3], [4, 8, 16], 10)
model.classifier = tm.DisMaxHead(16, 10)
x = torch.randn(6, 3, 32, 32)
opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
F.cross_entropy(10 * model(x), torch.arange(6) % 10).backward()
opt.step()
model.eval()
with torch.no_grad():
    logits = model(x)
state = model.state_dict()
# As the original stores them: a bool flag, and thresholds whose row 0 was never written.
state["classifier.validationset_available"] = torch.tensor([True])
thresholds = torch.empty(2, 25)
thresholds[0] = float("nan")
thresholds[1] = torch.linspace(-1.5, -0.25, 25)
state["classifier.precomputed_thresholds"] = thresholds
torch.save(collections.OrderedDict(("module." + k, v) for k, v in state.items()),
           os.path.join(out, "resnet20_dismax.pth"))
safetensors_io.save(os.path.join(out, "resnet20_dismax_io.safetensors"),
                    {"input": x.numpy(), "logits": logits.numpy(), "thresholds": thresholds.numpy()},
                    {"torch": torch.__version__})

torch.save(dtypes, os.path.join(out, "legacy.pth"), _use_new_zipfile_serialization=False)


class Evil:
    def __reduce__(self):
        return (os.system, ("echo this must never run",))


torch.save({"weight": torch.ones(1), "payload": Evil()}, os.path.join(out, "evil_global.pth"))

# A data.pkl that DUPs (an opcode no state_dict needs) inside an otherwise well-formed archive.
buffer = io.BytesIO()
with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02}q\x00X\x01\x00\x00\x00a2s.")
    z.writestr("archive/version", b"3\n")
with open(os.path.join(out, "evil_opcode.pth"), "wb") as f:
    f.write(buffer.getvalue())

safetensors_io.save(os.path.join(out, "expected.safetensors"), expected, {"torch": torch.__version__})
print("wrote", sorted(os.listdir(out)))
