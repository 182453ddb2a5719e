"""The four learning rules, written by hand (no autograd in the training step).

All four share eq. (4)'s shape, dW^i = delta a^i (h^{i-1})^T; they differ only in how
delta a^i is made. DFA and LAFS differ in less still: the error vector sent through B^i
(`feedback_errors` below, one line per rule). Signs: the functions return gradients
(what the paper writes as nabla L); the optimizer subtracts lr times them.
"""

from __future__ import annotations

import torch

from .model import MLP


def softmax_error(logits: torch.Tensor, y: torch.Tensor, reduction: str) -> torch.Tensor:
    """dL/dlogits for softmax + cross-entropy: softmax(logits) - y, over n if `mean`. (n, d_y)

    The label entry p_t - 1 is computed as -(sum of the other p_j), its exact equal: for a
    confident prediction p_t - 1 cancels to 0 in float32 while the small p_j stay accurate,
    and the error vector's direction (which the angle metrics measure) would be lost.
    """
    off_target = torch.softmax(logits, dim=1) * (1 - y)
    e = off_target - y * off_target.sum(1, keepdim=True)
    return e / logits.shape[0] if reduction == "mean" else e


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


def gradients(rule: str, net: MLP, x: torch.Tensor, y: torch.Tensor,
              reduction: str = "mean") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Eq. (4) for every layer: (dW^i, db^i) = (delta a^i^T h^{i-1}, sum_n delta a^i)."""
    hs = net.forward(x)
    ds = deltas(rule, net, hs, y, reduction)
    return [d.T @ h for d, h in zip(ds, hs[:-1])], [d.sum(0) for d in ds]


class SGD:
    """Plain SGD (the paper's), optionally with heavy-ball momentum; updates in place.

    With no momentum the update is one fused addmm_ per layer: W <- W - lr delta^T h,
    without materialising dW (this is most of why the hand-written step is fast).
    """

    def __init__(self, net: MLP, lr: float, momentum: float = 0.0):
        self.net, self.lr, self.momentum = net, lr, momentum
        self.vW = [torch.zeros_like(W) for W in net.W] if momentum else None
        self.vb = [torch.zeros_like(b) for b in net.b] if momentum else None

    def step(self, ds: list[torch.Tensor], hs: list[torch.Tensor]) -> None:
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


def train_step(rule: str, net: MLP, opt: SGD, x: torch.Tensor, y: torch.Tensor, reduction: str) -> None:
    """One update of every layer on the batch (x, y)."""
    hs = net.forward(x)
    opt.step(deltas(rule, net, hs, y, reduction), hs)
