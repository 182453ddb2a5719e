"""Two views of the sweeps: one that needs no kernel (plotly, for the static book) and one
with ipywidgets for Jupyter and Colab, which can also train a small network live.

Both show the same thing: for a chosen swept setting, rule and hidden layer, the angle
between e^y and e^i and the readout accuracy through B^i over training, one line per value.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib.pyplot as plt

from .results import Result

METRICS = {"angle": "angle e^y vs e^i (deg)", "angle_centered": "centred angle (deg)",
           "readout_accuracy": "readout accuracy through B^i"}


def _curves(results: Mapping[str, Result], setting: str, rule: str, layer: int, metric: str):
    """(value of the swept setting, steps, values) for the runs of `rule`, sorted by value."""
    runs = [r for r in results.values() if r.config.rule == rule and f"train/{metric}/{layer}" in r.history]
    runs.sort(key=lambda r: getattr(r.config, setting))
    return [(getattr(r.config, setting), r.history["step"], r.series(metric, layer)) for r in runs]


def static_explorer(sweeps: Mapping[str, Mapping[str, Result]], layers: tuple[int, ...] = (1, 2, 3)):
    """A plotly figure with a menu over (swept setting, rule, layer); works in a static page.

    sweeps: setting name (a RunConfig field) -> that sweep's results by point id.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, subplot_titles=(METRICS["angle"], METRICS["readout_accuracy"]))
    buttons, n_traces = [], 0
    for setting, results in sweeps.items():
        for rule in sorted({r.config.rule for r in results.values()}):
            for layer in layers:
                first = n_traces
                for col, metric in ((1, "angle"), (2, "readout_accuracy")):
                    for value, steps, ys in _curves(results, setting, rule, layer, metric):
                        fig.add_trace(go.Scatter(x=[s + 1 for s in steps], y=ys, mode="lines",
                                                 name=f"{setting}={value}", legendgroup=str(value),
                                                 showlegend=col == 1, visible=not buttons), row=1, col=col)
                        n_traces += 1
                buttons.append((f"{setting} | {rule.upper()} | layer {layer}", first, n_traces))
    fig.update_layout(
        updatemenus=[{"buttons": [{"label": label, "method": "update",
                                   "args": [{"visible": [lo <= t < hi for t in range(n_traces)]}]}
                                  for label, lo, hi in buttons],
                      "x": 0.0, "xanchor": "left", "y": 1.25, "yanchor": "top"}],
        height=430, margin={"t": 110}, legend={"title": "swept value"})
    fig.update_xaxes(type="log", title_text="training step + 1 (log scale)")
    return fig


def widget_explorer(sweeps: Mapping[str, Mapping[str, Result]], data_root: str | None = None):
    """ipywidgets controls over the stored sweeps, plus a button that trains a small net live."""
    import ipywidgets as widgets
    from IPython.display import clear_output

    setting = widgets.Dropdown(options=list(sweeps), description="setting")
    rule = widgets.Dropdown(options=["dfa", "lafs"], description="rule")
    layer = widgets.Dropdown(options=[1, 2, 3], description="layer")
    metric = widgets.Dropdown(options=list(METRICS), description="metric")
    out = widgets.Output()

    def draw(*_):
        with out:
            clear_output(wait=True)
            fig, ax = plt.subplots(figsize=(7, 3.5))
            for value, steps, ys in _curves(sweeps[setting.value], setting.value, rule.value, layer.value,
                                            metric.value):
                ax.plot(steps, ys, label=f"{setting.value}={value}")
            ax.set_xscale("symlog", linthresh=1)
            ax.set_xlabel("training step")
            ax.set_ylabel(METRICS[metric.value])
            ax.legend(fontsize=8)
            plt.show()

    for w in (setting, rule, layer, metric):
        w.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([setting, rule, layer, metric]), out,
                         live_trainer(data_root)])


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
