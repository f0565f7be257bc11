#!/usr/bin/env python3
"""torch.load's time on a .pth (the baseline of dismax-bench-torch-file); writes a CIFAR ResNet34 + DisMax head
state_dict there first with --write.  /usr/bin/python3 bench/bench_torch_file.py FILE.pth [--write] [repeats]"""
import os
import sys
import time

import torch

path = sys.argv[1]
if "--write" in sys.argv:
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
    import torch_models as tm
    torch.manual_seed(0)
    model = tm.CifarResNet([3, 4, 6, 3], [64, 128, 256, 512], 10)
    model.classifier = tm.DisMaxHead(512, 10)
    torch.save(model.state_dict(), path)
repeats = int([a for a in sys.argv[2:] if a != "--write"][0]) if len([a for a in sys.argv[2:] if a != "--write"]) else 5
torch.set_num_threads(int(os.environ.get("THREADS", "2")))
best = 1e30
for _ in range(repeats):
    t0 = time.perf_counter()
    state = torch.load(path)
    best = min(best, time.perf_counter() - t0)
print(f"torch {torch.__version__} torch.load: {len(state)} tensors, {sum(t.numel() for t in state.values())} numbers, "
      f"best of {repeats}: {best:.4f} s")
