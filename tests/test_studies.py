"""Every registered rule at its boundaries, on hand-made runs: just inside and just outside each
threshold gives the registered words; and the family correction decides the amended rules."""

import math

import pytest

from dfa_lafs import Result, RunConfig, studies
from dfa_lafs.stats import one_sample
from dfa_lafs.studies import Combined, Decision, figure1, long_training, thesis

STEPS = [0, 11, 116, 885, 1745, 18760]  # 938 steps an epoch: 885 is "epoch 1", 18,760 epoch 20
T = 4.302652729749 / math.sqrt(3)  # three values m-d, m, m+d have a 95% interval m +- T d
LAYERS = (1, 2, 3)
# hand-made runs have identical values across seeds in places: scipy warns about the precision
pytestmark = pytest.mark.filterwarnings("ignore:Precision loss occurred:RuntimeWarning")


def run(rule="dfa", seed=0, epochs=20, final=None, **series) -> Result:
    """A Figure-1-like run: every series given as a list over STEPS (or one value for all)."""
    history = {"step": STEPS, "epoch": [s / 938 for s in STEPS]}
    for name, value in series.items():
        history[name.replace("__", "/")] = value if isinstance(value, list) else [value] * len(STEPS)
    config = RunConfig(rule=rule, seed=seed, epochs=epochs, hidden=(8, 8, 8))
    return Result(config, history, {}, {}, final=final or {})


@pytest.fixture
def fake(monkeypatch):
    """Serve hand-made runs to the study modules in place of the stored sweeps."""
    sweeps = {}

    def stored_runs(name, **fields):
        runs = [r for r in sweeps[name] if all(getattr(r.config, k) == v for k, v in fields.items())]
        return sorted(runs, key=lambda r: (r.config.rule, r.config.seed))

    for module in (figure1, thesis, long_training):
        monkeypatch.setattr(module, "stored_runs", stored_runs)
    return sweeps


def rule(claim, version):
    return next(r for r in studies.rules(claim) if r.version == version)


def words(claim, version, decisions=None):
    r = rule(claim, version)
    ev = r.evidence()
    return r.words(*ev.decide(decisions or {}))


def spread(m, name_values=None):
    """Three values with mean m and sd 1 (their 95% interval is m +- T)."""
    return [m - 1, m, m + 1]


# --- the first-written rules, at their thresholds ----------------------------------------------

@pytest.mark.parametrize("start, registered", [(29.9, "holds early only"), (30.1, "not supported")])
def test_thesis_rule_1_early_threshold_30_degrees(fake, start, registered):
    late = 60 + T + 0.01  # lower bound just above 60
    fake["figure1"] = [run(seed=s, **{f"probe__dfa_vs_lafs_update__{i}": [start] + [late + x] * 5 for i in LAYERS},
                           **{f"noise__dfa_vs_lafs_update__all__{i}": [math.nan] * 5 + [50 + T + x] for i in LAYERS})
                       for s, x in enumerate((-1, 0, 1))]
    assert words("thesis", 1) == registered


@pytest.mark.parametrize("shift, registered", [(+0.01, "holds early only"), (-0.01, "holds")])
def test_thesis_rule_1_late_threshold_is_the_lower_bound_at_60_degrees(fake, shift, registered):
    fake["figure1"] = [run(seed=s, **{f"probe__dfa_vs_lafs_update__{i}": [5.0] + [60 + T + shift + x] * 5 for i in LAYERS},
                           **{f"noise__dfa_vs_lafs_update__all__{i}": [math.nan] * 5 + [90 + x] for i in LAYERS})
                       for s, x in enumerate((-1, 0, 1))]
    assert words("thesis", 1) == registered


@pytest.mark.parametrize("smallest, registered", [(30.01, "holds early only"), (29.99, "holds")])
def test_thesis_rule_2_every_seed_above_30_degrees(fake, smallest, registered):
    fake["figure1"] = [run(seed=s, **{f"probe__dfa_vs_lafs_update__{i}": 5.0 for i in LAYERS},
                           **{f"noise__dfa_vs_lafs_update__all__{i}": [math.nan] * 5 + [smallest + 10 * s] for i in LAYERS})
                       for s in range(3)]
    assert words("thesis", 2) == registered


def _readouts(peak, end, control, linear=0.9):
    return [run(seed=s, **{f"test__readout_accuracy__{i}": [0.1, peak, peak, peak, peak, end + x] for i in LAYERS},
                **{f"test__readout_accuracy_control__{i}": control + x for i in LAYERS}, test__linear_accuracy=linear)
            for s, x in enumerate((-0.001, 0, 0.001))]


@pytest.mark.parametrize("drop, lead", [(0.099, "holds;"), (0.101, "holds early only;")])
def test_readouts_rule_1_drop_threshold(fake, drop, lead):
    fake["figure1"] = _readouts(0.95, 0.95 - drop, 0.1)
    assert words("readouts", 1).startswith(lead)


@pytest.mark.parametrize("control, clause", [(0.5, "above the control readout"), (0.9, "not above the control")])
def test_readouts_rule_1_control_and_linear_clauses(fake, control, clause):
    fake["figure1"] = _readouts(0.95, 0.9, control, linear=0.96)
    got = words("readouts", 1)
    assert clause in got and ("below a linear classifier" in got) == (clause == "above the control readout")


@pytest.mark.parametrize("gap, registered", [(-0.01, "holds early only"), (+0.01, "not supported")])
def test_alignment_rule_1_any_step_below_the_linear_classifier(fake, gap, registered):
    fake["figure1"] = [run(seed=s, **{f"test__angle_centered__{i}": [60, 50 + gap, 60, 70, 70, 70 + x] for i in LAYERS},
                           test__angle_linear_centered=50.0) for s, x in enumerate((-1, 0, 1))]
    assert words("alignment", 1) == registered


@pytest.mark.parametrize("net_gain, registered", [(T * 0.001 + 1e-4, "not supported late"), (T * 0.001 - 1e-4, "open")])
def test_condition_rule_1_network_must_rise_after_the_readout_peak(fake, net_gain, registered):
    fake["figure1"] = [run(seed=s, test__readout_accuracy__1=[0.1, 0.9, 0.9, 0.9, 0.9, 0.5],
                           test__accuracy=[0.1, 0.8, 0.8, 0.8, 0.8, 0.8 + net_gain + x])
                       for s, x in enumerate((-0.001, 0, 0.001))]
    assert words("condition", 1).startswith(registered)


def test_long_training_rule_1_names_what_moves(fake):
    long = []
    for s, x in enumerate((-0.001, 0, 0.001)):
        r = run(seed=s, epochs=100, **{f"test__readout_accuracy__{i}": [0.5] * 5 + [0.5 + d + x]
                                       for i, d in zip(LAYERS, (-0.1, 0.0009, T * 0.001 + 1e-4))},
                test__accuracy=0.97)
        r.history["epoch"] = [0, 1, 10, 20, 50, 100]
        r.config = r.config.replace(lr_schedule="constant")
        long.append(r)
    fake["long"] = long
    got = words("long_training", 1)
    assert got.startswith("not long enough: from epoch 20 to 100") and "readout 1 falls" in got
    assert "readout 3 rises" in got and "readout 2" not in got and "network" not in got


# --- the amended rules: their decisions after the family's correction ----------------------------

def decision(reject: bool, diff: float = 1.0) -> Decision:
    t = one_sample([diff - 0.1, diff, diff + 0.1], 0.0)
    return Decision(Combined(t.p, (t, t, t, t), "all"), reject, 0.01)


def test_amended_alignment_words_for_every_pattern(fake):
    fake["figure1"] = [run(seed=s, **{f"test__angle_centered__{i}": 40.0 + s for i in LAYERS},
                           test__angle_linear_centered=50.0 + s) for s in range(3)]
    fake["long"] = [r for r in fake["figure1"] if r.config.seed < 3]
    for r in fake["long"]:
        object.__setattr__(r, "config", r.config.replace(lr_schedule="constant"))
    names = [f"closer than linear at {p}" for p in figure1.READING]

    def with_flags(*flags):
        return words("alignment", 2, {n: decision(f) for n, f in zip(names, flags)})

    assert with_flags(True, True, True, True).startswith("holds throughout training")
    assert with_flags(True, True, False, False).startswith("holds early only: closer to e^y than a linear "
                                                           "classifier's error until epoch 1")
    assert with_flags(False, False, False, False).startswith("not supported")
    assert with_flags(True, False, True, False).startswith("undecided")


def test_amended_thesis_words_for_every_pattern(fake):
    fake["figure1"] = [run(seed=s, **{f"noise__dfa_vs_lafs_update__all__{i}": [5.0, 10.0, 50.0, 60.0, 70.0, 80.0 + s]
                                      for i in LAYERS}, **{f"probe__dfa_vs_lafs_update__{i}": 5.0 for i in LAYERS})
                       for s in range(3)]
    steps = thesis.measured_steps()

    def with_flags(agree, differ):
        d = {f"agree at step {s}": decision(a) for s, a in zip(steps, agree)}
        d |= {f"differ at step {s}": decision(b) for s, b in zip(steps, differ)}
        return words("thesis", 3, d)

    n = len(steps)
    assert with_flags([True] * n, [False] * n).startswith("holds throughout training")
    got = with_flags([True, True] + [False] * (n - 2), [False, False] + [True] * (n - 2))
    assert got.startswith("holds early only: the two updates agree within 30 degrees until step 11")
    assert with_flags([True, True] + [False] * (n - 2), [False] * n).startswith("undecided")
    assert with_flags([False] * n, [True] * n).startswith("not supported")


def test_the_family_correction_decides_at_the_holm_level(tmp_path, monkeypatch):
    """Two claims in one family: a p-value just at its Holm level is rejected, just above it is not."""
    from dfa_lafs.studies import Evidence

    def fake_rule(p_values):
        def make(rule):
            tests = {f"t{k}": Combined(p, (), "all") for k, p in enumerate(p_values)}
            return Evidence(lambda d: ("yes" if all(x.reject for x in d.values()) else "no", {}), tests)
        return make

    import dfa_lafs.studies.figure1 as module
    monkeypatch.setattr(module, "a", fake_rule([0.0125, 0.02]), raising=False)
    monkeypatch.setattr(module, "b", fake_rule([0.0166, 0.0251]), raising=False)
    (tmp_path / "r.yaml").write_text("""
families: {f: {correction: holm, alpha: 0.05}}
claims:
  a: {rules: [{version: 1, registered: 2026-12-02, function: figure1.a, family: f, verdicts: {"yes": y, "no": n}}]}
  b: {rules: [{version: 1, registered: 2026-12-02, function: figure1.b, family: f, verdicts: {"yes": y, "no": n}}]}
""")
    v = studies.verdicts(str(tmp_path / "r.yaml"))
    # sorted p: 0.0125 <= 0.05/4, 0.0166 <= 0.05/3, 0.02 <= 0.05/2, 0.0251 <= 0.05: all rejected
    assert v["a", 1].words == "y" and v["b", 1].words == "y"
    assert [d.level for d in v["a", 1].decisions.values()] == pytest.approx([0.05 / 4, 0.05 / 2])
    monkeypatch.setattr(module, "b", fake_rule([0.0168, 0.0251]), raising=False)  # just above 0.05/3: stops there
    studies.verdicts.cache_clear()
    v = studies.verdicts(str(tmp_path / "r.yaml"))
    assert v["a", 1].words == "n" and v["b", 1].words == "n"
    assert [d.reject for d in v["a", 1].decisions.values()] == [True, False]
    studies.verdicts.cache_clear()


def test_every_registered_verdict_key_can_be_worded():
    for claim in studies.claims():
        for r in studies.rules(claim):
            assert r.spec["verdicts"], (claim, r.version)
            for key, template in r.spec["verdicts"].items():
                if isinstance(template, str):
                    names = [p.split("}")[0] for p in template.split("{")[1:]]
                    assert r.words(key, dict.fromkeys(names, "x")), (claim, key)


# --- every amended rule: each registered outcome from a pattern of corrected decisions -----------

def _decisions(names, flags, diff=1.0, single=False):
    return {n: (plain if single else decision)(f, diff) for n, f in zip(names, flags)}


def plain(reject: bool, diff: float = 1.0) -> Decision:
    """A decision on a single test (not a combined one) with the given sign."""
    return Decision(one_sample([diff - 0.1, diff, diff + 0.1], 0.0), reject, 0.01)


def test_amended_readouts_words_for_every_pattern(fake):
    fake["figure1"] = _readouts(0.95, 0.6, 0.1)
    fake["long"] = [r for r in _readouts(0.95, 0.5, 0.1)]
    for r in fake["long"]:
        object.__setattr__(r, "config", r.config.replace(lr_schedule="constant", epochs=100))
    pts = ("epoch 1", "epoch 20", "epoch 100")

    def with_flags(above, below):
        d = _decisions([f"above control at {p}" for p in pts], above) | _decisions(
            [f"below linear at {p}" for p in pts], below, -1.0)
        return words("readouts", 2, d)

    assert with_flags([True] * 3, [False] * 3).startswith("holds throughout training")
    assert with_flags([True] * 3, [False, True, True]).startswith("holds early only: until epoch 1 ")
    assert with_flags([True] * 3, [True] * 3).startswith("only partly")
    assert with_flags([True, False, True], [False] * 3).startswith("not supported")
    assert with_flags([True, True, False], [True] * 3).startswith("undecided")


def test_amended_condition_and_long_training_words(fake):
    runs = [run(seed=s, **{f"test__readout_accuracy__{i}": [0.1, 0.5, 0.9, 0.8 + x, 0.7, 0.5 + x] for i in LAYERS},
                test__accuracy=[0.1, 0.5, 0.9, 0.9 + x, 0.95, 0.97 + x], final={"test/accuracy": 0.97 + x})
            for s, x in enumerate((-0.01, 0, 0.01))]
    fake["figure1"] = runs
    fake["long"] = [run(seed=r.config.seed, epochs=100, final=r.final, **{k.replace("/", "__"): v for k, v in
                                                                          r.history.items() if k not in ("step", "epoch")})
                    for r in runs]
    for r in fake["long"]:
        object.__setattr__(r, "config", r.config.replace(lr_schedule="constant"))
    names = ["improves while a readout falls, epoch 1 to epoch 20", "improves while a readout falls, epoch 20 to epoch 100"]
    assert words("condition", 2, _decisions(names, [True, False])).startswith("not supported after epoch 1: from epoch 1 to 20")
    assert words("condition", 2, _decisions(names, [False, False])).startswith("not refuted")
    assert words("long_training", 2, _decisions(["some quantity changes"], [False])).startswith("no change detected")
    assert words("long_training", 2, _decisions(["some quantity changes"], [True])).startswith("not long enough")


def _depth_table():
    import pandas as pd

    rows = [{"rule": r, "depth": d, "seed": s, "test_accuracy": 0.95 + 0.01 * (r != "linear") + 0.001 * s,
             "val_accuracy": 0.95} for r, depths in (("bp", (1, 2, 3)), ("fa", (1, 3)), ("dfa", (1, 2, 3, 4, 6)),
                                                     ("lafs", (1, 2, 3, 4, 6)), ("linear", (0,)))
            for d in depths for s in (1, 2, 3, 4)]
    return pd.DataFrame(rows)


def test_depth_and_linear_rules(monkeypatch):
    from dfa_lafs.studies import depth

    monkeypatch.setattr(depth, "runs", lambda with_search_seed=False: _depth_table())
    monkeypatch.setattr(depth, "search_depth", lambda rule: {"bp": 3, "dfa": 2, "lafs": 1}[rule])
    monkeypatch.setattr(depth, "depth_table", lambda: None)
    names = ["bp gains from depth 3", "dfa gains from depth 2"]
    assert words("depth", 3, _decisions(names, [False, False], single=True)).startswith("open: backprop itself gains")
    assert words("depth", 3, _decisions(names, [True, True], single=True)) == "not supported: DFA gain from depth"
    assert words("depth", 3, _decisions(names, [True, False], single=True)) == (
        "supported: backprop gains from depth, DFA and LAFS do not detectably")
    assert words("depth", 3, _decisions(names, [True, True], -1.0, single=True)).startswith("open")  # losses are no gain
    # the first two rules count depths beating the linear model: all 5 of 5, and rule 1 compared with 6
    assert words("linear", 1).startswith("holds at some depths: DFA at 5 of 5 depths")
    assert words("linear", 2).startswith("holds at every depth: DFA at 5 of 5 depths")
    names = ["dfa above linear at every depth", "lafs above linear at every depth"]
    assert words("linear", 3, _decisions(names, [True, True])).startswith("holds at every depth")
    assert words("linear", 3, _decisions(names, [False, True])) == "holds for LAFS only, at every depth"
    assert words("linear", 3, _decisions(names, [False, False])).startswith("undecided")


def test_width_rule_counts_agreements(monkeypatch):
    from dfa_lafs.studies import width

    monkeypatch.setattr(width, "width_runs", lambda w, with_search_seed=False: _depth_table())
    monkeypatch.setattr(width, "accuracy", lambda runs, rule, depth: runs[(runs["rule"] == rule) &
                                                                          (runs["depth"] == (depth if rule != "linear" else 0))]["test_accuracy"])
    ev = rule("width", 2).evidence()
    names = [n[:-len(" at width 100")] for n in ev.tests if n.endswith(" at width 100")]
    assert len(names) == 18
    d = {f"{n} at width {w}": plain(k < 4, 1.0 if k != 3 or w == 100 else -1.0) for k, n in enumerate(names)
         for w in (100, 800)}
    assert rule("width", 2).words(*ev.decide(d)) == "does not carry over: 1 of 18 comparisons reverse"
    d = {f"{n} at width {w}": plain(k < 4 and not (k == 3 and w == 800)) for k, n in enumerate(names) for w in (100, 800)}
    assert rule("width", 2).words(*ev.decide(d)) == ("carries over where decided: 3 of 18 comparisons decided the same "
                                                     "way at both widths, none reverses, 1 decided at width 100 only, "
                                                     "0 at width 800 only, 14 at neither")


def test_the_open_questions_words_for_each_answer(monkeypatch):
    from dfa_lafs.studies import open_question as oq

    found = [{"rule": r, "bar": b, "width": w, "depth": 3, "a": [0.98] * 5, "b": [0.97] * 5,
              "name": f"{r} {b} {w}", "capped": 0} for r in ("dfa", "lafs") for w in (100, 800)
             for b in ("same width", "as many parameters")]
    monkeypatch.setattr(oq, "comparisons", lambda: found)
    monkeypatch.setattr(oq, "choices", lambda: __import__("pandas").DataFrame({"lr": [0.1]}))
    monkeypatch.setattr(oq, "verdict_runs", lambda: [0] * 5)
    r = rule("open_question", 1)
    ev = r.evidence()

    def answer(sides):  # (rule, bar) -> "beats" / "short" / "none"
        d = {c["name"]: plain(sides[c["rule"], c["bar"]] != "none", -1.0 if sides[c["rule"], c["bar"]] == "short"
                              else 1.0) for c in found}
        return r.words(*ev.decide(d))

    got = answer({("dfa", "same width"): "beats", ("dfa", "as many parameters"): "beats",
                  ("lafs", "same width"): "beats", ("lafs", "as many parameters"): "none"})
    assert got.startswith("DFA: yes, with as many parameters") and "LAFS: yes, against the same width only" in got
    got = answer({("dfa", "same width"): "short", ("dfa", "as many parameters"): "short",
                  ("lafs", "same width"): "none", ("lafs", "as many parameters"): "short"})
    assert got.startswith("DFA: no (") and "LAFS: no at some widths, undecided at others" in got
    got = answer({k: "none" for k in [("dfa", "same width"), ("dfa", "as many parameters"), ("lafs", "same width"),
                                      ("lafs", "as many parameters")]})
    assert got.startswith("DFA: undecided") and "LAFS: undecided" in got


def test_robustness_counts_the_settings_each_rule_is_shown_to_beat(monkeypatch):
    import pandas as pd

    from dfa_lafs.studies import robustness

    t = one_sample([1.0, 1.1, 0.9], 0.0)
    table = pd.DataFrame([{"setting": f"s{k}", "factor": "lr", "value": k, "rule": r, "dataset": "mnist", "n": 3,
                           "test_mean": 0.9, "test_low": 0.89, "test_high": 0.91, "vs_linear": t, "hit_cap": k == 0}
                          for k in range(3) for r in ("bp", "dfa", "lafs")])
    monkeypatch.setattr(robustness, "comparisons", lambda alternative="greater": table)
    ev = rule("robustness", 3).evidence()
    assert len(ev.tests) == 6  # BP's rows are context, not tests
    d = {name: plain(name.startswith("dfa") or name.endswith("s0")) for name in ev.tests}
    assert rule("robustness", 3).words(*ev.decide(d)) == "DFA beats a linear model at 3 of 3 settings, LAFS at 1 of 3"
