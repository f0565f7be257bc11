#!/usr/bin/env python3
"""Writes torch_checkpoint.safetensors: a checkpoint saved from PyTorch the way a user would (the model's
state_dict with the original tensor names, and dismax's metadata keys), of a narrow CIFAR ResNet-20 with a
DisMax head, after one training step so its BN statistics are not trivial; and torch_checkpoint_io.safetensors
with an input batch and the eval-mode logits PyTorch computes. tests/test_losses.cpp loads the checkpoint with
load_model() alone and must reproduce the logits.
    python3 tests/reference/make_checkpoint_fixture.py"""
import os
import sys

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io  # noqa: E402
import torch_models as tm  # noqa: E402

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
state = {k: v.numpy() for k, v in model.state_dict().items()}
state["classifier.validationset_available"] = state["classifier.validationset_available"].astype("uint8")
meta = {"model": "resnet20", "num_classes": "10", "loss": "dismax", "width": "0.25", "dataset": "cifar10"}
safetensors_io.save(os.path.join(here, "torch_checkpoint.safetensors"), state, meta)
safetensors_io.save(os.path.join(here, "torch_checkpoint_io.safetensors"),
                    {"input": x.numpy(), "logits": logits.numpy()}, {"torch": torch.__version__})
print("wrote torch_checkpoint.safetensors and torch_checkpoint_io.safetensors")
