"""The four learning rules, written by hand (no autograd in the training step).

All four share eq. (4)'s shape, dW^i = delta a^i (h^{i-1})^T; they differ only in how
delta a^i is made. DFA and LAFS differ in less still: the error vector sent through B^i
(`feedback_errors` below, one line per rule). Signs: the functions return gradients
(what the paper writes as nabla L); the optimizer subtracts lr times them.

The public functions check their arguments and name the one at fault: an unknown rule or
reduction, targets that are not one-hot rows, an input batch of the wrong shape, dtype or
device, or holding NaN or infinite values. The checks of an input batch's values cost a pass
over it, so they are made once per call of `train_step` and `gradients`; `update` is the
unchecked step for a loop that checked its data once (`train.run`). Updates are computed under
`torch.no_grad()`, like torch.optim's step: an input that requires grad is used for its values
(detached), so the weights never join an autograd graph (which would grow every step).
"""

from __future__ import annotations

import torch

from .checks import ArgumentError, fraction, positive
from .config import REDUCTIONS, RULES
from .model import MLP


def softmax_error(logits: torch.Tensor, y: torch.Tensor, reduction: str) -> torch.Tensor:
    """dL/dlogits for softmax + cross-entropy: softmax(logits) - y, over n if `mean`. (n, d_y)

    The label entry p_t - 1 is computed as -(sum of the other p_j), its exact equal: for a
    confident prediction p_t - 1 cancels to 0 in float32 while the small p_j stay accurate,
    and the error vector's direction (which the angle metrics measure) would be lost.
    """
    check_targets(y, logits.shape)
    off_target = torch.softmax(logits, dim=1) * (1 - y)
    e = off_target - y * off_target.sum(1, keepdim=True)
    if reduction == "mean":
        return e / logits.shape[0]
    if reduction == "sum":
        return e
    raise ArgumentError(f"reduction must be one of {', '.join(REDUCTIONS)}; got {reduction!r}", ("error_reduction",))


def readout_error(h: torch.Tensor, B: torch.Tensor, y: torch.Tensor, reduction: str) -> torch.Tensor:
    """e^i: the error of the auxiliary readout softmax((B^i)^T h^i) of eqs. (6), (8)-(9)."""
    return softmax_error(h @ B, y, reduction)


def feedback_errors(rule: str, net: MLP, hs: list[torch.Tensor], e_y: torch.Tensor, y: torch.Tensor,
                    reduction: str) -> list[torch.Tensor]:
    """The error each hidden layer's update starts from: the paper's whole point in one line.

    DFA sends the top-layer error e^y through every B^i (eq. 4); LAFS sends the layer's
    own readout error e^i (eq. 9).
    """
    if rule == "dfa":
        return [e_y] * len(net.B)
    if rule == "lafs":
        return [readout_error(h, B, y, reduction) for h, B in zip(hs[1:-1], net.B)]
    raise ValueError(f"rule {rule!r} has no direct feedback; use 'dfa' or 'lafs'")


def deltas(rule: str, net: MLP, hs: list[torch.Tensor], y: torch.Tensor, reduction: str) -> list[torch.Tensor]:
    """delta a^i for i = 1..k (each (n, d_i)); delta a^k = e^y for every rule."""
    if rule not in RULES:
        raise ArgumentError(f"rule must be one of {', '.join(RULES)}; got {rule!r}", ("rule",))
    e_y = softmax_error(hs[-1], y, reduction)
    fprime = [net.act.derivative(h) for h in hs[1:-1]]  # f'(a^i) from h^i
    if rule in ("dfa", "lafs"):
        errors = feedback_errors(rule, net, hs, e_y, y, reduction)
        # Eqs. (3)/(9): delta a^i = (B^i e) * f'(a^i); in rows: e @ (B^i)^T.
        return [(e @ B.T) * fp for e, B, fp in zip(errors, net.B, fprime)] + [e_y]
    # Eq. (5), corrected: delta a^i = ((W^{i+1})^T delta a^{i+1}) * f'(a^i); FA swaps
    # W^{i+1} for a fixed random matrix of the same shape.
    backward = net.W[1:] if rule == "bp" else net.B_fa
    out = [e_y]
    for W_next, fp in zip(reversed(backward), reversed(fprime)):
        out.insert(0, (out[0] @ W_next) * fp)
    return out


@torch.no_grad()
def gradients(rule: str, net: MLP, x: torch.Tensor, y: torch.Tensor,
              reduction: str = "mean") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Eq. (4) for every layer: (dW^i, db^i) = (delta a^i^T h^{i-1}, sum_n delta a^i)."""
    check_batch(net, x, y)
    hs = net.forward(x)
    ds = deltas(rule, net, hs, y, reduction)
    return [d.T @ h for d, h in zip(ds, hs[:-1])], [d.sum(0) for d in ds]


class SGD:
    """Plain SGD (the paper's), optionally with heavy-ball momentum; updates in place.

    With no momentum the update is one fused addmm_ per layer: W <- W - lr delta^T h,
    without materialising dW (this is most of why the hand-written step is fast).
    """

    def __init__(self, net: MLP, lr: float, momentum: float = 0.0):
        """lr: the learning rate alpha, a finite number > 0; momentum: in [0, 1) (numpy numbers too)."""
        self.net, self.lr, self.momentum = net, positive("lr", lr), fraction("momentum", momentum)
        self.vW = [torch.zeros_like(W) for W in net.W] if self.momentum else None
        self.vb = [torch.zeros_like(b) for b in net.b] if self.momentum else None

    def step(self, ds: list[torch.Tensor], hs: list[torch.Tensor]) -> None:
        if torch.is_grad_enabled():  # keep the weights out of any graph (train.run's loop runs without grad)
            with torch.no_grad():
                return self.step(ds, hs)
        for i, (d, h) in enumerate(zip(ds, hs[:-1])):
            if self.vW is None:
                self.net.W[i].addmm_(d.T, h, alpha=-self.lr)
                self.net.b[i].sub_(d.sum(0), alpha=self.lr)
            else:
                self.vW[i].mul_(self.momentum).addmm_(d.T, h)
                self.vb[i].mul_(self.momentum).add_(d.sum(0))
                self.net.W[i].sub_(self.vW[i], alpha=self.lr)
                self.net.b[i].sub_(self.vb[i], alpha=self.lr)

    def state(self) -> dict:
        return {"vW": self.vW, "vb": self.vb}

    def load_state(self, state: dict) -> None:
        self.vW, self.vb = state["vW"], state["vb"]


@torch.no_grad()
def train_step(rule: str, net: MLP, opt: SGD, x: torch.Tensor, y: torch.Tensor, reduction: str) -> None:
    """One update of every layer on the batch (x, y), its arguments checked (`check_batch`)."""
    check_batch(net, x, y)
    update(rule, net, opt, x, y, reduction)


def update(rule: str, net: MLP, opt: SGD, x: torch.Tensor, y: torch.Tensor, reduction: str) -> None:
    """`train_step` without the checks of x's values: for a loop whose data were checked once."""
    hs = net.forward(x)
    opt.step(deltas(rule, net, hs, y, reduction), hs)


def check_targets(y: torch.Tensor, shape: tuple[int, int]) -> None:
    """y must be one-hot rows of `shape` (n, d_y), the logits': its shape only, so it costs nothing."""
    if not isinstance(y, torch.Tensor) or y.shape != shape:
        got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
        labels = isinstance(y, torch.Tensor) and y.dim() == 1 and not y.is_floating_point()
        hint = (f": these look like integer labels; pass torch.nn.functional.one_hot(y, {shape[1]}).to(x.dtype)"
                if labels else "")
        raise ArgumentError(f"y must be one-hot targets of shape {tuple(shape)} (n, d_y), got {got}{hint}", ("y",))


def check_batch(net: MLP, x: torch.Tensor, y: torch.Tensor) -> None:
    """x: (n, d_0) in the weights' dtype and device, finite; y: one-hot targets (n, d_y)."""
    W = net.W[0]
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != W.shape[1]:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ArgumentError(f"x must be a batch of inputs of shape (n, {W.shape[1]}), got {shape}", ("x",))
    if x.dtype != W.dtype or x.device != W.device:
        raise ArgumentError(f"x is {x.dtype} on {x.device}, the weights are {W.dtype} on {W.device}: "
                            f"convert it with x.to(...)", ("x",))
    check_targets(y, (x.shape[0], net.W[-1].shape[0]))
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).sum())
        raise ArgumentError(f"x holds {bad} NaN or infinite value(s) of {x.numel()}; an update from it would make "
                            f"every weight NaN", ("x",))
    if y.is_floating_point() and not bool(torch.isfinite(y).all()):
        raise ArgumentError("y holds NaN or infinite values; it must be one-hot targets", ("y",))
