"""modelguard: keep a production ML model healthy with Airflow, Great Expectations, Evidently and MLflow.

This package is imported by DAG files at parse time, so it must stay light: heavy libraries
(pandas, GX, Evidently, MLflow, scikit-learn) are imported inside the functions that need them.
"""

__version__ = "0.1.0"
