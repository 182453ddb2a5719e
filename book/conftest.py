"""nbval on the chapters compares stdout and displayed values, not stderr.

What lands on stderr (warnings from dependencies, progress bars) changes with package versions
while the numbers a chapter prints do not; requirements.txt gives lower bounds, so stderr would
make the comparison fail for reasons unrelated to the book. This is nbval's documented way to
skip an output type (`skip_compare` in a conftest.py).
"""


def pytest_collectstart(collector):
    path = getattr(collector, "path", None)
    if path is not None and path.suffix == ".ipynb":
        collector.skip_compare += ("stderr",)
