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
    ({"momentum": 1.0}, "momentum must be in [0, 1)"),
    ({"seed": -3}, "seed must be a non-negative int"),
    ({"dataset": "cifar10"}, "dataset must be one of mnist, fashion-mnist"),
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


def test_frozen():
    with pytest.raises(Exception):
        RunConfig().lr = 1.0
