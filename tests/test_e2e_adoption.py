"""End to end, bring your own champion: the team's own scikit-learn pipeline (its preprocessing inside:
imputers, one-hot encoding, a logistic regression), trained and registered outside modelguard as
`team_fraud_model` in the project's tracking store, becomes champion through `modelguard init --champion`.
Then the fraudsters change tactics: replayed through the real DAGs, the adopted champion degrades, a
challenger trained by modelguard's own estimator factory asks for approval, the simulated engineer approves,
and it replaces the adopted model, which keeps its lineage."""

from __future__ import annotations

import pandas as pd
import pytest

from modelguard import decisions
from modelguard.config import load_config
from modelguard.registry import ADOPTED_FROM_TAG, CHAMPION, PREVIOUS_CHAMPION, Registry
from modelguard.storage import Lake
from tests.conftest import cli_env, write_config
from tests.test_adoption import team_experiment
from tests.test_e2e_replay import SHORT_TIMELINE, modelguard

pytestmark = pytest.mark.e2e

TEAM_URI = "models:/team_fraud_model/1"
DAYS, INCIDENTS = 10, ["concept_drift@3"]  # drift on 09-04, labels three days late


def team_pipeline(numeric: list[str], categorical: list[str]):
    """The fraud team's model, as they built it: its own preprocessing, its own learner."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    features = ColumnTransformer([
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
        ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"),
                                      OneHotEncoder(handle_unknown="ignore")), categorical),
    ])
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    import mlflow
    import mlflow.sklearn

    from modelguard.simulate import parse_incident, simulate

    folder = tmp_path_factory.mktemp("adoption")
    config_file = write_config(folder, **SHORT_TIMELINE)
    config = load_config(config_file)
    lake = Lake(config.storage_root)
    simulate(config.storage_root, days=DAYS, rows=2000, reference_rows=6000,
             incidents=[parse_incident(spec) for spec in INCIDENTS])

    # Outside modelguard: the team trains on the same history and registers its model in the same store.
    reference = pd.read_parquet(lake.reference_train)
    features = config.model.features
    team_model = team_pipeline(features.numeric, features.categorical)
    team_model.fit(reference[features.all], reference[config.model.target])
    with mlflow.start_run(experiment_id=team_experiment(config)):
        # MLflow's default (skops) format asks to trust the one-hot encoder's numpy.dtype, as it would ask them
        mlflow.sklearn.log_model(team_model, name="model", registered_model_name="team_fraud_model",
                                 skops_trusted_types=["numpy.dtype"])

    env = cli_env(config_file, folder / "airflow")
    init = modelguard("init", "--champion", TEAM_URI, env=env)
    modelguard("replay", "--all", "--operator-approves", env=env)
    return config, lake, init.stdout


def test_the_team_model_becomes_champion_through_the_cli_untrained(replayed) -> None:
    config, lake, init_output = replayed
    assert f"champion: {config.model.name} v1 adopted from {TEAM_URI}" in " ".join(init_output.split())
    registry = Registry(config)
    adopted = registry.get("1")
    assert adopted.tags[ADOPTED_FROM_TAG] == TEAM_URI
    assert adopted.tags["trigger"] == "init" and adopted.tags["train_window"] == "external"
    assert "train_key" not in adopted.tags  # modelguard trained nothing at init
    served = registry.load("1")  # the scikit-learn flavour: the team's pipeline itself, predict_proba and all
    assert type(served.named_steps["classifier"]).__name__ == "LogisticRegression"
    first_day = pd.read_parquet(lake.predictions("2026-09-01"))
    assert set(first_day["version_champion"]) == {"1"}


def test_a_challenger_trained_by_modelguard_replaces_the_adopted_champion(replayed) -> None:
    config, lake, _ = replayed
    log = decisions.read_decisions(lake)
    requested = [e["model_version"] for e in log if e["action"] == "request_approval"]
    promoted = [e for e in log if e["action"] == "promote"]
    assert promoted, f"no promotion: {[(e['batch_id'], e['action'], e['model_version']) for e in log]}"
    first = promoted[0]
    assert first["model_version"] in requested and first["batch_id"] > "2026-09-04"  # after the drift's onset
    assert "replaces v1" in first["reason"]

    registry = Registry(config)
    aliases = registry.aliases()
    assert aliases[CHAMPION] == promoted[-1]["model_version"] != "1"
    assert aliases[PREVIOUS_CHAMPION] == (promoted[-2]["model_version"] if len(promoted) > 1 else "1")
    for version in {e["model_version"] for e in promoted}:
        challenger = registry.get(version)
        assert challenger.tags["train_key"].startswith("challenger:")  # trained by modelguard on the lake's days
        assert challenger.tags["trigger"] in ("performance", "drift") and challenger.tags["approval"] == "approved"
        assert ADOPTED_FROM_TAG not in challenger.tags
    estimator = registry.load(aliases[CHAMPION])  # model.estimator's factory (the default one here), not the team's
    assert type(estimator.named_steps["model"]).__name__ == "HistGradientBoostingClassifier"
    # the adopted version keeps its lineage after it stopped serving
    assert registry.get("1").tags[ADOPTED_FROM_TAG] == TEAM_URI
