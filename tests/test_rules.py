"""Each rule's hand-written update against an independent oracle, in float64."""

import numpy as np
import pytest
import torch

from dfa_lafs.config import RunConfig
from dfa_lafs.model import MLP
from dfa_lafs.rules import SGD, deltas, gradients, train_step



def make(hidden=(7, 6, 5), activation="tanh", rule="dfa", seed=0, n=9, d_in=8, d_y=4):
    cfg = RunConfig(rule=rule, hidden=hidden, activation=activation, dtype="float64", device="cpu", seed=seed,
                    init_scale=2.0, feedback_scale=3.0)
    net = MLP.from_config(cfg, d_in=d_in, d_y=d_y)
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.rand(n, d_in, generator=g, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.randint(0, d_y, (n,), generator=g), d_y).double()
    return net, x, y


def autograd_loss_grads(net, x, y, reduction="mean"):
    """The BP oracle: torch.autograd through the same forward pass and cross-entropy."""
    W = [w.clone().requires_grad_() for w in net.W]
    b = [v.clone().requires_grad_() for v in net.b]
    h = x
    for i in range(len(W)):
        a = h @ W[i].T + b[i]
        h = a if i == len(W) - 1 else net.act.f(a)
    loss = torch.nn.functional.cross_entropy(h, y.argmax(1), reduction=reduction)
    return torch.autograd.grad(loss, W + b)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("hidden", [(), (5,), (7, 6, 5)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_bp_equals_autograd(activation, hidden, reduction):
    net, x, y = make(hidden, activation, "bp")
    dW, db = gradients("bp", net, x, y, reduction)
    expected = autograd_loss_grads(net, x, y, reduction)
    for got, want in zip(dW + db, expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_lafs_update_is_gradient_of_auxiliary_loss(activation):
    """Eq. (9): dW^i = grad of L^i = CE(softmax((B^i)^T h^i), y) w.r.t. W^i, h^{i-1} held fixed."""
    net, x, y = make((7, 6, 5), activation, "lafs")
    dW, db = gradients("lafs", net, x, y)
    hs = net.forward(x)
    for i, B in enumerate(net.B):
        W = net.W[i].clone().requires_grad_()
        b = net.b[i].clone().requires_grad_()
        h_i = net.act.f(hs[i] @ W.T + b)  # hs[i] = h^{i-1}: no gradient reaches lower layers
        loss = torch.nn.functional.cross_entropy(h_i @ B, y.argmax(1))
        gW, gb = torch.autograd.grad(loss, (W, b))
        torch.testing.assert_close(dW[i], gW, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(db[i], gb, rtol=1e-10, atol=1e-12)
    # The output layer trains on the main loss, exactly as in backprop.
    bp_dW, _ = gradients("bp", net, x, y)
    torch.testing.assert_close(dW[-1], bp_dW[-1])


def test_dfa_matches_eq4_computed_example_by_example():
    """Eq. (4), one example at a time in numpy: dW^i = sum_n ((B^i e^y_n) * f'(a^i_n)) h^{i-1}_n^T / n."""
    net, x, y = make((7, 6, 5), "tanh", "dfa")
    dW, _ = gradients("dfa", net, x, y)
    W = [w.numpy() for w in net.W]
    b = [v.numpy() for v in net.b]
    B = [m.numpy() for m in net.B]
    n = x.shape[0]
    for i in range(len(B)):
        want = np.zeros_like(W[i])
        for xn, yn in zip(x.numpy(), y.numpy()):
            hs, h = [xn], xn
            for j in range(len(W)):
                a = W[j] @ h + b[j]
                h = a if j == len(W) - 1 else np.tanh(a)
                hs.append(h)
            p = np.exp(hs[-1] - hs[-1].max())
            e_y = p / p.sum() - yn
            delta = (B[i] @ e_y) * (1 - hs[i + 1] ** 2)
            want += np.outer(delta, hs[i]) / n
        np.testing.assert_allclose(dW[i].numpy(), want, rtol=1e-10, atol=1e-13)


def test_fa_with_true_weights_as_feedback_equals_bp():
    net, x, y = make((7, 6, 5), "tanh", "fa")
    net.B_fa = [w.clone() for w in net.W[1:]]
    for got, want in zip(*[gradients(r, net, x, y) for r in ("fa", "bp")]):
        for g, w in zip(got, want):
            torch.testing.assert_close(g, w)


def test_fa_with_random_feedback_differs_from_bp():
    net, x, y = make((7, 6, 5), "tanh", "fa")
    fa, bp = gradients("fa", net, x, y)[0], gradients("bp", net, x, y)[0]
    assert not torch.allclose(fa[0], bp[0])
    torch.testing.assert_close(fa[-1], bp[-1])  # the output layer's update is the true gradient


@pytest.mark.parametrize("rule", ["fa", "dfa", "lafs"])
def test_no_hidden_layer_every_rule_is_bp(rule):
    """The rules differ only in how hidden layers learn: on a network without one (built as
    rule='bp', the only config allowed without hidden layers) their updates coincide."""
    net, x, y = make((), "tanh", "bp")
    for g, w in zip(gradients(rule, net, x, y)[0], gradients("bp", net, x, y)[0]):
        torch.testing.assert_close(g, w)
    if rule != "bp":
        with pytest.raises(ValueError, match="needs at least one hidden layer"):
            make((), "tanh", rule)


def test_dfa_and_lafs_differ_only_in_the_error_vector(monkeypatch):
    """With the same nonzero B^i, LAFS's update is DFA's exactly when its readout errors e^i are
    replaced by e^y (eqs. 4 vs 9), and differs from it otherwise."""
    import dfa_lafs.rules as rules

    net, x, y = make((7, 6, 5), "tanh")
    assert all(B.abs().min() > 0 for B in net.B)
    hs = net.forward(x)
    e_y = rules.softmax_error(hs[-1], y, "mean")
    dfa = deltas("dfa", net, hs, y, "mean")
    # DFA from the paper: delta a^i = (B^i e^y) * f'(a^i) for the hidden layers, e^y at the output.
    expected = [(e_y @ B.T) * (1 - h ** 2) for B, h in zip(net.B, hs[1:-1])] + [e_y]
    for d, want in zip(dfa, expected):
        torch.testing.assert_close(d, want)
    lafs = deltas("lafs", net, hs, y, "mean")
    torch.testing.assert_close(lafs[-1], dfa[-1])  # the output layer is trained alike
    assert all((d - l).abs().max() > 1e-3 for d, l in zip(dfa[:-1], lafs[:-1]))  # each hidden layer differs
    monkeypatch.setattr(rules, "readout_error", lambda h, B, y, reduction: e_y)  # e^i := e^y
    for d, l in zip(dfa, deltas("lafs", net, hs, y, "mean")):
        torch.testing.assert_close(d, l, rtol=0, atol=0)


def test_feedback_matrices_are_independent_across_layers_and_shared_across_rules():
    dfa, _, _ = make((6, 6, 6), rule="dfa")
    lafs, _, _ = make((6, 6, 6), rule="lafs")
    assert all(torch.equal(p, q) for p, q in zip(dfa.B + dfa.W, lafs.B + lafs.W))
    assert not torch.equal(dfa.B[0], dfa.B[1]) and not torch.equal(dfa.B[1], dfa.B[2])
    assert not any(torch.equal(p, q) for p, q in zip(dfa.B, dfa.B_control))


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_matches_torch_optim(momentum):
    """Two steps of our SGD against torch.optim.SGD fed the same (autograd) gradients."""
    net, x, y = make((7, 6), "tanh", "bp")
    params = [p.clone().requires_grad_() for p in net.W + net.b]
    ref = torch.optim.SGD(params, lr=0.1, momentum=momentum)
    opt = SGD(net, lr=0.1, momentum=momentum)
    for _ in range(2):
        for p, g in zip(params, autograd_loss_grads(net, x, y)):
            p.grad = g.clone()
        ref.step()
        train_step("bp", net, opt, x, y, "mean")
        for p, q in zip(params, net.W + net.b):
            torch.testing.assert_close(p.detach(), q, rtol=1e-10, atol=1e-12)


# --- the public functions check their arguments (issue 18) -------------------------------------------

def batch32(n=9):
    net, x, y = make((7, 6), "tanh", "dfa", n=n)
    return net, x.clone(), y, y.argmax(1)


@pytest.mark.parametrize("call", [
    lambda net, x, y: train_step("dfaa", net, SGD(net, 0.1), x, y, "mean"),
    lambda net, x, y: train_step("DFA", net, SGD(net, 0.1), x, y, "mean"),
    lambda net, x, y: deltas("hebb", net, net.forward(x), y, "mean"),
    lambda net, x, y: gradients("dfaa", net, x, y),
])
def test_an_unknown_rule_is_refused_not_trained_as_feedback_alignment(call):
    net, x, y, _ = batch32()
    before = [W.clone() for W in net.W]
    with pytest.raises(ValueError, match=r"rule must be one of bp, fa, dfa, lafs; got '(dfaa|DFA|hebb)'"):
        call(net, x, y)
    assert all(torch.equal(a, b) for a, b in zip(before, net.W))


@pytest.mark.parametrize("reduction", ["avg", "MEAN", None])
def test_an_unknown_reduction_is_refused_not_treated_as_sum(reduction):
    from dfa_lafs.rules import softmax_error

    net, x, y, _ = batch32()
    with pytest.raises(ValueError, match="reduction must be one of mean, sum"):
        train_step("dfa", net, SGD(net, 0.1), x, y, reduction)
    with pytest.raises(ValueError, match="reduction must be one of mean, sum"):
        softmax_error(net.forward(x)[-1], y, reduction)


@pytest.mark.parametrize("lr, momentum, message", [
    (float("nan"), 0.0, "lr must be > 0, got nan"), (float("inf"), 0.0, "lr must be finite"),
    (0.0, 0.0, "lr must be > 0"), (-0.1, 0.0, "lr must be > 0"), ("0.1", 0.0, "lr must be a number, got str"),
    (True, 0.0, "lr must be a number"), (0.1, 2.0, "momentum must be a number in [0, 1)"),
    (0.1, 1.0, "momentum must be a number in [0, 1)"), (0.1, -0.5, "momentum must be"),
    (0.1, float("nan"), "momentum must be"),
])
def test_sgd_refuses_what_runconfig_refuses(lr, momentum, message):
    net, _, _, _ = batch32()
    with pytest.raises(ValueError) as err:
        SGD(net, lr, momentum)
    assert message in str(err.value)


def test_numpy_numbers_are_numbers():
    net, x, y, _ = batch32()
    opt = SGD(net, np.float64(0.1), np.float32(0.5))
    assert (opt.lr, opt.momentum) == (0.1, 0.5) and type(opt.lr) is float
    train_step("dfa", net, opt, x, y, "mean")


@pytest.mark.parametrize("value, message", [(float("nan"), "x holds 1 NaN or infinite value"),
                                            (float("inf"), "x holds 1 NaN or infinite value")])
def test_a_non_finite_input_is_refused_before_any_weight_changes(value, message):
    net, x, y, _ = batch32()
    x[3, 5] = value
    before = [W.clone() for W in net.W]
    with pytest.raises(ValueError, match=message):
        train_step("dfa", net, SGD(net, 0.1), x, y, "mean")
    with pytest.raises(ValueError, match=message):
        gradients("lafs", net, x, y)
    assert all(torch.equal(a, b) for a, b in zip(before, net.W))


def test_an_input_that_requires_grad_is_used_for_its_values_and_the_weights_stay_out_of_any_graph():
    """Detached, like torch.optim's step (run under no_grad): the update is the same as for the plain
    input, and the weights are still leaves that require no grad, so no graph grows step after step."""
    net, x, y, _ = batch32()
    twin, _, _, _ = batch32()
    train_step("dfa", net, SGD(net, 0.1, 0.9), x.clone().requires_grad_(), y, "mean")
    train_step("dfa", twin, SGD(twin, 0.1, 0.9), x, y, "mean")
    for W, V in zip(net.W + net.b, twin.W + twin.b):
        assert W.grad_fn is None and not W.requires_grad
        assert torch.equal(W, V)
    dW, _ = gradients("dfa", net, x.clone().requires_grad_(), y)
    assert all(g.grad_fn is None for g in dW)
    hs = net.forward(x.clone().requires_grad_())
    SGD(net, 0.1).step(deltas("dfa", net, hs, y, "mean"), hs)  # updates that carry a graph
    assert all(W.grad_fn is None for W in net.W)


@pytest.mark.parametrize("n", [9, 4])  # n = 4 = d_y: labels (4,) would broadcast against (4, 4) silently
def test_integer_labels_where_one_hot_targets_are_due_say_so(n):
    net, x, y, labels = batch32(n)
    for call in (lambda: train_step("dfa", net, SGD(net, 0.1), x, labels, "mean"),
                 lambda: gradients("dfa", net, x, labels),
                 lambda: deltas("lafs", net, net.forward(x), labels, "mean")):
        with pytest.raises(ValueError, match=rf"y must be one-hot targets of shape \({n}, 4\) \(n, d_y\), got "
                                             rf"\({n},\): these look like integer labels; pass "
                                             rf"torch.nn.functional.one_hot\(y, 4\)"):
            call()


@pytest.mark.parametrize("change, message", [
    (lambda x, y: (x[:, :5], y), r"x must be a batch of inputs of shape \(n, 8\), got \(9, 5\)"),
    (lambda x, y: (x[0], y[0]), r"x must be a batch of inputs of shape \(n, 8\), got \(8,\)"),
    (lambda x, y: (x.float(), y), "x is torch.float32 on cpu, the weights are torch.float64 on cpu"),
    (lambda x, y: (x, y[:8]), r"y must be one-hot targets of shape \(9, 4\) \(n, d_y\), got \(8, 4\)"),
    (lambda x, y: (x.numpy(), y), r"x must be a batch of inputs of shape \(n, 8\), got ndarray"),
])
def test_a_batch_of_the_wrong_shape_dtype_or_type_names_the_argument(change, message):
    net, x, y, _ = batch32()
    x, y = change(x, y)
    with pytest.raises(ValueError, match=message):
        train_step("dfa", net, SGD(net, 0.1), x, y, "mean")
