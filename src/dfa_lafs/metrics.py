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
  never touched: the empirical baseline for the raw angle (`angle_centered_control`: the
  same for the centred angle).
- `angle_linear*`: the angle between e^y and the error of an independent softmax regression
  trained on the pixels (`probes.LinearBaseline`): how close *any* decent classifier's error
  is to the network's. A readout is only "aligned" in a sense that matters if it beats this.

Each is a mean of per-example angles; the `_flat` variants take one angle between the
whole (n, d_y) error matrices flattened, which weights each example by the size of its error,
as the update (4) does. Diagnostics for the readouts: their mean margin (true logit minus the
largest other), the mean f'(a^i) of each hidden layer, and the mean norm of h^i.
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
    if norms == 0 or not math.isfinite(norms):
        return math.nan  # no direction (or a diverged run): never a perfect 0 degrees
    cos = (u @ v).item() / norms
    return math.degrees(math.acos(max(-1.0, min(1.0, cos)))) if math.isfinite(cos) else math.nan


def centered_offtarget(e: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Drop the label coordinate of each error row and remove the mean of the rest. (n, d_y - 1)"""
    off = e[y == 0].reshape(e.shape[0], -1)
    return off - off.mean(1, keepdim=True)


def margin(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over examples of the true class's logit minus the largest other logit."""
    true = logits.gather(1, labels[:, None])[:, 0]
    other = logits.scatter(1, labels[:, None], -math.inf).amax(1)
    return (true - other).mean().item()


@torch.no_grad()
def evaluate(net: MLP, x: torch.Tensor, y: torch.Tensor, prefix: str,
             linear_logits: torch.Tensor | None = None) -> dict[str, float]:
    """Loss, accuracy, and per hidden layer the readout accuracy, the angles to e^y, diagnostics.

    linear_logits: an independent classifier's logits on the same x, for the `angle_linear*`
    baselines.
    """
    hs = net.forward(x)
    labels = y.argmax(1)
    logits = hs[-1]
    out = {
        f"{prefix}/loss": torch.nn.functional.cross_entropy(logits, labels).item(),
        f"{prefix}/accuracy": (logits.argmax(1) == labels).float().mean().item(),
    }
    e_y = softmax_error(logits, y, "sum")
    c_y = centered_offtarget(e_y, y)
    if linear_logits is not None:
        e_lin = softmax_error(linear_logits, y, "sum")
        c_lin = centered_offtarget(e_lin, y)
        out[f"{prefix}/linear_accuracy"] = (linear_logits.argmax(1) == labels).float().mean().item()
        out[f"{prefix}/angle_linear"] = mean_angle(e_y, e_lin)
        out[f"{prefix}/angle_linear_flat"] = angle_flat(e_y, e_lin)
        out[f"{prefix}/angle_linear_centered"] = mean_angle(c_y, c_lin)
        out[f"{prefix}/angle_linear_centered_flat"] = angle_flat(c_y, c_lin)
    for i, (h, B, B_c) in enumerate(zip(hs[1:-1], net.B, net.B_control), start=1):
        readout, control = h @ B, h @ B_c
        e_i, e_c = softmax_error(readout, y, "sum"), softmax_error(control, y, "sum")
        c_i, c_c = centered_offtarget(e_i, y), centered_offtarget(e_c, y)
        out[f"{prefix}/readout_accuracy/{i}"] = (readout.argmax(1) == labels).float().mean().item()
        out[f"{prefix}/readout_accuracy_control/{i}"] = (control.argmax(1) == labels).float().mean().item()
        out[f"{prefix}/angle/{i}"] = mean_angle(e_y, e_i)
        out[f"{prefix}/angle_flat/{i}"] = angle_flat(e_y, e_i)
        out[f"{prefix}/angle_centered/{i}"] = mean_angle(c_y, c_i)
        out[f"{prefix}/angle_centered_flat/{i}"] = angle_flat(c_y, c_i)
        out[f"{prefix}/angle_control/{i}"] = mean_angle(e_y, e_c)
        out[f"{prefix}/angle_control_flat/{i}"] = angle_flat(e_y, e_c)
        out[f"{prefix}/angle_centered_control/{i}"] = mean_angle(c_y, c_c)
        out[f"{prefix}/angle_centered_control_flat/{i}"] = angle_flat(c_y, c_c)
        out[f"{prefix}/readout_margin/{i}"] = margin(readout, labels)
        out[f"{prefix}/mean_fprime/{i}"] = net.act.derivative(h).mean().item()
        out[f"{prefix}/hidden_norm/{i}"] = h.norm(dim=1).mean().item()
    return out


@torch.no_grad()
def update_angles(rule: str, net: MLP, x: torch.Tensor, y: torch.Tensor, reduction: str) -> dict[str, float]:
    """Angles between updates of W^i on the batch (x, y), all at the current weights.

    - `probe/update_angle/{i}`: `rule`'s update vs the true gradient (BP), W^1..W^k;
    - `probe/dfa_vs_lafs_update/{i}`: the DFA update vs the LAFS update of hidden layer i, the
      paper's thesis measured directly (recorded whatever rule trains the weights);
    - `probe/{dfa,lafs}_update_angle/{i}`: each of those vs the true gradient;
    - `probe/weight_norm/{i}`: the Frobenius norm of W^i.
    """
    true_dW, _ = gradients("bp", net, x, y, reduction)
    grads = {"bp": true_dW}
    if net.k > 1:
        grads.update({r: gradients(r, net, x, y, reduction)[0] for r in ("dfa", "lafs")})
    if rule not in grads:
        grads[rule] = gradients(rule, net, x, y, reduction)[0]
    out = {f"probe/update_angle/{i}": angle_flat(g, u)
           for i, (g, u) in enumerate(zip(true_dW, grads[rule]), start=1)}
    for i in range(1, net.k):  # hidden layers: where DFA and LAFS differ
        out[f"probe/dfa_vs_lafs_update/{i}"] = angle_flat(grads["dfa"][i - 1], grads["lafs"][i - 1])
        out[f"probe/dfa_update_angle/{i}"] = angle_flat(grads["dfa"][i - 1], true_dW[i - 1])
        out[f"probe/lafs_update_angle/{i}"] = angle_flat(grads["lafs"][i - 1], true_dW[i - 1])
    out.update({f"probe/weight_norm/{i}": W.norm().item() for i, W in enumerate(net.W, start=1)})
    return out
