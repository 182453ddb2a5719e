"""Two views of the sweeps: one that needs no kernel (plotly, for the static book) and one
with ipywidgets for Jupyter and Colab, which can also train a small network live.

Both show the same thing: for a chosen sweep, measure and hidden layer, one curve per run over
training, in the colour of its rule (plots.RULE_COLORS), labelled by the settings the sweep
varies (seed, depth, learning rate, ...).

The HTML view loads a sweep's data only when the reader picks it: `write_site_data` writes an
index and one small script per sweep into the built site (book/_ext/explorer_site.py calls it),
and book/_ext/explorer/explorer.js draws them with plotly.js. The data files are scripts, not JSON
fetched by the page, so the explorer works from a web server and from a copy opened from disk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from .results import Result

# What the explorer can show: key -> (menu group, label, history name; {i} is the hidden layer).
MEASURES = {
    "angle": ("Angle between eʸ and eⁱ", "raw angle (degrees)", "train/angle/{i}"),
    "angle_centered": ("Angle between eʸ and eⁱ", "centred angle (degrees)", "train/angle_centered/{i}"),
    "readout_accuracy": ("Readout through Bⁱ", "readout accuracy", "train/readout_accuracy/{i}"),
    "accuracy": ("Whole network", "test accuracy", "test/accuracy"),
}
SITE_DATA = "_static/explorer"  # where the data files go, relative to the built site's root
JS_CALLBACK = "dfaExplorer.receive"  # what each data file calls: (name, data)


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


def _value(name: str, value) -> str:
    from .plots import architecture

    return architecture(value) if name == "hidden" else str(value)


def _fields(results: Mapping[str, Result]) -> list[str]:
    """The settings a sweep varies, other than the rule (which the colour shows)."""
    from .studies.runs import varying_fields

    return [name for name in varying_fields(r.config for r in results.values()) if name != "rule"]


def _sorted_runs(results: Mapping[str, Result], fields: list[str]) -> list[Result]:
    return sorted(results.values(), key=lambda r: [r.config.rule] + [
        len(r.config.hidden) if name == "hidden" else repr(getattr(r.config, name)) for name in fields])


def _round(values) -> list[float | None]:
    """4 significant digits (the plot shows 3); NaN (a diverged run) becomes null."""
    return [None if v != v else float(f"{v:.4g}") for v in values]


def sweep_data(results: Mapping[str, Result]) -> dict:
    """What the HTML explorer draws of one sweep: the fields it varies, and per run its rule, the
    values of those fields, its recorded steps and every measure of MEASURES it has, by
    "measure" or "measure/layer"."""
    fields = _fields(results)
    runs = []
    for r in _sorted_runs(results, fields):
        series = {}
        for key, (_, _, pattern) in MEASURES.items():
            if "{i}" not in pattern:
                if pattern in r.history:
                    series[key] = _round(r.history[pattern])
                continue
            for i in range(1, len(r.config.hidden) + 1):
                if pattern.format(i=i) in r.history:
                    series[f"{key}/{i}"] = _round(r.history[pattern.format(i=i)])
        runs.append({"rule": r.config.rule, "settings": {name: _value(name, getattr(r.config, name)) for name in fields},
                     "step": [int(s) for s in r.history["step"]], "series": series})
    return {"fields": fields, "runs": runs}


def _description(name: str) -> str:
    """The first sentence of the comment that opens sweeps/NAME.yaml."""
    from .experiments import SWEEPS_DIR

    lines = []
    for line in (SWEEPS_DIR / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    text = " ".join(lines)
    end = text.find(". ")
    return text if end < 0 else text[:end + 1]


def site_index(sweeps: Mapping[str, Mapping[str, Result]], missing: Mapping[str, str] | None = None) -> dict:
    """The explorer's menus: per sweep its runs, rules, depth, varied fields and description (Figure
    1's sweep first, the book's reference setting), the measures by group, and the rule colours."""
    from .plots import RULE_COLORS

    order = sorted(sweeps, key=lambda name: (name != "figure1", name))
    return {
        "sweeps": [{"name": name, "file": f"{name}.js", "runs": len(sweeps[name]),
                    "rules": sorted({r.config.rule for r in sweeps[name].values()}),
                    "depth": max(len(r.config.hidden) for r in sweeps[name].values()),
                    "fields": _fields(sweeps[name]), "description": _description(name)} for name in order],
        "measures": [{"key": key, "group": group, "label": label, "per_layer": "{i}" in pattern}
                     for key, (group, label, pattern) in MEASURES.items()],
        "colors": RULE_COLORS,
        "missing": dict(missing or {}),
    }


def _script(name: str, data: dict) -> str:
    return f"{JS_CALLBACK}({json.dumps(name)}, {json.dumps(data, separators=(',', ':'))});\n"


def write_site_data(folder: str | Path, sweeps=None, missing=None) -> list[Path]:
    """Write `index.js` and one `NAME.js` per stored sweep into `folder` (the built site's
    SITE_DATA); returns the paths. Without arguments, the sweeps are `stored_sweeps()`."""
    if sweeps is None:
        sweeps, missing = stored_sweeps()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / "index.js"]
    paths[0].write_text(_script("index", site_index(sweeps, missing)))
    for name, results in sweeps.items():
        paths.append(folder / f"{name}.js")
        paths[-1].write_text(_script(name, sweep_data(results)))
    return paths


def explorer_html() -> str:
    """The explorer's place in the page: book/_ext/explorer/explorer.js fills it in the HTML book (the
    book's extension adds that script and plotly.js to this page only). Where no script runs it
    (Jupyter, Colab), its text says where to look instead."""
    return (f'<div class="dfa-explorer" data-src="{SITE_DATA}/"><p>The interactive explorer draws here in the '
            'HTML book. In Jupyter or Colab, use the controls built by the last cell of this notebook.</p></div>')


def show_explorer() -> None:
    from IPython.display import HTML, display

    display(HTML(explorer_html()))


# ---------------------------------------------------------------------------------------------
# Jupyter and Colab: ipywidgets


def curves(results: Mapping[str, Result], measure: str, layer: int | None = None):
    """(rule, label, steps, values) for each run that has `measure` (at hidden layer `layer`),
    labelled by the settings the sweep varies."""
    fields = _fields(results)
    name = MEASURES[measure][2].format(i=layer)
    return [(r.config.rule, ", ".join(f"{f}={_value(f, getattr(r.config, f))}" for f in fields) or "run",
             r.history["step"], r.history[name]) for r in _sorted_runs(results, fields) if name in r.history]


def widget_explorer(sweeps: Mapping[str, Mapping[str, Result]], data_root: str | None = None):
    """ipywidgets controls over the stored sweeps (the HTML view's menus), plus a button that
    trains a small net live."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import clear_output

    from .plots import legend_below, page_figure, rule_color, rule_name, step_axis

    sweep = widgets.Dropdown(options=list(sweeps), description="sweep")
    measure = widgets.Dropdown(options=[(f"{g}: {label}", key) for key, (g, label, _) in MEASURES.items()],
                               description="measure")
    layer = widgets.Dropdown(description="layer")
    out = widgets.Output()

    def layers(*_):
        depth = max((len(r.config.hidden) for r in sweeps[sweep.value].values()), default=0) if sweep.value else 0
        per_layer = "{i}" in MEASURES[measure.value][2]
        layer.options = list(range(1, depth + 1)) if per_layer else [None]
        layer.disabled = not per_layer

    def draw(*_):
        with out:
            clear_output(wait=True)
            if sweep.value is None:
                print("no stored sweep to show yet")
                return
            fig, axes = page_figure(1, 1, 3.2)
            ax = axes[0][0]
            for rule, label, steps, ys in curves(sweeps[sweep.value], measure.value, layer.value):
                ax.plot(steps, ys, color=rule_color(rule), lw=1, alpha=0.8, label=rule_name(rule))
                step_axis(ax, steps[-1])
            ax.set_xlabel("training step (log scale)")
            ax.set_ylabel(MEASURES[measure.value][1])
            legend_below(fig)
            plt.show()

    sweep.observe(layers, names="value")
    measure.observe(layers, names="value")
    layers()
    for w in (sweep, measure, layer):
        w.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([sweep, measure, layer]), out, live_trainer(data_root)])


def live_trainer(data_root: str | None = None):
    """Train a 3x256 net for one epoch on 10,000 examples with the chosen rule and B scale."""
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
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
