"""The measurements that test the paper's thesis, each against an independent computation."""

import math

import pytest
import torch
import torch.nn.functional as F

from dfa_lafs.config import RunConfig
from dfa_lafs.metrics import angle_flat, evaluate, margin, update_angles
from dfa_lafs.model import MLP, STREAM_BASELINE, generator
from dfa_lafs.probes import LinearBaseline, noise_angles, noise_keys


def _net(seed=0, hidden=(20, 16)):
    cfg = RunConfig(hidden=hidden, seed=seed, dtype="float64", device="cpu")
    return MLP.from_config(cfg, d_in=12, d_y=5)


def _data(n=300, seed=1):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 12, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (n,), generator=g)
    return x, F.one_hot(labels, 5).double()


def _autograd_updates(net, x, y):
    """DFA's and LAFS's dW^i from autograd surrogates, not from the library's rules.

    DFA: the gradient of <stopgrad(e^y (B^i)^T), h^i> (eq. 4: the error e^y sent through B^i).
    LAFS: the gradient of the readout loss CE(softmax(h^i B^i), y) w.r.t. W^i, with h^{i-1} fixed (eq. 9).
    """
    W = [w.clone().requires_grad_(True) for w in net.W]
    hs = [x]
    for i, (w, b) in enumerate(zip(W, net.b)):
        a = hs[-1] @ w.T + b
        hs.append(a if i == len(W) - 1 else torch.tanh(a))
    e_y = (torch.softmax(hs[-1], 1) - y).detach()
    dfa, lafs = [], []
    for i, B in enumerate(net.B):
        dfa.append(torch.autograd.grad((hs[i + 1] * (e_y @ B.T)).sum(), W[i], retain_graph=True)[0])
        h_i = torch.tanh(hs[i].detach() @ W[i].T + net.b[i])
        lafs.append(torch.autograd.grad(F.cross_entropy(h_i @ B, y.argmax(1), reduction="sum"), W[i])[0])
    return dfa, lafs


def test_dfa_vs_lafs_update_angle_matches_autograd_surrogates():
    net, (x, y) = _net(), _data()
    dfa, lafs = _autograd_updates(net, x, y)
    probes = update_angles("dfa", net, x, y, "sum")
    for i in (1, 2):
        assert probes[f"probe/dfa_vs_lafs_update/{i}"] == pytest.approx(angle_flat(dfa[i - 1], lafs[i - 1]), abs=1e-6)
        assert probes[f"probe/weight_norm/{i}"] == pytest.approx(torch.linalg.norm(net.W[i - 1]).item())
    assert 5 < probes["probe/dfa_vs_lafs_update/1"] < 175  # a real angle, not a degenerate 0 or 180


def test_noise_angles_whole_set_and_batches():
    net, (x, y) = _net(), _data(n=5000)
    out = noise_angles(net, x, y, seed=0, step=0)
    assert set(out) == set(noise_keys(net.k))
    dfa, lafs = _autograd_updates(net, x, y)
    for i in (1, 2):
        assert out[f"noise/dfa_vs_lafs_update/all/{i}"] == pytest.approx(angle_flat(dfa[i - 1], lafs[i - 1]), abs=1e-6)
    # one batch of 64 by hand: the first 64 of the same seeded permutation
    perm = torch.randperm(len(x), generator=generator(0, STREAM_BASELINE, 1_000_000))
    idx = torch.cat([perm[j * 64:(j + 1) * 64] for j in range(8)])
    by_batch = [_autograd_updates(net, x[idx[j * 64:(j + 1) * 64]], y[idx[j * 64:(j + 1) * 64]]) for j in range(8)]
    expected = sum(angle_flat(d[0], l[0]) for d, l in by_batch) / 8
    assert out["noise/dfa_vs_lafs_update/64/1"] == pytest.approx(expected, abs=1e-6)


def test_linear_baseline_equals_torch_sgd_on_the_same_batches():
    x, y = _data(n=200)
    ours = LinearBaseline.fit(x, y, epochs=2, batch_size=32, seed=3)
    model = torch.nn.Linear(12, 5).double()
    torch.nn.init.zeros_(model.weight), torch.nn.init.zeros_(model.bias)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for epoch in range(2):
        perm = torch.randperm(200, generator=generator(3, STREAM_BASELINE, epoch))
        for start in range(0, 200, 32):
            idx = perm[start:start + 32]
            opt.zero_grad()
            F.cross_entropy(model(x[idx]), y[idx].argmax(1)).backward()
            opt.step()
    assert torch.allclose(ours.W, model.weight.detach(), atol=1e-12)
    assert torch.allclose(ours.logits(x), model(x).detach(), atol=1e-12)


def test_margin_closed_form():
    logits = torch.tensor([[2.0, 1.0, 0.0], [2.0, 1.0, 0.0]])
    assert margin(logits, torch.tensor([0, 2])) == pytest.approx((1.0 + -2.0) / 2)


def test_centered_control_equals_centered_when_control_is_the_readout():
    net, (x, y) = _net(), _data()
    net.B_control = [B.clone() for B in net.B]
    out = evaluate(net, x, y, "t", linear_logits=net.forward(x)[-1])
    for i in (1, 2):
        assert out[f"t/angle_centered_control/{i}"] == out[f"t/angle_centered/{i}"]
        assert out[f"t/angle_centered_control_flat/{i}"] == out[f"t/angle_centered_flat/{i}"]
        assert 0 < out[f"t/mean_fprime/{i}"] <= 1
    assert out["t/angle_linear"] == pytest.approx(0, abs=1e-3)  # the "baseline" is the network itself
    assert out["t/linear_accuracy"] == out["t/accuracy"]


def test_angle_of_nan_is_nan_not_perfect_alignment():
    nan = torch.full((3, 4), math.nan)
    assert math.isnan(angle_flat(nan, nan))
    assert math.isnan(angle_flat(torch.ones(3, 4), nan))
    assert math.isnan(angle_flat(torch.zeros(3), torch.ones(3)))


@pytest.mark.parametrize("epochs, batch_size, seed, message", [
    (-3, 32, 0, "epochs must be a positive int, got -3"),
    (0, 32, 0, "epochs must be a positive int, got 0"),  # an untrained baseline would fake every angle to it
    (2.5, 32, 0, "epochs must be a positive int, got 2.5"),
    (1, 0, 0, "batch_size must be a positive int, got 0"),
    (1, 32, -1, "seed must be a non-negative int, got -1"),
])
def test_linear_baseline_refuses_what_would_leave_it_untrained(epochs, batch_size, seed, message):
    x, y = _data(n=50)
    with pytest.raises(ValueError) as err:
        LinearBaseline.fit(x, y, epochs, batch_size, seed)
    assert message in str(err.value)


def test_linear_baseline_refuses_labels_and_nan_and_takes_numpy_ints():
    import numpy as np

    x, y = _data(n=50)
    with pytest.raises(ValueError, match="these look like integer labels"):
        LinearBaseline.fit(x, y.argmax(1), 1, 8, 0)
    bad = x.clone()
    bad[0, 0] = math.nan
    with pytest.raises(ValueError, match="x holds NaN or infinite values"):
        LinearBaseline.fit(bad, y, 1, 8, 0)
    ours = LinearBaseline.fit(x, y, np.int64(1), np.int64(8), np.int32(0))
    assert torch.equal(ours.W, LinearBaseline.fit(x, y, 1, 8, 0).W)
