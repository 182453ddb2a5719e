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


def test_numpy_numbers_are_accepted_and_give_the_same_key():
    import numpy as np

    plain = RunConfig(lr=0.5, momentum=0.5, epochs=3, hidden=(8, 4), seed=1, train_size=100)
    from_numpy = RunConfig(lr=np.float32(0.5), momentum=np.float64(0.5), epochs=np.int64(3),
                           hidden=(np.int64(8), np.int32(4)), seed=np.int16(1), train_size=np.uint32(100))
    assert from_numpy == plain and from_numpy.key() == plain.key()
    assert type(from_numpy.lr) is float and type(from_numpy.epochs) is int and type(from_numpy.hidden[0]) is int
    assert RunConfig(lr=1).lr == 1 and type(RunConfig(lr=1).lr) is int  # Python values untouched: stored keys stay


@pytest.mark.parametrize("changes, message", [
    ({"lr": 1e308}, "lr 1e+308 does not fit in float32 (largest 3.4e+38); use a smaller lr or dtype float64"),
    ({"lr": 1e-50}, "lr 1e-50 rounds to 0 in float32"),
    ({"init_scale": 1e39}, "init_scale 1e+39 does not fit in float32"),
    ({"feedback_scale": 1e39}, "feedback_scale 1e+39 does not fit in float32"),
    ({"lr": 1e-330, "dtype": "float64"}, "lr must be > 0"),
    ({"lr": "0.1"}, "lr must be a number, got str '0.1'"),
])
def test_values_the_run_cannot_represent_are_refused(changes, message):
    with pytest.raises(ValueError) as err:
        RunConfig(**changes)
    assert message in str(err.value)
    assert RunConfig(lr=1e308, dtype="float64").lr == 1e308


def test_a_refusal_names_the_fields_at_fault():
    from dfa_lafs.checks import ArgumentError

    for changes, fields in [({"lr": -1}, ("lr",)), ({"hidden": (8, 0)}, ("hidden",)),
                            ({"patience": 2}, ("patience", "val_size")), ({"rule": "dfa", "hidden": ()},
                                                                         ("rule", "hidden"))]:
        with pytest.raises(ArgumentError) as err:
            RunConfig(**changes)
        assert err.value.fields == fields


def test_divergence_hint_names_the_settings_above_their_defaults():
    assert RunConfig().divergence_hint() == "try a smaller lr (--lr, 0.1 here, default 0.1)"
    hint = RunConfig(feedback_scale=1e30, lr=0.5).divergence_hint()
    assert hint.startswith("try a smaller feedback_scale (--feedback-scale, 1e+30 here, default 1) or lr (--lr")
    assert "feedback_scale" not in RunConfig(rule="bp", feedback_scale=1e30).divergence_hint()
    assert "momentum (--momentum, 0.9 here" in RunConfig(momentum=0.9).divergence_hint()
