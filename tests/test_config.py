import pytest
import torch

from dfa_lafs.config import RunConfig, paper_config, resolve_device


@pytest.mark.parametrize("changes, message", [
    ({"rule": "backprop"}, "rule must be one of bp, fa, dfa, lafs"),
    ({"activation": "gelu"}, "activation must be one of tanh, relu, sigmoid"),
    ({"lr": -1}, "lr must be > 0, got -1"),
    ({"lr": 0}, "lr must be > 0, got 0"),
    ({"hidden": (800, 0)}, "hidden[1] (a layer width) must be a positive int"),
    ({"batch_size": 0}, "batch_size must be a positive int"),
    ({"epochs": 1.5}, "epochs must be a positive int"),
    ({"train_size": 0}, "train_size must be a positive int"),
    ({"feedback_scale": 0.0}, "feedback_scale must be > 0"),
    ({"momentum": 1.0}, "momentum must be a number in [0, 1)"),
    ({"seed": -3}, "seed must be a non-negative int"),
    ({"dataset": "cifar10"}, "dataset must be one of mnist, fashion-mnist"),
    ({"lr": float("inf")}, "lr must be finite, got inf"),
    ({"lr": float("nan")}, "lr must be > 0, got nan"),
    ({"init_scale": float("inf")}, "init_scale must be finite"),
    ({"feedback_scale": float("inf")}, "feedback_scale must be finite"),
    ({"momentum": float("nan")}, "momentum must be a number in [0, 1)"),
    ({"hidden": 32}, "hidden must be a sequence of layer widths"),
    ({"hidden": "800"}, "hidden must be a sequence of layer widths"),
    ({"data_root": 5}, "data_root must be a folder path (str) or None, got 5"),
    ({"rule": "dfa", "hidden": ()}, "rule 'dfa' needs at least one hidden layer"),
    ({"rule": "fa", "hidden": []}, "rule 'fa' needs at least one hidden layer"),
    ({"patience": 3}, "patience=3 needs a validation split: set val_size > 0"),
    ({"val_size": -1}, "val_size must be a non-negative int"),
    ({"lr_schedule": "step"}, "lr_schedule must be one of constant, cosine"),
    ({"noise_points": 1.0}, "noise_points must be a non-negative int"),
])
def test_invalid_values_fail_at_construction(changes, message):
    with pytest.raises(ValueError) as err:
        RunConfig(**changes)
    assert message in str(err.value)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device_is_a_clear_error():
    with pytest.raises(ValueError, match="CUDA is not available here; use device='auto' or 'cpu'"):
        RunConfig(device="cuda")
    assert resolve_device("auto").type == "cpu"


def test_paper_defaults():
    cfg = paper_config("lafs")
    assert (cfg.rule, cfg.hidden, cfg.activation, cfg.lr, cfg.momentum) == ("lafs", (800, 800, 800), "tanh", 0.1, 0.0)


def test_roundtrip_and_key():
    cfg = RunConfig(hidden=[10, 20], lr=0.5)
    assert cfg.hidden == (10, 20)
    assert RunConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.key() == cfg.replace(device="cpu", data_root="/elsewhere").key()  # place, not content
    assert cfg.key() != cfg.replace(seed=1).key()
    with pytest.raises(ValueError, match=r"unknown config field\(s\) \['learning_rate'\]"):
        RunConfig.from_dict({"learning_rate": 0.1})


def test_repr_leaves_out_the_machine_path_it_read_data_from():
    """Pages print configs; the data folder is a path on the machine the run ran on."""
    cfg = RunConfig(data_root="/home/someone/data")
    assert "/home/someone" not in repr(cfg) and "data_root" not in repr(cfg) and "rule='dfa'" in repr(cfg)
    assert cfg.to_dict()["data_root"] == "/home/someone/data"  # still stored with the result


def test_softmax_regression_is_bp_without_hidden_layers():
    assert RunConfig(rule="bp", hidden=()).depth == 1


def test_frozen():
    with pytest.raises(Exception):
        RunConfig().lr = 1.0
