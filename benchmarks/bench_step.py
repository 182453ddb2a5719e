"""Time per training step of the hand-written rules against a plain autograd baseline.

Same 3x800 tanh MLP, same batch (64 MNIST-shaped examples), measured in one run with the
methods interleaved round by round (so machine noise hits all of them alike); prints the
median step time of each and its ratio to the baseline, and how close the DFA step comes
to the time of its matrix products alone (the "matmul rate" on the same shapes).

    python benchmarks/bench_step.py [--rounds 15] [--steps 50] [--device auto] [--out results/benchmark.json]

With --out the numbers are also written as JSON (the reproducibility chapter reads that file).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from dfa_lafs.config import RunConfig, resolve_device
from dfa_lafs.model import MLP
from dfa_lafs.rules import SGD, update


def autograd_baseline(cfg: RunConfig, device: torch.device):
    dims = [784, *cfg.hidden, 10]
    layers = []
    for i, (m, n) in enumerate(zip(dims[:-1], dims[1:])):
        layers += [torch.nn.Linear(m, n)] + ([torch.nn.Tanh()] if i < len(dims) - 2 else [])
    model = torch.nn.Sequential(*layers).to(device)
    loss_fn, opt = torch.nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=cfg.lr)

    def step(x, y, labels):
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), labels).backward()
        opt.step()
    return step


def rule_step(rule: str, cfg: RunConfig):
    net = MLP.from_config(cfg.replace(rule=rule))
    opt = SGD(net, cfg.lr)
    return lambda x, y, labels: update(rule, net, opt, x, y, "mean")  # the training loop's step (data checked once)


def matmuls_of_a_dfa_step(cfg: RunConfig):
    """Only the GEMMs a DFA step must do: k forward addmm, k weight addmm_, k-1 (e B^T)."""
    net = MLP.from_config(cfg)

    def step(x, y, labels):
        h = x
        hs = [x]
        for W, b in zip(net.W, net.b):
            h = torch.addmm(b, h, W.T)
            hs.append(h)
        e = y  # any (n, 10) tensor: same shape as e^y
        ds = [e @ B.T for B in net.B] + [e]
        for W, d, h_prev in zip(net.W, ds, hs[:-1]):
            W.addmm_(d.T, h_prev, alpha=-1e-9)
    return step


def time_steps(step, batch, steps: int, device: torch.device) -> float:
    for _ in range(3):
        step(*batch)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step(*batch)
    sync(device)
    return (time.perf_counter() - t0) / steps


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--out", type=Path, help="also write the results to this JSON file")
    args = parser.parse_args()
    cfg = RunConfig(device=args.device)
    device = resolve_device(cfg.device)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(cfg.batch_size, 784, generator=g).to(device)
    labels = torch.randint(0, 10, (cfg.batch_size,), generator=g).to(device)
    y = torch.nn.functional.one_hot(labels, 10).float()
    methods = {"autograd baseline": autograd_baseline(cfg, device), "bp": rule_step("bp", cfg),
               "fa": rule_step("fa", cfg), "dfa": rule_step("dfa", cfg), "lafs": rule_step("lafs", cfg),
               "dfa matmuls only": matmuls_of_a_dfa_step(cfg)}
    times = {name: [] for name in methods}
    for _ in range(args.rounds):
        for name, step in methods.items():
            times[name].append(time_steps(step, (x, y, labels), args.steps, device))
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["autograd baseline"]
    print(f"device {device}, {torch.get_num_threads()} threads, torch {torch.__version__}; 3x800 tanh MLP, "
          f"batch {cfg.batch_size}; median of {args.rounds} rounds x {args.steps} steps")
    for name, t in med.items():
        print(f"  {name:<18} {1e3 * t:7.3f} ms/step   {t / base:5.2f}x baseline")
    ratio = {name: t / base for name, t in med.items()}
    flops = 2 * cfg.batch_size * (2 * (784 * 800 + 2 * 800 * 800 + 800 * 10) + 3 * 800 * 10)
    print(f"  matmul rate on the DFA step's shapes: {flops / med['dfa matmuls only'] / 1e9:.1f} GFLOP/s; "
          f"the full DFA step reaches {med['dfa matmuls only'] / med['dfa']:.0%} of it")
    print(f"targets: dfa <= 0.50x (got {med['dfa'] / base:.2f}x), lafs <= 0.60x (got {med['lafs'] / base:.2f}x), "
          f"dfa >= 60% of matmul rate (got {med['dfa matmuls only'] / med['dfa']:.0%})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({
            "ms_per_step": {k: 1e3 * v for k, v in med.items()}, "ratio_to_baseline": ratio,
            "matmul_gflops": flops / med["dfa matmuls only"] / 1e9,
            "dfa_share_of_matmul_rate": med["dfa matmuls only"] / med["dfa"],
            "rounds": args.rounds, "steps": args.steps, "device": str(device),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "cpu": platform.processor() or platform.machine()}, indent=1) + "\n")


if __name__ == "__main__":
    main()
