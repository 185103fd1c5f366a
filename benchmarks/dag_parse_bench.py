"""DAG parse time, as the dag-processor sees it: each file parsed by DagBag in a warm process
(airflow.sdk already imported), side by side with a file of the same DAG importing the heavy
libraries at top level, to show what keeping them in the task bodies saves.

    .venv/bin/python benchmarks/dag_parse_bench.py
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-airflow-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
HEAVY_HEADER = "import pandas, great_expectations, evidently, mlflow, sklearn  # noqa\n"


def parse_seconds(path: Path, rounds: int = 5) -> float:
    from airflow.dag_processing.dagbag import DagBag

    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        bag = DagBag(dag_folder=str(path))
        times.append(time.perf_counter() - started)
        assert not bag.import_errors, bag.import_errors
    return statistics.median(times)


def main() -> None:
    import airflow.sdk  # noqa: F401  - the dag-processor has it imported already

    print(f"{'DAG file':<28}{'parse (median of 5)':>22}")
    files = sorted((PROJECT / "dags").glob("*.py"))
    for path in files:
        print(f"{path.name:<28}{parse_seconds(path) * 1000:>19.1f} ms")
    with tempfile.TemporaryDirectory() as folder:
        heavy = Path(folder) / "heavy_ingest.py"
        source = (PROJECT / "dags" / "modelguard_ingest.py").read_text()
        heavy.write_text(source.replace("from __future__ import annotations\n",
                                        "from __future__ import annotations\n" + HEAVY_HEADER, 1))
        started = time.perf_counter()
        parse_seconds(heavy, rounds=1)
        cold = time.perf_counter() - started
        print(f"{'(same DAG, heavy imports)':<28}{cold * 1000:>19.1f} ms  first parse in a process")
    print("goal: every DAG file well under 1 s")


if __name__ == "__main__":
    main()
