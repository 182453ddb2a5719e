"""Training runs end to end on real MNIST (small subsets), results and checkpoints."""

import json

import pytest

import dfa_lafs
from dfa_lafs import results as results_mod
from dfa_lafs.config import RunConfig
from dfa_lafs.results import ResultError, load_result
from dfa_lafs.train import DivergedError, learning_rate, noise_steps, record_steps, run


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
                           "angle_centered_control", "readout_accuracy"):
                values = result.series(metric, layer, split)
                assert len(values) == n and all(0 <= v <= 180 for v in values)
        assert all(0 <= v <= 180 for v in result.series("angle_linear_centered", split=split))
    probes = {f"probe/update_angle/{i}" for i in (1, 2, 3)} | {f"probe/weight_norm/{i}" for i in (1, 2, 3)}
    probes |= {f"probe/{m}/{i}" for m in ("dfa_vs_lafs_update", "dfa_update_angle", "lafs_update_angle")
               for i in (1, 2)}
    assert set(k for k in result.history if k.startswith("probe/")) == probes
    assert not any(k.startswith("noise/") for k in result.history)  # noise_points=0
    assert 0 < result.timings["record_share"] < 1 and result.provenance["code_hash"] == results_mod.code_hash()


def test_same_config_same_history(tiny):
    assert run(tiny, progress=False).history == run(tiny, progress=False).history


def test_resume_from_checkpoint_equals_uninterrupted(tiny, tmp_path):
    ckpt = tmp_path / "run.ckpt"
    assert run(tiny, checkpoint=ckpt, stop_after=13, progress=False) is None and ckpt.exists()
    assert run(tiny, checkpoint=ckpt, stop_after=10, progress=False) is None
    resumed = run(tiny, checkpoint=ckpt, progress=False, out=tmp_path / "r.json")
    assert not ckpt.exists() and (tmp_path / "r.json").exists()  # removed only once the result is saved
    assert resumed.history == run(tiny, progress=False).history


def test_early_stopping_resumes_bit_identically(tiny, tmp_path):
    cfg = tiny.replace(val_size=640, patience=1, epochs=6, train_size=640, lr=0.5)
    whole = run(cfg, progress=False)
    ckpt = tmp_path / "run.ckpt"
    while (resumed := run(cfg, checkpoint=ckpt, stop_after=7, progress=False)) is None:
        pass
    assert resumed.history == whole.history and resumed.per_epoch == whole.per_epoch
    assert resumed.final == whole.final and ckpt.exists()  # no `out`: the caller removes it

def test_validation_split_and_early_stopping(tiny):
    cfg = tiny.replace(val_size=1000, patience=2, epochs=30, train_size=1000, lr=0.5)
    result = run(cfg, progress=False)
    val = result.per_epoch["val/accuracy"]
    best = max(range(len(val)), key=val.__getitem__)
    assert result.final["best_epoch"] == result.per_epoch["epoch"][best] and result.final["val/accuracy"] == val[best]
    if not result.final["hit_cap"]:  # stopped because `patience` epochs did not beat the best
        assert len(val) == best + 1 + cfg.patience and result.final["epochs_run"] == len(val) < 30
    assert result.history["step"][-1] == result.timings["steps"] == result.final["epochs_run"] * 16
    # the test metrics are those of the best-validation weights, not the last ones
    assert result.final["test/accuracy"] > 0.5


def test_learning_rate_schedules():
    cfg = RunConfig(lr=0.2)
    assert learning_rate(cfg, 5, 10) == 0.2
    cos = cfg.replace(lr_schedule="cosine")
    assert learning_rate(cos, 0, 10) == 0.2 and abs(learning_rate(cos, 5, 10) - 0.1) < 1e-12
    assert abs(learning_rate(cos, 10, 10)) < 1e-12


def test_noise_steps_pick_log_spaced_records():
    schedule = record_steps(1000, 10)
    assert noise_steps(schedule, 0) == set()
    picked = sorted(noise_steps(schedule, 3))
    assert picked[0] == 0 and picked[-1] == 1000 and len(picked) == 3


def test_divergence_stops_the_run_without_a_result(tiny, tmp_path):
    with pytest.raises(DivergedError, match="training diverged at step .* try a smaller lr"):
        run(tiny.replace(lr=1e30, activation="relu"), progress=False, out=tmp_path / "r.json")
    assert not (tmp_path / "r.json").exists()


def test_unwritable_output_fails_before_training(tiny, tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ValueError, match="is a file, not a folder"):
        run(tiny, progress=False, out=tmp_path / "file" / "r.json")
    with pytest.raises(ValueError, match="checkpoint_every must be a positive int"):
        run(tiny, progress=False, checkpoint=tmp_path / "c.ckpt", checkpoint_every=0)


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


def test_code_hash_ignores_error_wording_but_not_what_is_raised():
    from dfa_lafs.results import normalized_code

    base = normalized_code('def f(x):\n    if x < 0:\n        raise ValueError(f"bad {x}")\n    return x + 1\n')
    reworded = normalized_code('def f(x):\n    if x < 0:\n        raise ValueError("x must be >= 0")\n    return x + 1\n')
    other_type = normalized_code('def f(x):\n    if x < 0:\n        raise TypeError("bad")\n    return x + 1\n')
    other_math = normalized_code('def f(x):\n    if x < 0:\n        raise ValueError("bad")\n    return x - 1\n')
    assert base == reworded and base != other_type and base != other_math


def test_code_hash_covers_only_the_named_parts_of_a_module():
    from dfa_lafs.results import normalized_code

    source = "import os\n\ndef load(x):\n    return x / 255\n\ndef find(p):\n    return os.path.join(p, 'a')\n"
    other_find = source.replace("'a'", "'b'")
    other_load = source.replace("255", "256")
    assert normalized_code(source, ("load",)) == normalized_code(other_find, ("load",))
    assert normalized_code(source, ("load",)) != normalized_code(other_load, ("load",))
    with pytest.raises(ValueError, match="update HASHED_PARTS"):
        normalized_code(source, ("renamed",))


def test_provenance_records_the_lock_file(tmp_path):
    import hashlib

    from dfa_lafs.results import lock_hash

    lock = tmp_path / "requirements.lock"
    lock.write_text("torch==2.14.1\n")
    assert lock_hash(lock) == hashlib.sha256(b"torch==2.14.1\n").hexdigest()[:16]
    assert lock_hash(tmp_path / "missing.lock") is None
