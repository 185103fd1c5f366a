"""Evidently HTML reports that ship the plot library once per lake instead of inlining it in every day's file.

Evidently's standalone HTML inlines its 3.5 MB JavaScript bundle; a day's own content (the plots' data) is
well under 1 MB. Each day's `drift.html` here loads the bundle from `reports/_lib/evidently-<version>.js`
(written once, next to the reports, so that the files open from disk as they are). The Model health page
puts the bundle back inline when it serves a report (`with_library_inline`): the browser gets the same
self-contained document as before, under the same sandbox, with no extra request to authenticate.
"""

from __future__ import annotations

import re
from pathlib import Path

from modelguard.storage import Lake

LIB_FOLDER = "_lib"
# the tag save_report writes, for a report at any depth under reports/
_LIB_TAG = re.compile(r'<script src="((?:\.\./)+)' + LIB_FOLDER + r'/(evidently-[0-9A-Za-z.+-]+\.js)"></script>')


def lib_name() -> str:
    import evidently

    return f"evidently-{evidently.__version__}.js"


def lib_bundle() -> Path:
    """The installed Evidently's JavaScript bundle (what every report loads)."""
    from evidently.legacy.utils.dashboard import STATIC_PATH

    return Path(STATIC_PATH) / "index.js"


def save_report(snapshot, target: Path, lake: Lake) -> Path:
    """Write `snapshot` as HTML at `target` (inside the lake's reports/), loading the library from the shared copy.

    If this Evidently renders its bundle differently, the report is written whole (inlined), as before."""
    reports_root = lake.root / "reports"
    bundle = lib_bundle()
    shared = reports_root / LIB_FOLDER / lib_name()
    if not shared.exists():
        lake.copy_file(bundle, shared)
    inline = f"<script>{bundle.read_text(encoding='utf-8')}</script>"
    source = Path(*[".."] * len(target.parent.relative_to(reports_root).parts), LIB_FOLDER, lib_name())
    html = snapshot.get_html_str(as_iframe=False).replace(inline, f'<script src="{source.as_posix()}"></script>', 1)
    return lake.write_text(html, target)


def with_library_inline(html: str, report: Path, reports_root: Path) -> str:
    """A saved report with its shared library tag replaced by the library itself (as Evidently writes it)."""
    found = _LIB_TAG.search(html)
    if found is None:
        return html
    library = reports_root / LIB_FOLDER / found.group(2)
    if len(found.group(1)) // 3 != len(report.parent.relative_to(reports_root).parts) or not library.is_file():
        return html  # not the tag this report's folder would hold, or no such library: served as it is
    return html[:found.start()] + f"<script>{library.read_text(encoding='utf-8')}</script>" + html[found.end():]
