"""Training runs end to end on real MNIST (small subsets), results and checkpoints."""

import json

import pytest

import dfa_lafs
from dfa_lafs import results as results_mod
from dfa_lafs.config import RunConfig
from dfa_lafs.results import ResultError, load_result
from dfa_lafs.train import record_steps, run


@pytest.fixture
def tiny(data_root):
    return RunConfig(rule="dfa", data_root=data_root, hidden=(64, 32), epochs=2, train_size=1280, eval_size=500,
                     probe_size=64, record_points=8, batch_size=64)


def test_record_schedule_is_log_spaced_with_ends():
    steps = record_steps(1000, 4)
    assert steps == [0, 1, 10, 100, 1000]
    assert record_steps(3, 10) == [0, 1, 2, 3]


@pytest.mark.parametrize("rule", ["bp", "fa", "dfa", "lafs"])
def test_every_rule_learns_mnist(tiny, rule):
    result = run(tiny.replace(rule=rule, train_size=6400), progress=False)
    assert result.history["test/accuracy"][0] < 0.3  # chance at initialization
    assert result.final["test/accuracy"] > 0.7, result.final  # after 200 steps; chance is 0.1
    assert result.history["step"][-1] == 2 * 100


def test_history_holds_what_figure1_needs(tiny):
    result = run(tiny, progress=False)
    n = len(result.history["step"])
    assert result.history["step"][0] == 0 and n == len(record_steps(40, 8))
    for split in ("train", "test"):
        for layer in (1, 2):
            for metric in ("angle", "angle_flat", "angle_centered", "angle_centered_flat", "angle_control",
                           "readout_accuracy"):
                values = result.series(metric, layer, split)
                assert len(values) == n and all(0 <= v <= 180 for v in values)
    assert set(k for k in result.history if k.startswith("probe/")) == {f"probe/update_angle/{i}" for i in (1, 2, 3)}
    assert 0 < result.timings["record_share"] < 1 and result.provenance["code_hash"] == results_mod.code_hash()


def test_same_config_same_history(tiny):
    assert run(tiny, progress=False).history == run(tiny, progress=False).history


def test_resume_from_checkpoint_equals_uninterrupted(tiny, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    assert run(tiny, checkpoint=ckpt, stop_after=13, progress=False) is None and ckpt.exists()
    assert run(tiny, checkpoint=ckpt, stop_after=10, progress=False) is None
    resumed = run(tiny, checkpoint=ckpt, progress=False)
    assert not ckpt.exists()
    assert resumed.history == run(tiny, progress=False).history


def test_checkpoint_of_another_config_is_refused(tiny, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    run(tiny, checkpoint=ckpt, stop_after=5, progress=False)
    with pytest.raises(ValueError, match="made by another config"):
        run(tiny.replace(lr=0.2), checkpoint=ckpt, progress=False)


def test_save_load_roundtrip_atomic_and_fresh(tiny, tmp_path):
    result = run(tiny, progress=False)
    path = result.save(tmp_path / "r.json")
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
    loaded = load_result(path, expect=tiny)
    assert loaded.config == tiny and loaded.history == result.history and loaded.final == result.final
    with pytest.raises(ResultError, match="different config"):
        load_result(path, expect=tiny.replace(seed=3))


def test_stale_and_incompatible_results_are_refused(tiny, tmp_path, monkeypatch):
    path = run(tiny, progress=False).save(tmp_path / "r.json")
    monkeypatch.setattr(results_mod, "code_hash", lambda: "0" * 16)
    with pytest.raises(ResultError, match="stale: the training code changed"):
        load_result(path, expect=tiny)
    d = json.loads(path.read_text())
    d["format_version"] = 99
    path.write_text(json.dumps(d))
    with pytest.raises(ResultError, match="has result format 99"):
        load_result(path)


def test_failed_save_leaves_no_file(tiny, tmp_path):
    result = run(tiny, progress=False)
    result.history["bad"] = [object()]  # not serialisable
    with pytest.raises(TypeError):
        result.save(tmp_path / "r.json")
    assert list(tmp_path.iterdir()) == []


def test_train_size_larger_than_dataset_is_a_clear_error(tiny):
    with pytest.raises(ValueError, match="train_size 70000 exceeds the 60000 training examples"):
        run(tiny.replace(train_size=70000), progress=False)


def test_public_api():
    assert dfa_lafs.run is run and dfa_lafs.__version__
