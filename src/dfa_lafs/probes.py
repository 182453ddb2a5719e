"""Measurements that test the paper's claims rather than restate them.

- `LinearBaseline`: a softmax regression on the pixels, trained with the run's seed, batch
  size and SGD at lr 0.1. Its error e^lin is the "unrelated classifier" baseline for the
  angles: if a readout's error is no closer to e^y than e^lin is, alignment says little.
- `noise_angles`: "DFA is a noisy LAFS" predicts that the DFA and LAFS updates, computed at
  the same weights, agree better the larger the batch they are averaged over (the noise
  averages out, the shared signal stays). This measures their angle on batches of 64, 512,
  4096 examples and on the whole training part.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .checks import ArgumentError, integer
from .metrics import angle_flat
from .model import MLP, STREAM_BASELINE, generator
from .rules import check_targets, deltas, softmax_error

BASELINE_LR = 0.1
NOISE_BATCHES = {64: 8, 512: 8, 4096: 2}  # batch size -> how many disjoint batches to average over
NOISE_CHUNK = 4096  # the whole-set update is summed over chunks of this many examples


@dataclass
class LinearBaseline:
    """Softmax regression logits = x W^T + b, W: (d_y, d_0)."""

    W: torch.Tensor
    b: torch.Tensor

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addmm(self.b, x, self.W.T)

    @classmethod
    @torch.no_grad()
    def fit(cls, x: torch.Tensor, y: torch.Tensor, epochs: int, batch_size: int, seed: int) -> LinearBaseline:
        """Plain SGD on the mean cross-entropy from zero weights; shuffles seeded by `seed`.

        x: (n, d_0) finite inputs; y: their one-hot targets (n, d_y); epochs and batch_size:
        positive ints (an untrained classifier would make every angle against it meaningless).
        """
        epochs, batch_size, seed = integer("epochs", epochs), integer("batch_size", batch_size), integer("seed", seed, 0)
        if not isinstance(x, torch.Tensor) or x.dim() != 2 or not x.is_floating_point():
            raise ArgumentError(f"x must be a float tensor of inputs (n, d_0), got {getattr(x, 'shape', x)!r}", ("x",))
        d_y = y.shape[1] if isinstance(y, torch.Tensor) and y.dim() == 2 else 10  # (for the message: MNIST's 10)
        check_targets(y, (x.shape[0], d_y))
        if not bool(torch.isfinite(x).all()):
            raise ArgumentError("x holds NaN or infinite values; the baseline would be NaN", ("x",))
        W = torch.zeros(y.shape[1], x.shape[1], dtype=x.dtype, device=x.device)
        b = torch.zeros(y.shape[1], dtype=x.dtype, device=x.device)
        for epoch in range(epochs):
            perm = torch.randperm(len(x), generator=generator(seed, STREAM_BASELINE, epoch)).to(x.device)
            for start in range(0, len(x), batch_size):
                idx = perm[start:start + batch_size]
                e = softmax_error(torch.addmm(b, x[idx], W.T), y[idx], "mean")  # (n, d_y)
                W.addmm_(e.T, x[idx], alpha=-BASELINE_LR)
                b.sub_(e.sum(0), alpha=BASELINE_LR)
        return cls(W, b)


@torch.no_grad()
def _hidden_updates(net: MLP, x: torch.Tensor, y: torch.Tensor) -> dict[str, list[torch.Tensor]]:
    """Summed DFA and LAFS updates of W^1..W^{k-1} on (x, y), from one forward pass."""
    hs = net.forward(x)
    out = {}
    for rule in ("dfa", "lafs"):
        ds = deltas(rule, net, hs, y, "sum")[:-1]  # hidden layers only
        out[rule] = [d.T @ h for d, h in zip(ds, hs[:-2])]
    return out


@torch.no_grad()
def noise_angles(net: MLP, x: torch.Tensor, y: torch.Tensor, seed: int, step: int) -> dict[str, float]:
    """DFA-vs-LAFS update angle per hidden layer, by batch size (mean over disjoint batches).

    Keys `noise/dfa_vs_lafs_update/{size}/{i}`, size in 64, 512, 4096, all. The batches are
    drawn from (x, y) with a generator seeded by (seed, step), so the measurement is reproducible.
    """
    out = {}
    perm = torch.randperm(len(x), generator=generator(seed, STREAM_BASELINE, 1_000_000 + step)).to(x.device)
    for size, count in NOISE_BATCHES.items():
        count = min(count, len(x) // size)
        angles = []
        for j in range(count):
            idx = perm[j * size:(j + 1) * size]
            u = _hidden_updates(net, x[idx], y[idx])
            angles.append([angle_flat(a, b) for a, b in zip(u["dfa"], u["lafs"])])
        for i in range(1, net.k):
            out[f"noise/dfa_vs_lafs_update/{size}/{i}"] = (
                sum(a[i - 1] for a in angles) / len(angles) if angles else float("nan"))
    total = None
    for start in range(0, len(x), NOISE_CHUNK):
        u = _hidden_updates(net, x[start:start + NOISE_CHUNK], y[start:start + NOISE_CHUNK])
        total = u if total is None else {r: [t + v for t, v in zip(total[r], u[r])] for r in u}
    for i in range(1, net.k):
        out[f"noise/dfa_vs_lafs_update/all/{i}"] = angle_flat(total["dfa"][i - 1], total["lafs"][i - 1])
    return out


def noise_keys(k: int) -> list[str]:
    """Every key `noise_angles` returns for a network with k weight layers."""
    return [f"noise/dfa_vs_lafs_update/{s}/{i}" for s in (*NOISE_BATCHES, "all") for i in range(1, k)]
