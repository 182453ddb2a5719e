"""What Figure 1 plots, and the baselines a careful reader needs to read it.

For each hidden layer i the paper compares e^y, the top-layer error, with e^i, the error of
the readout softmax((B^i)^T h^i) - y. Three versions of that angle are recorded:

- `angle`: the raw angle the paper plots. Two softmax errors p - y and q - y for the same
  label share the large label entry, so their angle never exceeds 60 degrees (their cosine is
  at least 1/2), and two *unrelated* errors are already far from 90 degrees.
- `angle_centered`: the same errors with the label coordinate dropped and the mean over the
  remaining classes removed. Unrelated predictions give a cosine of 0 in expectation here
  (a mean angle close to 90 degrees).
  (Removing the mean over *all* classes changes nothing: p - y already sums to zero.)
- `angle_control`: the raw angle to the error of a fresh random readout B' that training
  never touched: the empirical baseline for the raw angle.

Each is a mean of per-example angles; the `_flat` variants take one angle between the
whole (n, d_y) error matrices flattened.
"""

from __future__ import annotations

import math

import torch

from .model import MLP
from .rules import gradients, softmax_error

def angle_rows(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Angle in degrees between matching rows of u and v; NaN where a row is zero. (n,)

    Rows are scaled by their largest entry first, so that tiny error vectors (confident,
    correct predictions) keep their direction instead of underflowing in the norms.
    """
    u = u / u.abs().amax(1, keepdim=True)
    v = v / v.abs().amax(1, keepdim=True)
    cos = (u * v).sum(1) / (u.norm(dim=1) * v.norm(dim=1))
    return torch.rad2deg(torch.arccos(cos.clamp(-1, 1)))


def mean_angle(u: torch.Tensor, v: torch.Tensor) -> float:
    """Mean per-example angle, over the examples where both errors are nonzero."""
    return torch.nanmean(angle_rows(u, v)).item()


def angle_flat(u: torch.Tensor, v: torch.Tensor) -> float:
    """Angle in degrees between u and v flattened to single vectors."""
    u, v = u.reshape(-1).double(), v.reshape(-1).double()
    norms = (u.norm() * v.norm()).item()
    if norms == 0:
        return math.nan
    return math.degrees(math.acos(max(-1.0, min(1.0, (u @ v).item() / norms))))


def centered_offtarget(e: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Drop the label coordinate of each error row and remove the mean of the rest. (n, d_y - 1)"""
    off = e[y == 0].reshape(e.shape[0], -1)
    return off - off.mean(1, keepdim=True)


@torch.no_grad()
def evaluate(net: MLP, x: torch.Tensor, y: torch.Tensor, prefix: str) -> dict[str, float]:
    """Loss, accuracy, and per hidden layer the readout accuracy and the angles to e^y."""
    hs = net.forward(x)
    labels = y.argmax(1)
    logits = hs[-1]
    out = {
        f"{prefix}/loss": torch.nn.functional.cross_entropy(logits, labels).item(),
        f"{prefix}/accuracy": (logits.argmax(1) == labels).float().mean().item(),
    }
    e_y = softmax_error(logits, y, "sum")
    c_y = centered_offtarget(e_y, y)
    for i, (h, B, B_c) in enumerate(zip(hs[1:-1], net.B, net.B_control), start=1):
        readout, control = h @ B, h @ B_c
        e_i, e_c = softmax_error(readout, y, "sum"), softmax_error(control, y, "sum")
        c_i = centered_offtarget(e_i, y)
        out[f"{prefix}/readout_accuracy/{i}"] = (readout.argmax(1) == labels).float().mean().item()
        out[f"{prefix}/readout_accuracy_control/{i}"] = (control.argmax(1) == labels).float().mean().item()
        out[f"{prefix}/angle/{i}"] = mean_angle(e_y, e_i)
        out[f"{prefix}/angle_flat/{i}"] = angle_flat(e_y, e_i)
        out[f"{prefix}/angle_centered/{i}"] = mean_angle(c_y, c_i)
        out[f"{prefix}/angle_centered_flat/{i}"] = angle_flat(c_y, c_i)
        out[f"{prefix}/angle_control/{i}"] = mean_angle(e_y, e_c)
        out[f"{prefix}/angle_control_flat/{i}"] = angle_flat(e_y, e_c)
    return out


@torch.no_grad()
def update_angles(rule: str, net: MLP, x: torch.Tensor, y: torch.Tensor, reduction: str) -> dict[str, float]:
    """Angle between each layer's update under `rule` and the true gradient (BP), W^1..W^k."""
    true_dW, _ = gradients("bp", net, x, y, reduction)
    rule_dW = true_dW if rule == "bp" else gradients(rule, net, x, y, reduction)[0]
    return {f"probe/update_angle/{i}": angle_flat(g, u)
            for i, (g, u) in enumerate(zip(true_dW, rule_dW), start=1)}
