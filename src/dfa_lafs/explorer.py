"""Two views of the sweeps: one that needs no kernel (plotly, for the static book) and one
with ipywidgets for Jupyter and Colab, which can also train a small network live.

Both show the same thing: for a chosen sweep, rule and hidden layer, the angle between e^y and
e^i (raw and centred) and the readout accuracy through B^i over training, one line per run,
labelled by the settings the sweep varies (seed, depth, learning rate, ...).
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt

from .results import Result

METRICS = {"angle": "raw angle e^y, e^i (deg)", "angle_centered": "centred angle (deg)",
           "readout_accuracy": "readout accuracy, B^i"}


def stored_sweeps() -> tuple[dict[str, dict[str, Result]], dict[str, str]]:
    """Every grid `sweeps/*.yaml` whose stored results load (complete and made by this code), by
    name, and for every other grid a short status: "not yet run" (no point has a result file),
    "incomplete (k of n points)" (some have) or "stale or invalid" (every file is there but refused, or the grid
    cannot be read; the reason follows)."""
    from .experiments import RESULTS, SWEEPS_DIR, load_stored_sweep
    from .results import ResultError
    from .sweep.grid import GridError, load_grid

    loaded, missing = {}, {}
    for path in sorted(SWEEPS_DIR.glob("*.yaml")):
        try:
            loaded[path.stem] = load_stored_sweep(path.stem)
        except ResultError as err:
            folder = RESULTS / "sweeps" / path.stem
            try:
                points = load_grid(path).points
                stored = sum((folder / f"{p.id}.json").is_file() for p in points)
            except GridError:
                points, stored = (), 0  # an unreadable grid: report it with its reason
            missing[path.stem] = ("not yet run" if points and not stored else
                                  f"incomplete ({stored} of {len(points)} points)" if points and stored < len(points)
                                  else f"stale or invalid: {err}")
    return loaded, missing


def _label(result: Result, fields: list[str]) -> str:
    """'seed=1' or 'hidden=2x100, lr=0.1': the run's values of the fields its sweep varies."""
    from .plots import architecture

    values = {name: getattr(result.config, name) for name in fields}
    return ", ".join(f"{name}={architecture(v) if name == 'hidden' else v}" for name, v in values.items()) or "run"


def _curves(results: Mapping[str, Result], rule: str, layer: int, metric: str):
    """(label, steps, values) for the runs of `rule` that have hidden layer `layer`, one per run,
    labelled by the fields the sweep varies other than the rule."""
    from .studies.runs import varying_fields

    fields = [name for name in varying_fields(r.config for r in results.values()) if name != "rule"]
    runs = [r for r in results.values() if r.config.rule == rule and f"train/{metric}/{layer}" in r.history]
    runs.sort(key=lambda r: [repr(getattr(r.config, name)) if name != "hidden" else len(r.config.hidden)
                             for name in fields])
    return [(_label(r, fields), r.history["step"], r.series(metric, layer)) for r in runs]


def _views(sweeps: Mapping[str, Mapping[str, Result]]):
    """(sweep, rule, layer) for every menu entry that has at least one curve."""
    for name, results in sweeps.items():
        depth = max(len(r.config.hidden) for r in results.values())
        for rule in sorted({r.config.rule for r in results.values()}):
            for layer in range(1, depth + 1):
                if _curves(results, rule, layer, "angle"):
                    yield name, rule, layer


def static_explorer(sweeps: Mapping[str, Mapping[str, Result]]):
    """A plotly figure with a menu over (sweep, rule, hidden layer); works in a static page.

    sweeps: sweep name -> its results by point id (`stored_sweeps()[0]`). Each view draws the raw
    angle e^y vs e^i, the centred angle and the readout accuracy, one line per run.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=len(METRICS), subplot_titles=list(METRICS.values()))
    buttons, n_traces = [], 0
    # Figure 1's sweep first (the book's reference setting), then the others by name.
    for name, rule, layer in sorted(_views(sweeps), key=lambda v: v[0] != "figure1"):
        first = n_traces
        for col, metric in enumerate(METRICS, start=1):
            for label, steps, ys in _curves(sweeps[name], rule, layer, metric):
                fig.add_trace(go.Scatter(x=[s + 1 for s in steps], y=ys, mode="lines", name=label,
                                         legendgroup=label, showlegend=col == 1, visible=not buttons),
                              row=1, col=col)
                n_traces += 1
        buttons.append((f"{name} | {rule.upper()} | layer {layer}", first, n_traces))
    fig.update_layout(
        updatemenus=[{"buttons": [{"label": label, "method": "update",
                                   "args": [{"visible": [lo <= t < hi for t in range(n_traces)]}]}
                                  for label, lo, hi in buttons],
                      "x": 0.0, "xanchor": "left", "y": 1.25, "yanchor": "top"}],
        height=600, margin={"t": 110, "b": 40},
        legend={"title": "run", "orientation": "h", "yanchor": "top", "y": -0.22, "x": 0.0, "font": {"size": 10}})
    fig.update_xaxes(type="log", title_text="step + 1 (log)")
    return fig


def widget_explorer(sweeps: Mapping[str, Mapping[str, Result]], data_root: str | None = None):
    """ipywidgets controls over the stored sweeps, plus a button that trains a small net live."""
    import ipywidgets as widgets
    from IPython.display import clear_output

    views = list(_views(sweeps))
    sweep = widgets.Dropdown(options=list(sweeps), description="sweep")
    rule = widgets.Dropdown(description="rule")
    layer = widgets.Dropdown(description="layer")
    metric = widgets.Dropdown(options=list(METRICS), description="metric")
    out = widgets.Output()

    def choices(*_):
        rule.options = sorted({r for s, r, _ in views if s == sweep.value})
        layer.options = sorted({i for s, r, i in views if s == sweep.value and r == rule.value})

    def draw(*_):
        with out:
            clear_output(wait=True)
            if layer.value is None:
                print("no stored sweep to show yet")
                return
            fig, ax = plt.subplots(figsize=(7, 3.5))
            for label, steps, ys in _curves(sweeps[sweep.value], rule.value, layer.value, metric.value):
                ax.plot(steps, ys, label=label)
            ax.set_xscale("symlog", linthresh=1)
            ax.set_xlabel("training step")
            ax.set_ylabel(METRICS[metric.value])
            ax.legend(fontsize=8)
            plt.show()

    sweep.observe(choices, names="value")
    rule.observe(choices, names="value")
    choices()
    for w in (sweep, rule, layer, metric):
        w.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([sweep, rule, layer, metric]), out, live_trainer(data_root)])


def live_trainer(data_root: str | None = None):
    """Train a 3x256 net for one epoch on 10,000 examples with the chosen rule and B scale."""
    import ipywidgets as widgets
    from IPython.display import clear_output

    from .config import RunConfig
    from .plots import figure1
    from .train import run

    rule = widgets.Dropdown(options=["dfa", "lafs", "fa", "bp"], description="rule")
    scale = widgets.FloatLogSlider(value=1.0, base=10, min=-1, max=1.5, description="B scale")
    lr = widgets.FloatLogSlider(value=0.1, base=10, min=-2, max=0, description="lr")
    button = widgets.Button(description="train live", button_style="primary")
    out = widgets.Output()

    def train(_):
        with out:
            clear_output(wait=True)
            cfg = RunConfig(rule=rule.value, feedback_scale=scale.value, lr=lr.value, hidden=(256, 256, 256),
                            epochs=1, train_size=10_000, eval_size=1000, record_points=15, data_root=data_root)
            result = run(cfg)
            print(f"test accuracy {result.final['test/accuracy']:.3f} after {result.history['step'][-1]} steps")
            figure1([result])  # for BP and FA the B^i are only probes: a baseline for DFA and LAFS
            plt.show()

    button.on_click(train)
    return widgets.VBox([widgets.HTML("<b>Train a small network live</b> (about 10 s on a CPU)"),
                         widgets.HBox([rule, scale, lr, button]), out])
