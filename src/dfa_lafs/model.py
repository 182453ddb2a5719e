"""The network of eqs. (1)-(2), its fixed random matrices, and a forward pass that keeps h^i.

Batches are rows: x is (n, d_0), W^i is (d_i, d_{i-1}) as in torch.nn.Linear, so eq. (1),
a^i = W^i h^{i-1} + b^i, reads `a = h @ W.T + b` for a whole batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .config import RunConfig, resolve_device

# Independent random streams: each matrix gets its own generator, seeded from
# (run seed, stream, layer) through numpy's SeedSequence, so that B^1, B^2, ... are
# independent, and DFA and LAFS runs with the same seed share W init and B exactly.
STREAM_WEIGHTS, STREAM_FEEDBACK, STREAM_FA, STREAM_CONTROL, STREAM_SHUFFLE, STREAM_EVAL, STREAM_BASELINE = range(7)


def generator(seed: int, stream: int, index: int = 0) -> torch.Generator:
    """A CPU generator for one (seed, stream, index); identical on every machine."""
    state = np.random.SeedSequence([seed, stream, index]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] % (2**63)))


def random_matrix(shape: tuple[int, int], dist: str, bound: float, gen: torch.Generator) -> torch.Tensor:
    """U(-bound, bound), or normal with the same standard deviation bound/sqrt(3)."""
    if dist == "uniform":
        return (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound
    return torch.randn(shape, generator=gen, dtype=torch.float64) * (bound / 3**0.5)


class Activation:
    """f and f', with f' written in terms of h = f(a), which the forward pass keeps."""

    def __init__(self, name: str):
        self.name = name
        self.f = {"tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid}[name]

    def derivative(self, h: torch.Tensor) -> torch.Tensor:
        """f'(a^i) from h^i = f(a^i)."""
        if self.name == "tanh":
            return 1 - h * h
        if self.name == "sigmoid":
            return h * (1 - h)
        return (h > 0).to(h.dtype)


@dataclass
class MLP:
    """Weights W^i, b^i (i = 1..k) and the fixed random matrices that the rules use.

    B[i]       (d_{i+1}, d_y): the DFA feedback / LAFS readout of hidden layer i+1 (eqs. 3, 6).
    B_fa[i]    shape of W[i+1]: feedback alignment's stand-in for W^{i+2} in eq. (5).
    B_control  like B, fresh and never used in training: the baseline for angle metrics.
    """

    W: list[torch.Tensor]
    b: list[torch.Tensor]
    B: list[torch.Tensor]
    B_fa: list[torch.Tensor]
    B_control: list[torch.Tensor]
    act: Activation

    @property
    def k(self) -> int:
        return len(self.W)

    @classmethod
    def from_config(cls, cfg: RunConfig, d_in: int = 784, d_y: int = 10) -> MLP:
        device, dtype = resolve_device(cfg.device), getattr(torch, cfg.dtype)
        dims = [d_in, *cfg.hidden, d_y]
        move = lambda t: t.to(device=device, dtype=dtype).contiguous()  # noqa: E731
        W, b = [], []
        for i, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:])):
            bound = cfg.init_scale / fan_in**0.5
            W.append(move(random_matrix((fan_out, fan_in), cfg.init, bound, generator(cfg.seed, STREAM_WEIGHTS, i))))
            b.append(torch.zeros(fan_out, device=device, dtype=dtype))

        def readouts(stream: int, seed: int) -> list[torch.Tensor]:
            return [
                move(random_matrix((d, d_y), cfg.feedback, cfg.feedback_scale / d**0.5, generator(seed, stream, i)))
                for i, d in enumerate(cfg.hidden)
            ]

        B_fa = [
            move(random_matrix(tuple(w.shape), cfg.feedback, cfg.feedback_scale / w.shape[1] ** 0.5,
                               generator(cfg.seed, STREAM_FA, i)))
            for i, w in enumerate(W[1:])
        ]
        control_seed = cfg.seed + cfg.control_seed_offset
        return cls(W, b, readouts(STREAM_FEEDBACK, cfg.seed), B_fa, readouts(STREAM_CONTROL, control_seed),
                   Activation(cfg.activation))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Eq. (1) for every layer; returns [h^0 = x, h^1, ..., h^{k-1}, a^k] (a^k: logits)."""
        hs = [x]
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            a = torch.addmm(b, hs[-1], W.T)  # (n, d_i)
            hs.append(a if i == self.k - 1 else self.act.f(a))
        return hs

    def state(self) -> dict[str, list[torch.Tensor]]:
        return {"W": self.W, "b": self.b}
