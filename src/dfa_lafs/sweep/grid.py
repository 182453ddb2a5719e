"""Grid files: YAML -> validated points with stable ids, and which grid a sweep folder holds.

A grid file names a sweep, a `base` config and the values to vary:

    name: lr
    base: {hidden: [800, 800, 800], epochs: 10}
    grid: {rule: [dfa, lafs], lr: [0.01, 0.1, 1.0]}     # cartesian product over base
    points: [{rule: bp, lr: 0.1}]                       # optional: extra single points

`grid` may also be a list of such mappings (a union of products). Every point is turned into
a RunConfig before anything trains, so a typo fails in a second, not an hour into the sweep.
The points are counted first: a grid of more than MAX_POINTS is refused unless confirmed
(`allow_large=True`, `sweep --allow-large`), before minutes of checking. The YAML is read
strictly: a key given twice in one mapping (`base:` twice, `lr:` twice) is an error naming its
line, where plain YAML keeps the last and drops the rest without a word.

A sweep folder records its grid in `_grid.json` (the grid file's path, relative to the
folder, and the grid as it was read). Readers re-read the *current* grid file, so a result
counts only if it is a point of the grid as it is now.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..config import RunConfig
from ..files import atomic_write_text
from .params import NOTEBOOK_ONLY, config_from_parameters

GRID_KEYS = ("name", "base", "grid", "points")
MAX_POINTS = 1000  # a grid larger than this is refused unless confirmed: at a minute a point, 17 CPU-hours
RECORD = "_grid.json"  # in a sweep folder: which grid its results belong to (no point id starts with _)


class GridError(ValueError):
    """A grid file or one of its points is invalid; nothing has been run."""


@dataclass(frozen=True)
class Point:
    """One run of a sweep: its id (the file stem), the parameters its grid entry sets, its config."""

    id: str
    params: dict
    config: RunConfig


@dataclass(frozen=True)
class Grid:
    """A validated sweep: every point already built a RunConfig.

    source: the grid file it was read from (None for a dict); spec: the grid as read.
    """

    name: str
    points: tuple[Point, ...]
    source: Path | None = None
    spec: dict = field(default_factory=dict, compare=False)

    def with_data_root(self, data_root: str | os.PathLike | None) -> Grid:
        """The same points reading data from `data_root` (not part of a point's key or id)."""
        if data_root is None:
            return self
        points = tuple(dataclasses.replace(p, config=p.config.replace(data_root=str(data_root)))
                       for p in self.points)
        return dataclasses.replace(self, points=points)

    def describe(self) -> str:
        return str(self.source) if self.source is not None else f"grid {self.name!r}"


def load_grid(source: str | os.PathLike | dict | Grid, data_root: str | os.PathLike | None = None, *,
              allow_large: bool = False) -> Grid:
    """Read and validate a grid (a YAML path or the same structure as a dict); run nothing.

    More than MAX_POINTS points is a GridError (giving the count) unless `allow_large`.
    """
    if isinstance(source, Grid):
        return source.with_data_root(data_root)
    spec, where, default_name, path = _read_spec(source)
    if not isinstance(spec, dict):
        raise GridError(f"{where}: expected a mapping with keys {', '.join(GRID_KEYS)}, got {type(spec).__name__}")
    unknown = sorted(set(spec) - set(GRID_KEYS), key=str)
    if unknown:
        raise GridError(f"{where}: unknown top-level key(s) {unknown}; use {', '.join(GRID_KEYS)}")
    name = str(spec.get("name") or default_name)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise GridError(f"{where}: name {name!r} must be letters, digits, '.', '_' or '-' (it names the output folder)")
    base = _mapping(spec.get("base") or {}, f"{where}: base")
    count = _count(spec, where)
    if count > MAX_POINTS and not allow_large:
        raise GridError(f"{where}: the grid has {count:,} points, more than {MAX_POINTS:,} (at a minute a point, "
                        f"{count / 60:,.0f} CPU-hours); check it, or confirm with --allow-large (allow_large=True)")
    combos = _expand(spec, where)
    if not combos:
        raise GridError(f"{where}: the grid has no points; give `grid:` a mapping of non-empty lists "
                        f"or add a `points:` list")
    source_path = path.resolve() if path is not None else None
    return Grid(name, _build_points(base, combos, where), source_path, spec).with_data_root(data_root)


def count_points(source: str | os.PathLike | dict) -> int:
    """How many points a grid has, from its structure alone (no point is checked): quick for any size."""
    spec, where, _, _ = _read_spec(source)
    if not isinstance(spec, dict):
        raise GridError(f"{where}: expected a mapping with keys {', '.join(GRID_KEYS)}, got {type(spec).__name__}")
    return _count(spec, where)


def _read_spec(source) -> tuple[object, str, str, Path | None]:
    """(spec, where for messages, default name, path or None) of a grid file or dict."""
    if isinstance(source, dict):
        return source, "grid", "sweep", None
    path = Path(source)
    return _read_yaml(path), str(path), path.stem, path


def _read_yaml(path: Path):
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise GridError(f"grid file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as err:
        raise GridError(f"grid file {path} cannot be read: {getattr(err, 'strerror', None) or err}") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader that refuses duplicate keys
    except _DuplicateKey as err:
        raise GridError(f"{path}, line {err.line}: {err}") from None
    except yaml.YAMLError as err:
        raise GridError(f"{path} is not valid YAML: {str(err).splitlines()[0]}") from None
    except RecursionError:
        raise GridError(f"{path} is nested too deeply to be a grid file") from None


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, message: str, line: int):
        super().__init__(message)
        self.line = line


class _StrictLoader(yaml.SafeLoader):
    """yaml.safe_load, except that a key given twice in one mapping is an error (merge keys `<<` still override)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key, line = self.construct_object(key_node, deep=True), key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                    seen[key] = first or line
                except TypeError:  # an unhashable key: SafeLoader's own error names it
                    continue
                if first is not None:
                    raise _DuplicateKey(f"key {key!r} appears twice in one mapping (first on line {first}); YAML "
                                        f"would keep only the last: remove one", line)
        return super().construct_mapping(node, deep)


def _mapping(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise GridError(f"{what} must be a mapping of config fields to values, got {type(value).__name__} {value!r}")
    return value


def _count(spec: dict, where: str) -> int:
    """The number of points `_expand` would make, without making them (structure checked as there)."""
    count = 0
    for what, grid in _grid_mappings(spec, where):
        size = 1
        for key, values in grid.items():
            if not isinstance(values, list) or not values:
                raise GridError(f"{what}.{key} must be a non-empty list of values, got {values!r}; "
                                f"put a single value under `base:`")
            size *= len(values)
        count += size
    points = spec.get("points") or []
    if not isinstance(points, list):
        raise GridError(f"{where}: points must be a list of mappings, got {points!r}")
    return count + len(points)


def _grid_mappings(spec: dict, where: str) -> list[tuple[str, dict]]:
    """(name for messages, mapping) of each mapping under `grid:`."""
    grids = spec.get("grid") or []
    grids = [grids] if isinstance(grids, dict) else grids
    if not isinstance(grids, list):
        raise GridError(f"{where}: grid must be a mapping of lists (or a list of such mappings), got {grids!r}")
    names = [f"{where}: grid" + (f"[{g}]" if len(grids) > 1 else "") for g in range(len(grids))]
    return [(name, _mapping(grid, name)) for name, grid in zip(names, grids)]


def _expand(spec: dict, where: str) -> list[dict]:
    """The varied parameters of every point: each grid mapping's product, then the explicit points."""
    combos = []
    for _, grid in _grid_mappings(spec, where):
        combos += [dict(zip(grid, values, strict=True)) for values in itertools.product(*grid.values())]
    points = spec.get("points") or []
    if not isinstance(points, list):
        raise GridError(f"{where}: points must be a list of mappings, got {points!r}")
    combos += [_mapping(p, f"{where}: points[{i}]") for i, p in enumerate(points)]
    return combos


def _build_points(base: dict, combos: list[dict], where: str) -> tuple[Point, ...]:
    """Build and check every point's config; name each by the parameters its grid entry sets.

    The name depends on the point alone, not on the others, so adding points to a grid keeps
    the finished ones' files (and the resumption that relies on them).
    """
    points, seen = [], {}
    for i, combo in enumerate(combos):
        params = {**base, **combo}
        label = ", ".join(f"{k}={params[k]!r}" for k in combo) or "base"
        reserved = sorted(set(params) & set(NOTEBOOK_ONLY))
        if reserved:
            raise GridError(f"{where}: point {i + 1} ({label}) sets {reserved}, which the runner chooses; remove it")
        try:
            config = config_from_parameters(params)
        except (ValueError, TypeError) as err:
            raise GridError(f"{where}: point {i + 1} of {len(combos)} ({label}): {err}") from None
        if config.key() in seen:
            raise GridError(f"{where}: points {seen[config.key()] + 1} and {i + 1} ({label}) are the same run; "
                            f"remove one")
        seen[config.key()] = i
        shown = {k: getattr(config, k) for k in combo}
        points.append(Point(point_id(shown, config), shown, config))
    return tuple(points)


def point_id(params: dict, config: RunConfig) -> str:
    """A file-safe id: the point's own parameters for people, then the config key for uniqueness."""
    stem = "__".join(f"{k}-{_short(v)}" for k, v in params.items())
    stem = re.sub(r"[^A-Za-z0-9._+-]+", "-", stem)
    return f"{stem}__{config.key()[:10]}" if stem else config.key()


def _short(value) -> str:
    if isinstance(value, (list, tuple)):
        return "x".join(str(v) for v in value) or "none"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


# --- which grid a sweep folder holds -------------------------------------------------------------

def record_grid(folder: Path, grid: Grid) -> None:
    """Write `folder/_grid.json`: the grid file (relative to the folder, so both can move together)."""
    grid_file = os.path.relpath(grid.source, folder.resolve()) if grid.source is not None else None
    record = {"name": grid.name, "grid_file": grid_file, "spec": grid.spec}
    atomic_write_text(folder / RECORD, json.dumps(record, indent=1, default=str) + "\n")


def recorded_grid_file(folder: Path) -> Path | None:
    """The grid file a sweep folder's record names (None: no record, or a grid given as a dict)."""
    record = _read_record(folder)
    return (folder.resolve() / record["grid_file"]).resolve() if record and record.get("grid_file") else None


def recorded_grid(folder: Path) -> Grid | None:
    """The *current* grid of a sweep folder: its grid file as it is now (None: the folder has no record)."""
    record = _read_record(folder)
    if record is None:
        return None
    if record.get("grid_file"):
        path = recorded_grid_file(folder)
        if not path.exists():
            raise GridError(f"{folder / RECORD} names the grid file {path}, which no longer exists; "
                            f"pass the grid that made these results (grid=...)")
        return load_grid(path)
    return load_grid({**record["spec"], "name": record["name"]})


def _read_record(folder: Path) -> dict | None:
    path = folder / RECORD
    if not path.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise GridError(f"{path} cannot be read ({err}); delete it and rerun the sweep to rewrite it") from None
    except RecursionError:
        raise GridError(f"{path} is nested too deeply to be a sweep record; delete it and rerun the sweep to "
                        f"rewrite it") from None
    if not isinstance(record, dict) or not isinstance(record.get("spec"), dict) or "grid_file" not in record:
        raise GridError(f"{path} is not a sweep record (name, grid_file, spec); delete it and rerun the sweep")
    return record
