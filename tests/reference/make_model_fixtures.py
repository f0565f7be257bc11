#!/usr/bin/env python3
"""Writes models.safetensors: for narrow versions of each architecture, the weights, an input batch and
labels, the training-mode logits, the cross-entropy loss, every parameter gradient, the BN running
statistics after that step, and the weights (and running statistics) after three SGD steps (lr 0.02,
momentum 0.9, Nesterov, weight decay 5e-4) on the same batch, with the parameters after steps 1 and 2.
The C++ test restarts steps 2 and 3 from PyTorch's parameters, and the script keeps only cases where
PyTorch's float32 and float64 gradients agree at every step: a ReLU input within rounding noise of zero
flips and changes a gradient by percents in any engine, which would make the comparison meaningless. Read by tests/test_model_parity.cpp.
    python3 tests/reference/make_model_fixtures.py"""
import copy
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io  # noqa: E402
import torch_models as tm  # noqa: E402

torch.manual_seed(0)
CASES = {
    # name: (model, input size, classes); the C++ side builds the same shapes from ModelConfig
    "resnet34": (lambda: tm.CifarResNet([3, 4, 6, 3], [4, 8, 16, 32], 5), 32, 5),
    "resnet18": (lambda: tm.ImageNetResNet([2, 2, 2, 2], [2, 4, 8, 16], 5), 64, 5),
    "densenetbc100": (lambda: tm.DenseNet3(22, 4, 0.5, 5), 32, 5),
    "wideresnet2810": (lambda: tm.WideResNet(10, 0.5, 5), 32, 5),
}


def gradients(model, x, y):
    model.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    return loss, {k: p.grad.clone() for k, p in model.named_parameters()}


def well_conditioned(model, x, y):
    """True when float32 and float64 gradients agree at each of the three steps' parameters, so no ReLU
    input sits within rounding noise of zero (such a flip changes a gradient by percents in any engine)."""
    m32 = copy.deepcopy(model)
    opt = torch.optim.SGD(m32.parameters(), lr=0.02, momentum=0.9, nesterov=True, weight_decay=5e-4)
    for _ in range(3):
        m64 = copy.deepcopy(m32).double()
        _, g32 = gradients(m32, x, y)
        _, g64 = gradients(m64, x.double(), y)
        for k in g32:
            scale = max(g64[k].abs().max().item(), 1e-4)
            if ((g32[k].double() - g64[k]).abs().max().item() - 1e-6) / scale > 2e-5:
                return False
        opt.step()
    return True


tensors = {}
for name, (build, size, classes) in CASES.items():
    for attempt in range(20):
        model = build()
        with torch.no_grad():  # randomise BN affine parameters too, so the test sees them act
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5)
                    m.bias.uniform_(-0.2, 0.2)
        x = torch.randn(8, 3, size, size)
        y = torch.tensor([0, 3, 1, 3, 4, 2, 2, 0]) % classes
        if well_conditioned(model, x, y):
            break
    else:
        raise SystemExit(f"{name}: no well-conditioned case in 20 attempts")
    for k, v in model.state_dict().items():
        tensors[f"{name}.init.{k}"] = v.numpy().copy()
    tensors[f"{name}.input"] = x.numpy()
    tensors[f"{name}.labels"] = y.numpy()
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9, nesterov=True, weight_decay=5e-4)
    model.train()
    for step in range(3):
        opt.zero_grad()
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        if step == 0:
            tensors[f"{name}.logits"] = logits.detach().numpy()
            tensors[f"{name}.loss"] = loss.detach().reshape(1).numpy()
            for k, p in model.named_parameters():
                tensors[f"{name}.grad.{k}"] = p.grad.numpy().copy()
            for k, b in model.named_buffers():
                if b.is_floating_point():
                    tensors[f"{name}.step1.{k}"] = b.numpy().copy()
        opt.step()
        if step < 2:  # the C++ test restarts each step from these, so float32 noise cannot compound
            for k, p in model.named_parameters():
                tensors[f"{name}.after{step + 1}.{k}"] = p.detach().numpy().copy()
    for k, v in model.state_dict().items():
        if v.is_floating_point():
            tensors[f"{name}.step3.{k}"] = v.numpy().copy()
    print(name, sum(p.numel() for p in model.parameters()), "parameters, attempt", attempt + 1)

out = os.path.join(here, "models.safetensors")
safetensors_io.save(out, tensors, {"generator": "make_model_fixtures.py", "torch": torch.__version__})
print(f"wrote {len(tensors)} tensors to {out} ({os.path.getsize(out)} bytes)")
