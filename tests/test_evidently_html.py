"""A day's Evidently report on disk keeps the plot library in one shared file; served, it is whole again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from modelguard.config import DriftConfig
from modelguard.drift import measure_drift
from modelguard.evidently_html import LIB_FOLDER, lib_name, save_report, with_library_inline
from modelguard.storage import Lake


class _Rendered:
    """A snapshot whose HTML is fixed (Evidently names each rendering's dashboard with a new uuid)."""

    def __init__(self, html: str) -> None:
        self.html = html

    def get_html_str(self, as_iframe: bool) -> str:
        return self.html


def _snapshot():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "c": rng.choice(["a", "b"], 2000)})
    shifted = frame.assign(x=frame["x"] + 1)
    snapshot, _, _ = measure_drift(shifted, frame, ["x"], ["c"], DriftConfig(sample_rows=1000))
    return snapshot


def test_a_saved_report_is_small_and_served_as_evidently_wrote_it(tmp_path: Path) -> None:
    html = _snapshot().get_html_str(as_iframe=False)
    reports = tmp_path / "reports"
    days = [reports / "2026-09-01" / "drift.html", reports / "2026-09-02" / "drift.html"]
    for target in days:
        save_report(_Rendered(html), target, Lake(tmp_path))
    library = reports / LIB_FOLDER / lib_name()
    assert library.stat().st_size > 3_000_000  # the bundle, once
    for target in days:
        saved = target.read_text()
        assert target.stat().st_size < len(html) - 3_000_000 and f"../{LIB_FOLDER}/{lib_name()}" in saved
        assert with_library_inline(saved, target, reports) == html


def test_only_the_tag_of_the_reports_own_folder_is_inlined(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    target = reports / "2026-09-01" / "drift.html"
    save_report(_Rendered("<p>x</p>"), target, Lake(tmp_path))  # writes the shared library
    for planted in (f'<script src="../../{LIB_FOLDER}/{lib_name()}"></script>',  # wrong depth
                    f'<script src="../{LIB_FOLDER}/evidently-0.0.0.js"></script>'):  # no such library
        assert with_library_inline(planted, target, reports) == planted
