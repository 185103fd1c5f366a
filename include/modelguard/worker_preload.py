"""Imported once by each Celery worker at start (see modelguard.celery_config): what the tasks import lazily.

Only imports and the garbage collector's settings; nothing here starts a thread, opens a connection or reads the
config, so forking after it is as safe as forking after `import numpy`.
"""

from __future__ import annotations

import evidently  # noqa: F401 - the drift report
import mlflow.sklearn  # noqa: F401 - the registry and model loading
import pyarrow.parquet  # noqa: F401
import sklearn.ensemble  # noqa: F401
import sklearn.pipeline  # noqa: F401

import modelguard.challenge  # noqa: F401 - the stage modules (they import the rest of modelguard)
import modelguard.drift  # noqa: F401
import modelguard.ingest  # noqa: F401
import modelguard.monitor  # noqa: F401
import modelguard.promote  # noqa: F401
import modelguard.score  # noqa: F401
import modelguard.tasks  # noqa: F401
from modelguard.runtime import freeze_heap, lean_collector

# Every task process is forked from this one: the collector's thresholds are inherited, and the objects imported
# above are never walked again by it (nor copied page by page by the forks' collector passes).
lean_collector()
freeze_heap()
