"""One frozen, validated description of a training run.

Every convention that Gilmer et al. (2017) leave unstated is a field here, with the
default chosen for this companion and the reason next to it. The notebooks, the CLI
and the sweeps all build this same object.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import numbers
import os
from dataclasses import dataclass, field

import torch

from .checks import ArgumentError, choice, fits, fraction, integer, positive

RULES = ("bp", "fa", "dfa", "lafs")
ACTIVATIONS = ("tanh", "relu", "sigmoid")
DATASETS = ("mnist", "fashion-mnist")
DISTRIBUTIONS = ("uniform", "normal")
REDUCTIONS = ("mean", "sum")
DTYPES = ("float32", "float64")
LR_SCHEDULES = ("constant", "cosine")
DIRECT_RULES = ("fa", "dfa", "lafs")  # rules whose hidden layers learn from fixed random matrices

# Fields that say where or how fast a run happens, not what it computes: they are left
# out of the key that decides whether a stored result still matches its config.
PLACE_FIELDS = ("device", "data_root")


@dataclass(frozen=True)
class RunConfig:
    """Everything needed to reproduce one run; invalid values fail here, not mid-run."""

    rule: str = "dfa"  # bp | fa | dfa | lafs
    dataset: str = "mnist"  # mnist | fashion-mnist
    data_root: str | None = None  # None: $DFA_LAFS_DATA, else ~/.cache/dfa_lafs (not in the repr)
    hidden: tuple[int, ...] = (800, 800, 800)  # the paper: 3 hidden layers of 800
    activation: str = "tanh"  # the paper's f
    lr: float = 0.1  # the paper's learning rate, plain SGD
    momentum: float = 0.0  # the paper uses none
    batch_size: int = 64  # unstated in the paper; Nokland (2016) used 64
    error_reduction: str = "mean"  # e^y averaged over the batch (the usual mean loss)
    # Unstated in the paper. Without early stopping, the number of epochs trained; with
    # `patience`, the cap. (Twenty is Figure 1's length here; whether it is "long enough" is
    # measured in the book, not assumed.)
    epochs: int = 20
    train_size: int | None = None  # None: the whole training part; else its first n
    # Validation: the last `val_size` examples of the training set are held out (0: none, as
    # in Figure 1, which trains on all 60,000). Every choice of a hyperparameter is made on them.
    val_size: int = 0
    # Early stopping: stop once validation accuracy has not improved for `patience` epochs and
    # return the best-validation weights (0: train all `epochs`, return the last weights).
    patience: int = 0
    lr_schedule: str = "constant"  # constant (the paper) | cosine: lr * (1 + cos(pi t / T)) / 2
    # W^i ~ U(+-s/sqrt(fan_in)), b^i = 0: PyTorch's nn.Linear scale, "small weight variance"
    init: str = "uniform"
    init_scale: float = 1.0
    # B^i in R^{d_i x d_y}: U(+-s/sqrt(d_i)) keeps the readout logits (B^i)^T h^i of order
    # one at any width, so the softmax starts near uniform (the paper's argument) and
    # LAFS trains at lr 0.1; with s = 1 this is Nokland's +-1/sqrt(fan) scale.
    feedback: str = "uniform"
    feedback_scale: float = 1.0
    seed: int = 0
    device: str = "auto"  # auto: CUDA when present, else CPU
    dtype: str = "float32"
    record_points: int = 30  # log-spaced recording steps, plus step 0 and the last step
    eval_size: int = 2000  # fixed examples of the train and of the test set per record
    probe_size: int = 256  # fixed batch for the update-vs-backprop angle
    # Record steps (log-spaced, including step 0 and the last) at which the angle between the
    # DFA and the LAFS update is also measured on batches of 64, 512, 4096 and the whole
    # training part: is their difference noise that averages out, or systematic? (0: never.)
    noise_points: int = 0
    # Epochs of the independent softmax regression on pixels whose error e^lin is the
    # baseline for the angles (0: none). Seeded by `seed`, so identical for every rule.
    baseline_epochs: int = 5
    control_seed_offset: int = field(default=10_000, repr=False)  # seed of the control readouts

    def __post_init__(self) -> None:
        if isinstance(self.hidden, (str, bytes)) or not hasattr(self.hidden, "__iter__"):
            raise ArgumentError(f"hidden must be a sequence of layer widths such as (800, 800, 800) "
                                f"or () for none, got {self.hidden!r}", ("hidden",))
        object.__setattr__(self, "hidden", tuple(_plain(width) for width in self.hidden))
        for f in dataclasses.fields(self):
            object.__setattr__(self, f.name, _plain(getattr(self, f.name)))
        choice("rule", self.rule, RULES)
        choice("dataset", self.dataset, DATASETS)
        choice("activation", self.activation, ACTIVATIONS)
        choice("init", self.init, DISTRIBUTIONS)
        choice("feedback", self.feedback, DISTRIBUTIONS)
        choice("error_reduction", self.error_reduction, REDUCTIONS)
        choice("dtype", self.dtype, DTYPES)
        choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        for i, width in enumerate(self.hidden):
            integer(f"hidden[{i}] (a layer width)", width)
        if not self.hidden and self.rule in DIRECT_RULES:
            raise ArgumentError(f"rule {self.rule!r} needs at least one hidden layer (with hidden=() every rule "
                                f"is backprop); use rule='bp' for a softmax regression", ("rule", "hidden"))
        for name in ("batch_size", "epochs", "record_points", "eval_size", "probe_size"):
            integer(name, getattr(self, name))
        for name in ("val_size", "patience", "noise_points", "baseline_epochs", "seed", "control_seed_offset"):
            integer(name, getattr(self, name), minimum=0)
        if self.train_size is not None:
            integer("train_size", self.train_size)
        if self.patience and not self.val_size:
            raise ArgumentError(f"patience={self.patience} needs a validation split: set val_size > 0 "
                                f"(e.g. 10000), or patience=0 to train all epochs", ("patience", "val_size"))
        for name in ("lr", "init_scale", "feedback_scale"):
            fits(name, positive(name, getattr(self, name)), self.dtype)
        fraction("momentum", self.momentum)
        if self.data_root is not None and not isinstance(self.data_root, (str, os.PathLike)):
            raise ArgumentError(f"data_root must be a folder path (str) or None, got {self.data_root!r}",
                                ("data_root",))
        try:
            resolve_device(self.device)
        except ValueError as err:
            raise ArgumentError(str(err), ("device",)) from None

    def __repr__(self) -> str:
        """Every field but data_root: pages print configs, and where a run read its data is a path
        on that machine, not part of what the run computes. (Not `field(repr=False)`: the CLI
        makes a flag of every field in the repr.)"""
        shown = (f"{f.name}={getattr(self, f.name)!r}" for f in dataclasses.fields(self)
                 if f.repr and f.name != "data_root")
        return f"RunConfig({', '.join(shown)})"

    @property
    def depth(self) -> int:
        """Number of weight layers k (hidden layers + the output layer)."""
        return len(self.hidden) + 1

    def divergence_hint(self) -> str:
        """What to lower after this run diverged: every setting that scales the updates and is above
        its default, largest departure first (lr when none is), with its flag."""
        defaults = {"feedback_scale": 1.0, "init_scale": 1.0, "momentum": 0.0, "lr": 0.1}
        ratio = {"feedback_scale": self.feedback_scale if self.rule in DIRECT_RULES else 0.0,
                 "init_scale": self.init_scale, "momentum": 1 / (1 - self.momentum), "lr": self.lr / 0.1}
        above = sorted((name for name in ratio if getattr(self, name) > defaults[name] and ratio[name] > 1),
                       key=lambda name: -ratio[name]) or ["lr"]
        return "try a smaller " + " or ".join(
            f"{name} ({flag_name(name)}, {getattr(self, name):g} here, default {defaults[name]:g})" for name in above)

    def replace(self, **changes) -> RunConfig:
        """A copy with some fields changed, validated again."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}; valid fields: {field_names()}")
        d = dict(d)
        if "hidden" in d:
            d["hidden"] = tuple(d["hidden"])
        return cls(**d)

    def key(self) -> str:
        """Hash of what the run computes (not where): a stored result must match it."""
        d = {k: v for k, v in self.to_dict().items() if k not in PLACE_FIELDS}
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def paper_config(rule: str = "dfa", **changes) -> RunConfig:
    """Figure 1's setting: MNIST, 3 x 800 tanh, lr 0.1, with this project's defaults."""
    return RunConfig(rule=rule, **changes)


def field_names() -> list[str]:
    return [f.name for f in dataclasses.fields(RunConfig)]


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when present, else CPU; an unavailable device is an error."""
    if not isinstance(device, str):
        raise ValueError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(f"device {device!r} is not a valid torch device; use 'auto', 'cpu' or 'cuda'") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use device='auto' or 'cpu'")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) here")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device {device!r} is not supported; use 'auto', 'cpu' or 'cuda'")
    return dev


def flag_name(field_name: str) -> str:
    """The command-line flag of a RunConfig field: feedback_scale -> --feedback-scale."""
    return "--" + field_name.replace("_", "-")


def _plain(value):
    """numpy scalars as Python numbers (np.int64(3) -> 3); Python values unchanged, so keys stay as they were."""
    if isinstance(value, bool) or type(value) in (int, float):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    return value
