"""Every DAG file imports through Airflow's DagBag, and every DAG is fit to run unattended."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT

DAG_FILES = sorted((PROJECT / "dags").glob("*.py"))
# What DAG files may import from modelguard at parse time: wiring, batch-day arithmetic, the registry watcher.
LIGHT_MODULES = {"modelguard.dag_support", "modelguard.batch_days", "modelguard.approval_watch", "modelguard.pools"}
HEAVY = {"pandas", "numpy", "great_expectations", "evidently", "mlflow", "sklearn", "scipy"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT / "dags"))


def test_no_import_errors(dagbag) -> None:
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) == len(DAG_FILES) == 7


@pytest.mark.parametrize("dag_id", ["modelguard_ingest", "modelguard_score", "modelguard_monitor",
                                    "modelguard_challenge", "modelguard_promote", "modelguard_rollback",
                                    "modelguard_release"])
def test_dag_is_fit_to_run_unattended(dagbag, dag_id: str) -> None:
    dag = dagbag.dags[dag_id]
    assert dag is not None
    assert "modelguard" in dag.tags and len(dag.tags) >= 2
    assert dag.doc_md and dag.max_active_runs == 1 and not dag.catchup
    for task in dag.tasks:
        assert task.owner == "ml-oncall"
        assert task.retries >= (0 if dag_id == "modelguard_release" else 1)
    assert dag.schedule is not None or dag_id in ("modelguard_release",)


def test_manual_dags_take_params(dagbag) -> None:
    assert "version" in dagbag.dags["modelguard_promote"].params
    assert "force" in dagbag.dags["modelguard_promote"].params
    assert "version" in dagbag.dags["modelguard_rollback"].params
    assert "batch_id" in dagbag.dags["modelguard_release"].params


@pytest.mark.parametrize("path", DAG_FILES, ids=[p.name for p in DAG_FILES])
def test_dag_files_import_nothing_heavy_at_top_level(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in tree.body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) else []
        for name in names:
            assert name.split(".")[0] not in HEAVY, f"{path.name} imports {name} at top level"
            assert name.split(".")[0] in {"__future__", "airflow", "modelguard"}
            if name.startswith("modelguard"):
                assert name in LIGHT_MODULES, f"{path.name} imports {name} at parse time"


def test_the_modules_dag_files_import_pull_in_nothing_heavy() -> None:
    code = ("import sys; " + "; ".join(f"import {m}" for m in sorted(LIGHT_MODULES))
            + "; print(sorted({n.split('.')[0] for n in sys.modules}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(ast.literal_eval(done.stdout.strip().splitlines()[-1]))
    assert not loaded & HEAVY, f"parse-time modules load {sorted(loaded & HEAVY)}"
