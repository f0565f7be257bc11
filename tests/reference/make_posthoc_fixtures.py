#!/usr/bin/env python3
"""Writes posthoc.safetensors for tests/test_posthoc.cpp: the post-hoc OOD methods computed as OpenOOD v1.5's
postprocessors compute them (GEN, Mahalanobis/MDS, KNN, ReAct, ASH-S, ASH-B, ViM, ODIN), ported line by line to
NumPy / scikit-learn / PyTorch, on random post-ReLU features of a small linear head and, for ODIN, a small
Flatten + Linear network. KNN's exact search is done with NumPy in float64 (OpenOOD uses faiss IndexFlatL2,
float32); sklearn's roc_auc_score and average-precision style areas give the metrics. Needs Debian's
python3-torch and python3-sklearn; the C++ tests only read the file.
    /usr/bin/python3 tests/reference/make_posthoc_fixtures.py"""
import os
import sys

import numpy as np
import sklearn.covariance
import torch
from scipy.special import logsumexp, softmax
from sklearn import metrics as skm

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io  # noqa: E402

rng = np.random.default_rng(20261203)
C, F, N_TRAIN, N_TEST = 4, 16, 200, 60
centres = rng.normal(0, 1.5, (C, F))
train_labels = np.repeat(np.arange(C), N_TRAIN // C)
train = np.maximum(centres[train_labels] + rng.normal(0, 1, (N_TRAIN, F)), 0).astype(np.float32)
test_labels = rng.integers(0, C, N_TEST)
test = np.maximum(centres[test_labels] + rng.normal(0, 1, (N_TEST, F)), 0).astype(np.float32)
ood = np.maximum(rng.normal(0.3, 1.6, (N_TEST, F)), 0).astype(np.float32)
W = rng.normal(0, 0.5, (C, F)).astype(np.float32)
b = rng.normal(0, 0.2, C).astype(np.float32)


def logits(x):
    return (x.astype(np.float64) @ W.T.astype(np.float64) + b.astype(np.float64))


tensors = {"train.features": train, "train.labels": train_labels.astype(np.int64), "test.features": test,
           "ood.features": ood, "head.weights": W, "head.bias": b,
           "train.logits": logits(train).astype(np.float32), "test.logits": logits(test).astype(np.float32),
           "ood.logits": logits(ood).astype(np.float32)}
K, REACT_P, ASH_P, VIM_DIM, GEN_GAMMA, GEN_M = 5, 90, 90, 8, 0.1, 100


def gen(z):  # OpenOOD gen_postprocessor
    probs = softmax(z, axis=1)
    m = min(GEN_M, z.shape[1])
    top = -np.sort(-probs, axis=1)[:, :m]
    return -np.sum(top ** GEN_GAMMA * (1 - top) ** GEN_GAMMA, axis=1)


def fit_mds():  # OpenOOD mds_postprocessor.setup
    centred, means = [], []
    for c in range(C):
        fc = train[train_labels == c].astype(np.float64)
        means.append(fc.mean(0))
        centred.append(fc - fc.mean(0))
    ec = sklearn.covariance.EmpiricalCovariance(assume_centered=False)
    ec.fit(np.concatenate(centred))
    return np.array(means), ec.precision_


means, precision = fit_mds()


def mds(x):
    x = x.astype(np.float64)
    scores = np.stack([-np.einsum("ij,jk,ik->i", x - means[c], precision, x - means[c]) for c in range(C)], 1)
    return scores.max(1)


def normalizer(x):
    return x / (np.linalg.norm(x, axis=-1, keepdims=True) + 1e-10)


bank = normalizer(train).astype(np.float64)


def knn(x):  # OpenOOD knn_postprocessor: -D[:, -1] of IndexFlatL2.search (squared L2)
    q = normalizer(x).astype(np.float64)
    d = ((q[:, None, :] - bank[None, :, :]) ** 2).sum(-1)
    return -np.sort(d, axis=1)[:, K - 1]


threshold = np.percentile(train.flatten(), REACT_P)


def react(x):
    return logsumexp(logits(np.clip(x, None, threshold)), axis=1)


def ash_s(x, percentile):  # OpenOOD ash_s on a (N, F, 1, 1) map
    t = torch.from_numpy(x.astype(np.float64)).view(x.shape[0], F, 1, 1).clone()
    s1 = t.sum(dim=[1, 2, 3])
    n = t.shape[1:].numel()
    k = n - int(np.round(n * percentile / 100.0))
    flat = t.view((t.shape[0], n))
    v, i = torch.topk(flat, k, dim=1)
    flat.zero_().scatter_(dim=1, index=i, src=v)
    s2 = t.sum(dim=[1, 2, 3])
    t = t * torch.exp(s1 / s2)[:, None, None, None]
    return logsumexp(logits(t.view(x.shape[0], F).numpy()), axis=1)


def ash_b(x, percentile):  # OpenOOD ash_b (what its "ash" postprocessor runs) on a (N, F, 1, 1) map
    t = torch.from_numpy(x.astype(np.float64)).view(x.shape[0], F, 1, 1).clone()
    s1 = t.sum(dim=[1, 2, 3])
    n = t.shape[1:].numel()
    k = n - int(np.round(n * percentile / 100.0))
    flat = t.view((t.shape[0], n))
    v, i = torch.topk(flat, k, dim=1)
    fill = (s1 / k).unsqueeze(dim=1).expand(v.shape)
    flat.zero_().scatter_(dim=1, index=i, src=fill)
    return logsumexp(logits(t.view(x.shape[0], F).numpy()), axis=1)


def fit_vim():  # OpenOOD vim_postprocessor.setup
    u = -np.matmul(np.linalg.pinv(W.astype(np.float64)), b.astype(np.float64))
    ec = sklearn.covariance.EmpiricalCovariance(assume_centered=True)
    ec.fit(train.astype(np.float64) - u)
    eig_vals, eigen_vectors = np.linalg.eig(ec.covariance_)
    ns = np.ascontiguousarray((eigen_vectors.T[np.argsort(eig_vals * -1)[VIM_DIM:]]).T)
    vlogit = np.linalg.norm(np.matmul(train.astype(np.float64) - u, ns), axis=-1)
    alpha = logits(train).max(axis=-1).mean() / vlogit.mean()
    return u, ns, alpha


u, ns, alpha = fit_vim()


def vim(x):
    return -np.linalg.norm(np.matmul(x.astype(np.float64) - u, ns), axis=-1) * alpha + logsumexp(logits(x), axis=-1)


methods = {"gen": gen, "mahalanobis": mds, "knn": knn, "react": react, "ash-s": lambda x: ash_s(x, ASH_P),
           "ash-b": lambda x: ash_b(x, ASH_P), "vim": vim}
for name, fn in methods.items():
    for part, x in (("test", test), ("ood", ood)):
        z = logits(x) if name == "gen" else x
        tensors[f"{name}.{part}"] = np.asarray(fn(z), dtype=np.float64)
    s_in, s_out = tensors[f"{name}.test"], tensors[f"{name}.ood"]
    y = np.concatenate([np.ones(N_TEST), np.zeros(N_TEST)])
    s = np.concatenate([s_in, s_out])
    tensors[f"{name}.auroc"] = np.array(skm.roc_auc_score(y, s))
    p, r, _ = skm.precision_recall_curve(y, s)
    tensors[f"{name}.aupr_in"] = np.array(skm.auc(r, p))
    p, r, _ = skm.precision_recall_curve(1 - y, -s)
    tensors[f"{name}.aupr_out"] = np.array(skm.auc(r, p))
    fpr, tpr, _ = skm.roc_curve(1 - y, -s)
    tensors[f"{name}.fpr_at_tpr95"] = np.array(fpr[np.argmax(tpr >= 0.95)])
tensors["react.threshold"] = np.array(threshold)

# ---- ODIN (OpenOOD odin_postprocessor) on Flatten + Linear(48, 4)
torch.manual_seed(7)
net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(48, C))  # float32 weights, computed in float64
net = net.double()
images = torch.from_numpy(rng.normal(0, 1, (12, 3, 4, 4)).astype(np.float32)).double()
std = [0.247, 0.243, 0.261]
T, noise = 1000.0, 0.0014
data = images.clone().requires_grad_(True)
output = net(data)
labels = output.detach().argmax(axis=1)
loss = torch.nn.CrossEntropyLoss()(output / T, labels)
loss.backward()
gradient = torch.ge(data.grad.detach(), 0)
gradient = (gradient.double() - 0.5) * 2
for c in range(3):
    gradient[:, c] = gradient[:, c] / std[c]
temp = torch.add(data.detach(), gradient, alpha=-noise)
odin = torch.softmax(net(temp) / T, dim=1).max(1)[0]
tensors["odin.images"] = images.numpy().astype(np.float32)
tensors["odin.weight"] = net[1].weight.detach().numpy().astype(np.float32)
tensors["odin.bias"] = net[1].bias.detach().numpy().astype(np.float32)
tensors["odin.scores"] = odin.detach().numpy()
tensors["odin.std"] = np.array(std, dtype=np.float32)

out = os.path.join(here, "posthoc.safetensors")
safetensors_io.save(out, tensors, {"generator": "tests/reference/make_posthoc_fixtures.py", "torch": torch.__version__,
                                   "sklearn": sklearn.__version__, "numpy": np.__version__})
print("wrote", out, len(tensors), "tensors")
