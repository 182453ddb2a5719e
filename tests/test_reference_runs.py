"""Reference runs: the evidence that a change to the training code left every number as it was.

`tests/reference_runs/*.json` are small, fast, deterministic runs (float64, tiny widths, a few
hundred examples, 1-4 epochs) saved by the training code of the hash they carry. Together they
run every hashed code path: the four rules, the three activations, both reductions, momentum,
the cosine schedule, normal initialisation and feedback, no hidden layer, a validation split with
early stopping, the linear baseline (baseline_epochs > 0), the noise study (noise_points > 0)
and a run stopped at a checkpoint and resumed.

This test trains each again with the code of this checkout and compares every number of its
history, per-epoch validation and final metrics with the stored ones (relative 1e-10 in float64;
NaN only where NaN was stored). It fails whenever a change alters a number. While it passes, a
change to a hashed module may be recorded in `src/dfa_lafs/code_lineage.json` as giving the same
numbers as the previous code (see `dfa_lafs.lineage`), so that the stored results stay valid.

Remake the files only when the numbers are meant to change (and the stored results are remade
with them): `PYTHONPATH=src DFA_LAFS_DATA=... python tests/test_reference_runs.py --write`.
"""

from __future__ import annotations

import math
import os
import sys
import tempfile
from pathlib import Path

import pytest
import torch

REFERENCE = Path(__file__).parent / "reference_runs"
REL, ABS = 1e-10, 1e-12
SMALL = {"dtype": "float64", "device": "cpu", "train_size": 300, "eval_size": 200, "probe_size": 48,
         "record_points": 6, "batch_size": 32, "epochs": 2, "baseline_epochs": 0}
# name -> changes to SMALL; each line says which code path it is there for.
RUNS = {
    # BP through two hidden layers, heavy-ball momentum, the linear baseline's angles
    "bp_tanh_momentum_baseline": {"rule": "bp", "hidden": (12, 10), "momentum": 0.5, "baseline_epochs": 1},
    # no hidden layer (softmax regression), summed errors
    "bp_no_hidden_sum": {"rule": "bp", "hidden": (), "error_reduction": "sum", "lr": 0.01},
    # FA's fixed backward matrices, relu, cosine decay, normal W and B
    "fa_relu_cosine_normal": {"rule": "fa", "hidden": (12, 10), "activation": "relu", "lr_schedule": "cosine",
                              "init": "normal", "feedback": "normal"},
    # DFA with a validation split and early stopping, the noise study, the linear baseline
    "dfa_val_patience_noise_baseline": {"rule": "dfa", "hidden": (12, 10), "val_size": 200, "patience": 1,
                                        "epochs": 4, "noise_points": 3, "baseline_epochs": 1, "lr": 0.5},
    # LAFS, summed errors, momentum, three hidden layers, a larger B; stops early (epoch 4 of 6)
    # and is evaluated with its best-validation weights
    "lafs_sum_momentum_early_stop": {"rule": "lafs", "hidden": (12, 10, 8), "error_reduction": "sum", "lr": 0.01,
                                     "momentum": 0.5, "val_size": 100, "patience": 1, "epochs": 6,
                                     "feedback_scale": 3.0, "noise_points": 2},
    # sigmoid; stopped at a checkpoint after 7 steps and resumed (see `train_reference`)
    "dfa_sigmoid_checkpoint_resumed": {"rule": "dfa", "hidden": (12,), "activation": "sigmoid", "init_scale": 2.0,
                                       "seed": 3, "lr": 0.5},
}
RESUMED = {"dfa_sigmoid_checkpoint_resumed": 7}  # name -> steps before the checkpoint


def reference_config(name: str, data_root: str | None = None):
    from dfa_lafs import RunConfig

    return RunConfig(**{**SMALL, **RUNS[name]}, data_root=data_root)


def train_reference(name: str, data_root: str):
    """Train reference run `name` with this checkout's code, as the stored file was made."""
    from dfa_lafs.train import run

    config = reference_config(name, data_root)
    if name not in RESUMED:
        return run(config, progress=False)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "run.ckpt"
        assert run(config, checkpoint=checkpoint, stop_after=RESUMED[name], progress=False) is None
        return run(config, checkpoint=checkpoint, progress=False)


def numbers(result) -> dict[str, float]:
    """Every number a run computed (not where or how fast): 'history/train/loss/3' -> value."""
    out = {}
    for part in ("history", "per_epoch"):
        for key, values in getattr(result, part).items():
            out.update({f"{part}/{key}/{i}": v for i, v in enumerate(values)})
    out.update({f"final/{key}": v for key, v in result.final.items()})
    out["timings/steps"] = result.timings["steps"]
    return out


def differences(stored: dict, fresh: dict) -> list[str]:
    """Keys or values that differ beyond round-off; empty when the numbers are the same."""
    if stored.keys() != fresh.keys():
        return [f"keys differ: only stored {sorted(stored.keys() - fresh.keys())[:5]}, "
                f"only fresh {sorted(fresh.keys() - stored.keys())[:5]}"]
    out = []
    for key, a in stored.items():
        b = fresh[key]
        same = (a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))
                or (not isinstance(a, bool) and isinstance(a, float) and isinstance(b, float)
                    and math.isclose(a, b, rel_tol=REL, abs_tol=ABS)))
        if not same:
            out.append(f"{key}: stored {a!r}, now {b!r}")
    return out


def largest_relative_difference(stored: dict, fresh: dict) -> float:
    worst = 0.0
    for key, a in stored.items():
        b = fresh[key]
        if isinstance(a, float) and isinstance(b, float) and math.isfinite(a) and math.isfinite(b) and a != b:
            worst = max(worst, abs(a - b) / max(abs(a), abs(b)))
    return worst


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_code_of_this_checkout_reproduces_every_number_of_the_reference_run(name, data_root):
    from dfa_lafs import load_result

    stored = load_result(REFERENCE / f"{name}.json")
    assert stored.config == reference_config(name), "the stored run was made by another config"
    fresh = train_reference(name, data_root)
    problems = differences(numbers(stored), numbers(fresh))
    assert not problems, (f"{name}: {len(problems)} numbers changed (code hash {stored.provenance['code_hash']} "
                          f"-> {fresh.provenance['code_hash']}), e.g. {problems[:3]}")


def test_the_reference_runs_cover_every_path_they_claim(data_root):
    from dfa_lafs import load_result

    results = {name: load_result(REFERENCE / f"{name}.json") for name in RUNS}
    assert {r.config.rule for r in results.values()} == {"bp", "fa", "dfa", "lafs"}
    assert {r.config.activation for r in results.values()} == {"tanh", "relu", "sigmoid"}
    assert any(not r.final.get("hit_cap", True) for r in results.values()), "no run stopped early"
    assert any(any(k.startswith("noise/") for k in r.history) for r in results.values())
    assert any(any("linear" in k for k in r.history) for r in results.values())
    assert all(r.config.dtype == "float64" for r in results.values())


def write_references(data_root: str) -> None:
    """Remake every reference file with this checkout's code (only when numbers are meant to change)."""
    REFERENCE.mkdir(exist_ok=True)
    for name in RUNS:
        result = train_reference(name, data_root)
        result.config = reference_config(name)  # where the data were is not part of what a run computes
        result.save(REFERENCE / f"{name}.json")
        print(f"{name}: {result.timings['steps']} steps, code hash {result.provenance['code_hash']}")


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_reference_runs.py --write   (remakes tests/reference_runs/)")
    torch.set_num_threads(1)
    write_references(os.environ.get("DFA_LAFS_DATA") or str(Path(__file__).resolve().parents[2] / "shared" / "data"))
