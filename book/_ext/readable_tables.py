"""Let table cells break after an underscore, so that a raw column name such as
`median_best_epoch` wraps onto lines instead of widening its table past the text column (or being
broken inside a word by the browser). The break is a <wbr>: nothing changes where the cell fits."""

from __future__ import annotations

import re

CELL = re.compile(r"(<t[hd](?:\s[^>]*)?>)([^<]*_[^<]*)(</t[hd]>)")


def break_after_underscores(html: str) -> str:
    return CELL.sub(lambda m: m.group(1) + m.group(2).replace("_", "_<wbr>") + m.group(3), html)


def _page(app, pagename, templatename, context, doctree) -> None:
    if "body" in context:
        context["body"] = break_after_underscores(context["body"])


def setup(app):
    app.connect("html-page-context", _page)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
