"""Every chapter, top to bottom, in a simulated Colab runtime.

The runtime is a fresh virtualenv with Colab's versions where they matter (ipykernel 6.17.1,
ipython 7.34.0, ipywidgets 7.7.1, numpy 2.0.2, pandas 2.2.2; torch, torchvision, scipy,
matplotlib, plotly, tqdm, pyyaml) and none of jupyter-book, myst-nb, papermill, dask or sphinx.
A stand-in `google.colab` is imported at kernel start, as Colab does. git rewrites the public
repository URL to a local bare clone of this checkout (HEAD plus uncommitted changes to tracked
files), so the install cell runs unchanged. Each chapter gets a new kernel and, like a new Colab
runtime, no clone and no dfa_lafs installed.

torch and torchvision (5.5 GB) are not installed again: their files are hard-linked from the
environment running this test (same version, zero extra disk, instant), dist-info included, so
pip sees them as installed and leaves them alone.

Fails on any cell error, and if anything but dfa-lafs was added, removed or changed by the
chapters' install cells. Per-chapter times go to $COLAB_SIM_ARTIFACTS (book/_build/colab-sim/).

    python -m pytest -m colab tests/test_colab.py
"""

import json
import os
import shutil
import subprocess
import sys
import time
from importlib.metadata import distribution, distributions
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from dfa_lafs.book import repository_url

pytestmark = pytest.mark.colab

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
VENV = Path(os.environ.get("COLAB_SIM_VENV", REPO / ".venv-colab"))
ARTIFACTS = Path(os.environ.get("COLAB_SIM_ARTIFACTS", BOOK / "_build" / "colab-sim"))

# Colab's runtime (google-colab 1.0.0) as measured; the first five are the ones Colab pins or
# whose upgrade breaks it. The rest float within what those pins allow.
COLAB_PINS = ["ipykernel==6.17.1", "ipython==7.34.0", "ipywidgets==7.7.1", "numpy==2.0.2", "pandas==2.2.2"]
COLAB_ALSO = ["scipy", "matplotlib", "plotly", "tqdm", "pyyaml", "packaging"]
NOT_IN_COLAB = ["jupyter-book", "myst-nb", "papermill", "dask", "distributed", "sphinx", "nbval"]
LINKED = ("torch", "torchvision", "triton")  # plus every nvidia-* / cuda-* distribution torch brought
FAKE_COLAB = '"""Stand-in for Colab\'s google.colab: the install cell only asks whether it is imported."""\n'


def _python() -> Path:
    return VENV / "bin" / "python"


def _site_packages() -> Path:
    out = subprocess.run([_python(), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def _link_distribution(name: str, site: Path) -> None:
    """Hard-link an installed distribution's files (those inside site-packages) into `site`."""
    dist = distribution(name)
    for rel in dist.files or []:
        src = Path(dist.locate_file(rel))
        if ".." in rel.parts or not src.is_file():
            continue  # console scripts and the like live outside site-packages
        dst = site / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            try:
                os.link(src, dst)
            except OSError:  # another filesystem: copy
                shutil.copy2(src, dst)


def _versions() -> dict[str, str]:
    out = subprocess.run([_python(), "-c", "import json, importlib.metadata as m; print(json.dumps("
                          "{d.metadata['Name'].lower(): d.version for d in m.distributions() if d.metadata['Name']}))"],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def _spec() -> str:
    torch_versions = [f"{n}=={distribution(n).version}" for n in ("torch", "torchvision")]
    return "\n".join(COLAB_PINS + COLAB_ALSO + torch_versions)


def _build_runtime() -> None:
    stamp = VENV / "colab-sim.txt"
    if stamp.is_file() and stamp.read_text() == _spec():
        return  # built earlier from the same specification
    shutil.rmtree(VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
    site = _site_packages()
    heavy = [d.metadata["Name"] for d in distributions()
             if d.metadata["Name"] and (d.metadata["Name"].lower() in LINKED
                                        or d.metadata["Name"].lower().startswith(("nvidia-", "cuda-")))]
    for name in heavy:
        _link_distribution(name, site)
    subprocess.run([_python(), "-m", "pip", "install", "-q", *_spec().split("\n")], check=True)
    (site / "google" / "colab").mkdir(parents=True, exist_ok=True)
    (site / "google" / "colab" / "__init__.py").write_text(FAKE_COLAB)
    stamp.write_text(_spec())


def _serve_checkout(where: Path) -> Path:
    """A bare repository whose main is this checkout's HEAD plus uncommitted changes to tracked files."""
    bare = where / "served.git"
    subprocess.run(["git", "clone", "-q", "--bare", "--no-local", REPO, bare], check=True)
    identity = ["-c", "user.name=colab-sim", "-c", "user.email=colab-sim@localhost"]  # stash create commits
    commit = subprocess.run(["git", "-C", REPO, *identity, "stash", "create"], capture_output=True, text=True,
                            check=True).stdout.strip()
    commit = commit or subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    subprocess.run(["git", "-C", REPO, "push", "-q", "-f", str(bare), f"{commit}:refs/heads/main"], check=True)
    subprocess.run(["git", "-C", bare, "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    return bare


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    root = tmp_path_factory.mktemp("colab")
    _build_runtime()
    bare = _serve_checkout(root)
    content = root / "content"  # Colab's working directory
    content.mkdir()
    kernels = root / "kernels"
    (kernels / "colab-sim").mkdir(parents=True)
    data = os.environ.get("DFA_LAFS_DATA") or str(REPO.parent / "shared" / "data")
    spec = {"argv": [str(_python()), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                     "--IPKernelApp.exec_lines=import google.colab"],
            "display_name": "Colab (simulated)", "language": "python",
            "env": {"DFA_LAFS_CLONE": str(content / "dfa-lafs-companion"), "DFA_LAFS_DATA": data,
                    "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"url.file://{bare}.insteadOf",
                    "GIT_CONFIG_VALUE_0": repository_url(), "PATH": f"{VENV / 'bin'}:{os.environ['PATH']}"}}
    (kernels / "colab-sim" / "kernel.json").write_text(json.dumps(spec))
    before = _versions()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    times = {}
    yield {"content": content, "kernels": kernels, "times": times}
    (ARTIFACTS / "times.json").write_text(json.dumps(times, indent=1))
    after = _versions()
    changed = {n: (before.get(n), after.get(n)) for n in before.keys() | after.keys()
               if n != "dfa-lafs" and before.get(n) != after.get(n)}
    assert not changed, f"the install cells changed the runtime: {changed}"


def _fresh_runtime(content: Path) -> None:
    """A new Colab runtime: no clone, no dfa_lafs."""
    shutil.rmtree(content / "dfa-lafs-companion", ignore_errors=True)
    subprocess.run([_python(), "-m", "pip", "uninstall", "-q", "-y", "dfa-lafs"], capture_output=True)


def _run(path: Path, runtime) -> tuple[nbformat.NotebookNode, float]:
    nb = nbformat.read(path, as_version=4)
    km = KernelManager(kernel_name="colab-sim", kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(runtime["kernels"])]))
    client = NotebookClient(nb, km=km, timeout=1800, resources={"metadata": {"path": str(runtime["content"])}})
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def _cell_seconds(cell) -> float:
    from datetime import datetime

    t = cell.metadata["execution"]
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(t["shell.execute_reply"]) - parse(t["iopub.execute_input"])).total_seconds()


def test_the_runtime_is_colab_like():
    _build_runtime()
    have = _versions()
    for pin in COLAB_PINS:
        name, version = pin.split("==")
        assert have.get(name) == version, f"{name} {have.get(name)}, want {version}"
    assert not [n for n in NOT_IN_COLAB if n in have], "the simulated runtime must not have Jupyter Book's tools"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_runs_in_colab(path, runtime):
    _fresh_runtime(runtime["content"])
    nb, seconds = _run(path, runtime)
    first = next(c for c in nb.cells if c.cell_type == "code")
    runtime["times"][path.stem] = {"total_s": round(seconds, 1), "install_cell_s": round(_cell_seconds(first), 1)}
    assert (runtime["content"] / "dfa-lafs-companion" / "src" / "dfa_lafs" / "book.py").is_file()
    # Colab with numbers: no prose leans on a glue role (Colab shows it verbatim); the sentences that
    # quote numbers are Markdown outputs, and Colab gets the same ones the HTML book stores.
    prose = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "{glue:" not in prose, f"{path.name}: prose with a glue role reads without its number in Colab"
    shown = [o["data"]["text/markdown"] for c in nb.cells for o in c.get("outputs", []) if "text/markdown" in o.get("data", {})]
    stored = [o["data"]["text/markdown"] for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", [])
              if "text/markdown" in o.get("data", {})]
    assert len(shown) == len(stored), f"{path.name}: {len(shown)} Markdown outputs in Colab, {len(stored)} in the book"


def test_install_cell_is_idempotent_and_repairs_a_broken_clone(runtime):
    """Re-run in one kernel: sys.path gains nothing; a clone with files missing is cloned again."""
    clone = runtime["content"] / "dfa-lafs-companion"
    install = next(c for c in nbformat.read(CHAPTERS[0], as_version=4).cells if c.cell_type == "code").source
    probe = "import sys; print(sys.path.count(SRC), dfa_lafs.__file__)"
    cells = [install, probe, install, probe,
             "import pathlib; pathlib.Path(CLONE, 'src/dfa_lafs/book.py').unlink()", install, probe,
             "import dfa_lafs.book; print('book.py', pathlib.Path(dfa_lafs.book.__file__).is_file())"]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    path = runtime["content"].parent / "rerun.ipynb"
    nbformat.write(nb, path)
    _fresh_runtime(runtime["content"])
    nb, _ = _run(path, runtime)
    printed = [c.outputs[0]["text"].strip() for c in nb.cells if c.outputs]
    want_file = str(clone / "src" / "dfa_lafs" / "__init__.py")
    assert printed[-4:] == [f"1 {want_file}", f"1 {want_file}", f"1 {want_file}", "book.py True"], printed
