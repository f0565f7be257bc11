#!/usr/bin/env python3
"""Writes metrics.safetensors for tests/test_metrics.cpp: OOD metrics from scikit-learn (SPEC §6.3) and from
a NumPy port of the original calculate_log (SPEC §6.2) on random scores with many ties, and the calibration
errors of SPEC §2.1 (a NumPy port of the original metrics.py classes), NLL and temperatures (a dense grid,
SciPy's L-BFGS-B as calibrate.py runs it) on random logits. Needs numpy, scipy and scikit-learn (Debian:
python3-sklearn); the C++ tests only read the file.
    /usr/bin/python3 tests/reference/make_metric_fixtures.py"""
import os
import sys

import numpy as np
import scipy.optimize
import scipy.special
import sklearn
from sklearn import metrics as skm

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
import safetensors_io  # noqa: E402

rng = np.random.default_rng(20240531)
tensors = {}


def scalar(name, value):
    tensors[name] = np.array(value, dtype=np.float64)


# ------------------------------------------------------------------------------------------------ OOD
def calculate_log(known, novel):
    """The original get_curve + metric, literally (numpy, float64)."""
    known, novel = np.sort(known), np.sort(novel)
    num_k, num_n = known.shape[0], novel.shape[0]
    tp = -np.ones([num_k + num_n + 1], dtype=int)
    fp = -np.ones([num_k + num_n + 1], dtype=int)
    tp[0], fp[0] = num_k, num_n
    k, n = 0, 0
    for l in range(num_k + num_n):
        if k == num_k:
            tp[l + 1:] = tp[l]
            fp[l + 1:] = np.arange(fp[l] - 1, -1, -1)
            break
        elif n == num_n:
            tp[l + 1:] = np.arange(tp[l] - 1, -1, -1)
            fp[l + 1:] = fp[l]
            break
        else:
            if novel[n] < known[k]:
                n += 1
                tp[l + 1] = tp[l]
                fp[l + 1] = fp[l] - 1
            else:
                k += 1
                tp[l + 1] = tp[l] - 1
                fp[l + 1] = fp[l]
    tpr95_pos = np.abs(tp / num_k - .95).argmin()
    out = {"tnr_at_tpr95": 1. - fp[tpr95_pos] / num_n}
    tpr = np.concatenate([[1.], tp / tp[0], [0.]])
    fpr = np.concatenate([[1.], fp / fp[0], [0.]])
    out["auroc"] = -np.trapz(1. - fpr, tpr)
    out["detection_accuracy"] = .5 * (tp / tp[0] + 1. - fp / fp[0]).max()
    denom = (tp + fp).astype(float)
    denom[denom == 0.] = -1.
    pin_ind = np.concatenate([[True], denom > 0., [True]])
    pin = np.concatenate([[.5], tp / denom, [0.]])
    out["aupr_in"] = -np.trapz(pin[pin_ind], tpr[pin_ind])
    denom = (tp[0] - tp + fp[0] - fp).astype(float)
    denom[denom == 0.] = -1.
    pout_ind = np.concatenate([[True], denom > 0., [True]])
    pout = np.concatenate([[0.], (fp[0] - fp) / denom, [.5]])
    out["aupr_out"] = np.trapz(pout[pout_ind], 1. - fpr[pout_ind])
    return tp, fp, out


def ood_case(name, in_scores, out_scores, store_curves):
    in_scores, out_scores = in_scores.astype(np.float32), out_scores.astype(np.float32)
    tensors[f"{name}.in"] = in_scores
    tensors[f"{name}.out"] = out_scores
    k, n = in_scores.astype(np.float64), out_scores.astype(np.float64)
    tp, fp, orig = calculate_log(k, n)
    if store_curves:
        tensors[f"{name}.tp"] = tp.astype(np.int64)
        tensors[f"{name}.fp"] = fp.astype(np.int64)
    for key, v in orig.items():
        scalar(f"{name}.{key}", v)
    y = np.concatenate([np.ones(len(k)), np.zeros(len(n))])
    s = np.concatenate([k, n])
    fpr, tpr, thr = skm.roc_curve(y, s)
    if store_curves:
        tensors[f"{name}.roc_fpr"], tensors[f"{name}.roc_tpr"] = fpr, tpr
        tensors[f"{name}.roc_thresholds"] = thr[1:]  # sklearn 1.2 puts max + 1 first, newer inf
    scalar(f"{name}.sklearn_auroc", skm.roc_auc_score(y, s))
    scalar(f"{name}.tpr_at_fpr5", tpr[np.abs(fpr - 0.05).argmin()])
    p, r, _ = skm.precision_recall_curve(y, s)
    scalar(f"{name}.sklearn_aupr_in", skm.auc(r, p))
    p, r, _ = skm.precision_recall_curve(1 - y, -s)
    scalar(f"{name}.sklearn_aupr_out", skm.auc(r, p))
    # OpenOOD: OOD positive, negated scores, fpr_list[argmax(tpr_list >= 0.95)]
    fpr_ood, tpr_ood, _ = skm.roc_curve(1 - y, -s)
    scalar(f"{name}.fpr_at_tpr95", fpr_ood[np.argmax(tpr_ood >= 0.95)])


ood_case("ties", np.round(rng.normal(0.6, 0.2, 3000), 2), np.round(rng.normal(0.45, 0.2, 2000), 2), False)
ood_case("coarse", np.round(rng.normal(0.7, 0.2, 700), 1), np.round(rng.normal(0.3, 0.2, 400), 1), True)
ood_case("continuous", rng.normal(-1.0, 1.0, 1500), rng.normal(-2.0, 1.3, 1000), False)


# ------------------------------------------------------------------------------------------------ calibration
class CalibrationErrors:
    """The original metrics.py classes (SPEC §2.1), one object per call."""

    def __init__(self, output, labels, n_bins=15):
        self.n_bins, self.n_data, self.n_class = n_bins, len(output), len(output[0])
        self.bin_prop, self.bin_acc = np.zeros(n_bins), np.zeros(n_bins)
        self.bin_conf, self.bin_score = np.zeros(n_bins), np.zeros(n_bins)
        self.probabilities = scipy.special.softmax(output, axis=1)
        self.labels = labels
        self.confidences = np.max(self.probabilities, axis=1)
        self.predictions = np.argmax(self.probabilities, axis=1)
        self.accuracies = np.equal(self.predictions, labels)

    def boundaries(self, probabilities=None):
        if probabilities is None:
            b = np.linspace(0, 1, self.n_bins + 1)
        else:
            bin_n = int(self.n_data / self.n_bins)
            s = np.sort(probabilities)
            b = np.append(np.array([s[i * bin_n] for i in range(self.n_bins)]), 1.0)
        self.lowers, self.uppers = b[:-1], b[1:]

    def binary_matrices(self):
        idx = np.arange(self.n_data)
        pred = np.zeros([self.n_data, self.n_class])
        lab = np.zeros([self.n_data, self.n_class])
        pred[idx, self.predictions] = 1
        lab[idx, self.labels] = 1
        self.acc_matrix = np.equal(pred, lab)

    def bins(self, index=None):
        if index is None:
            conf, acc = self.confidences, self.accuracies
        else:
            conf, acc = self.probabilities[:, index], self.acc_matrix[:, index]
        for i, (lo, up) in enumerate(zip(self.lowers, self.uppers)):
            in_bin = np.greater(conf, lo.item()) * np.less_equal(conf, up.item())
            self.bin_prop[i] = np.mean(in_bin)
            if self.bin_prop[i].item() > 0:
                self.bin_acc[i] = np.mean(acc[in_bin])
                self.bin_conf[i] = np.mean(conf[in_bin])
                self.bin_score[i] = np.abs(self.bin_conf[i] - self.bin_acc[i])

    def max_prob(self):
        self.boundaries()
        self.bins()

    def ece(self):
        self.max_prob()
        return np.dot(self.bin_prop, self.bin_score)

    def mce(self):
        self.max_prob()
        return np.max(self.bin_score)

    def oe(self):
        self.max_prob()
        return np.dot(self.bin_prop, self.bin_conf * np.maximum(self.bin_conf - self.bin_acc, np.zeros(self.n_bins)))

    def sce(self):
        self.boundaries()
        self.binary_matrices()
        total = 0.0
        for i in range(self.n_class):
            self.bins(i)
            total += np.dot(self.bin_prop, self.bin_score)
        return total / self.n_class

    def tace(self, threshold=0.01):
        self.probabilities[self.probabilities < threshold] = 0
        self.binary_matrices()
        total = 0.0
        for i in range(self.n_class):
            self.boundaries(self.probabilities[:, i])
            self.bins(i)
            total += np.dot(self.bin_prop, self.bin_score)
        return total / self.n_class


def ece(logits, labels, tau):
    return CalibrationErrors(logits.astype(np.float64) / tau, labels).ece()


def nll(logits, labels, tau):
    z = logits.astype(np.float64) / tau
    return np.mean(scipy.special.logsumexp(z, axis=1) - z[np.arange(len(labels)), labels])


def calibration_case(name, logits, labels, taus):
    logits = logits.astype(np.float32)
    tensors[f"{name}.logits"], tensors[f"{name}.labels"] = logits, labels.astype(np.int64)
    z = logits.astype(np.float64)
    scalar(f"{name}.accuracy", np.mean(np.argmax(z, axis=1) == labels))
    tensors[f"{name}.taus"] = np.array(taus, dtype=np.float64)
    rows = {k: [] for k in ["ece", "mce", "oe", "sce", "tace", "ace", "nll", "max_p", "entropy"]}
    for tau in taus:
        out = z / tau
        rows["ece"].append(CalibrationErrors(out, labels).ece())
        rows["mce"].append(CalibrationErrors(out, labels).mce())
        rows["oe"].append(CalibrationErrors(out, labels).oe())
        rows["sce"].append(CalibrationErrors(out, labels).sce())
        rows["tace"].append(CalibrationErrors(out, labels).tace(0.01))
        rows["ace"].append(CalibrationErrors(out, labels).tace(0.0))
        rows["nll"].append(nll(logits, labels, tau))
        p = scipy.special.softmax(out, axis=1)
        rows["max_p"].append(np.mean(p.max(axis=1)))
        rows["entropy"].append(np.mean(-scipy.special.xlogy(p, p).sum(axis=1) / np.log(z.shape[1])))
    for k, v in rows.items():
        tensors[f"{name}.{k}"] = np.array(v, dtype=np.float64)
    # ECE over a dense log grid, and calibrate.py's L-BFGS-B from tau = 1.
    grid = np.logspace(-3, 2, 20001)
    values = np.array([ece(logits, labels, t) for t in grid])
    scalar(f"{name}.dense_min_ece", values.min())
    scalar(f"{name}.dense_argmin_tau", grid[values.argmin()])
    tau, f, _ = scipy.optimize.fmin_l_bfgs_b(lambda t: ece(logits, labels, t[0]), np.array([1.0]), approx_grad=True,
                                             bounds=[(0.001, 100)])
    scalar(f"{name}.lbfgsb_tau", tau[0])
    scalar(f"{name}.lbfgsb_ece", f)
    # NLL: bounded scalar minimisation over log tau, polished.
    res = scipy.optimize.minimize_scalar(lambda u: nll(logits, labels, np.exp(u)), bounds=(np.log(1e-3), np.log(100)),
                                         method="bounded", options={"xatol": 1e-10})
    scalar(f"{name}.nll_tau", np.exp(res.x))
    scalar(f"{name}.nll_min", res.fun)


def random_logits(n, c, signal, scale):
    labels = rng.integers(0, c, n)
    z = rng.normal(0, 1, (n, c))
    z[np.arange(n), labels] += signal
    return scale * z, labels


z, y = random_logits(1500, 10, 2.0, 1.0)
calibration_case("calib", z, y, [1.0, 1.7, 0.4])
z, y = random_logits(1500, 10, 1.5, 6.0)  # over-confident: accuracy ~ 0.6 with max-probability ~ 0.95
calibration_case("overconfident", z, y, [1.0, 3.0])
z, y = random_logits(10, 3, 1.0, 1.0)  # fewer samples than bins: adaptive bins all start at the minimum
calibration_case("tiny", z, y, [1.0, 2.0])

safetensors_io.save(os.path.join(here, "metrics.safetensors"), tensors,
                    {"generator": "make_metric_fixtures.py", "numpy": np.__version__, "sklearn": sklearn.__version__})
print("wrote", os.path.join(here, "metrics.safetensors"), sum(v.nbytes for v in tensors.values()), "bytes")
