"""Angles and readout metrics against closed forms."""

import math

import numpy as np
import pytest
import torch

from dfa_lafs.config import RunConfig
from dfa_lafs.metrics import angle_flat, angle_rows, centered_offtarget, evaluate, update_angles
from dfa_lafs.model import MLP
from dfa_lafs.rules import softmax_error


def test_angle_rows_closed_forms():
    u = torch.tensor([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [1.0, 1.0]])
    v = torch.tensor([[0.0, 3.0], [2.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    torch.testing.assert_close(angle_rows(u, v), torch.tensor([90.0, 0.0, 180.0, 45.0]))


def test_angle_flat_matches_numpy():
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    want = math.degrees(math.acos(u.ravel() @ v.ravel() / np.linalg.norm(u) / np.linalg.norm(v)))
    assert angle_flat(torch.tensor(u), torch.tensor(v)) == pytest.approx(want, abs=1e-9)


def test_centering_over_all_classes_is_a_no_op():
    """softmax(z) - y sums to zero over classes, so removing that mean changes no angle."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(50, 10, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (50,), generator=g), 10).double()
    e = softmax_error(z, y, "sum")
    torch.testing.assert_close(e.sum(1), torch.zeros(50, dtype=torch.float64))


def test_centered_offtarget_drops_label_and_mean():
    e = torch.tensor([[0.1, -0.7, 0.2, 0.4]])
    y = torch.tensor([[0.0, 1.0, 0.0, 0.0]])
    torch.testing.assert_close(centered_offtarget(e, y), torch.tensor([[-0.133333, -0.033333, 0.166667]]),
                               atol=1e-6, rtol=0)


def test_unrelated_errors_baselines():
    """Raw angles between unrelated softmax errors sit well below 90; centred ones near 90."""
    g = torch.Generator().manual_seed(1)
    n = 20000
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (n,), generator=g), 10).double()
    e1 = softmax_error(torch.randn(n, 10, generator=g, dtype=torch.float64), y, "sum")
    e2 = softmax_error(torch.randn(n, 10, generator=g, dtype=torch.float64), y, "sum")
    assert angle_rows(e1, e2).mean() < 60
    assert angle_rows(centered_offtarget(e1, y), centered_offtarget(e2, y)).mean() == pytest.approx(90, abs=1)


def small_net(rule="dfa"):
    cfg = RunConfig(rule=rule, hidden=(6, 5), dtype="float64", device="cpu")
    net = MLP.from_config(cfg, d_in=4, d_y=3)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 4, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (40,), generator=g), 3).double()
    return net, x, y


def test_evaluate_against_hand_computation():
    net, x, y = small_net()
    m = evaluate(net, x, y, "train")
    hs = net.forward(x)
    labels = y.argmax(1)
    assert m["train/accuracy"] == pytest.approx((hs[-1].argmax(1) == labels).double().mean().item())
    assert m["train/loss"] == pytest.approx(torch.nn.functional.cross_entropy(hs[-1], labels).item())
    for i in (1, 2):
        readout = hs[i] @ net.B[i - 1]
        assert m[f"train/readout_accuracy/{i}"] == pytest.approx((readout.argmax(1) == labels).double().mean().item())
        p_y, p_i = torch.softmax(hs[-1], 1) - y, torch.softmax(readout, 1) - y
        cos = torch.nn.functional.cosine_similarity(p_y, p_i, dim=1)
        assert m[f"train/angle/{i}"] == pytest.approx(torch.rad2deg(torch.arccos(cos)).mean().item())


def test_update_angles_zero_for_bp_and_positive_for_dfa():
    net, x, y = small_net()
    bp = update_angles("bp", net, x, y, "mean")
    assert all(bp[f"probe/update_angle/{i}"] == pytest.approx(0, abs=1e-5) for i in (1, 2, 3))
    dfa = update_angles("dfa", net, x, y, "mean")
    assert dfa["probe/update_angle/1"] > 1 and dfa["probe/update_angle/3"] == pytest.approx(0, abs=1e-5)


def test_confident_predictions_keep_their_angle_in_float32():
    """Margins of 17-25 make p_t - 1 cancel in float32; the angle must still match float64."""
    z1 = torch.tensor([[17.0, 0.0, 1.0, -1.0], [25.0, 2.0, 0.0, 0.0]])
    z2 = torch.tensor([[18.0, 1.0, 0.0, 0.0], [24.0, 0.0, 3.0, 0.0]])
    y = torch.tensor([[1.0, 0, 0, 0], [1.0, 0, 0, 0]])
    e1, e2 = softmax_error(z1, y, "sum"), softmax_error(z2, y, "sum")

    def naive64(z):  # float64, the textbook formula; accurate at these margins
        return torch.softmax(z.double(), 1) - y.double()

    u, v = naive64(z1), naive64(z2)
    want = torch.rad2deg(torch.arccos((u * v).sum(1) / (u.norm(dim=1) * v.norm(dim=1))))
    torch.testing.assert_close(angle_rows(e1, e2).double(), want, atol=1e-3, rtol=0)
    assert 5 < want[0] < 60  # a real angle, not the 90 degrees an underflow would give


def test_raw_angle_between_softmax_errors_never_exceeds_60_degrees():
    """Same label: <p - y, q - y> >= (1 - p_t)(1 - q_t) and |p - y| <= sqrt(2)(1 - p_t), so cos >= 1/2."""
    g = torch.Generator().manual_seed(2)
    y = torch.nn.functional.one_hot(torch.randint(0, 10, (5000,), generator=g), 10).double()
    e1 = softmax_error(5 * torch.randn(5000, 10, generator=g, dtype=torch.float64), y, "sum")
    e2 = softmax_error(5 * torch.randn(5000, 10, generator=g, dtype=torch.float64), y, "sum")
    assert angle_rows(e1, e2).max() <= 60 + 1e-9
