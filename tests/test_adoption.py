"""Bring your own champion: a model the team already registered in the project's MLflow registry (any
flavour) becomes the first champion through `initialise(config, champion=...)` / `modelguard init --champion`,
untrained, with its baseline measured on the reference holdout; and what its pyfunc returns is read as scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from modelguard import model
from modelguard.bootstrap import REFERENCE_HOLDOUT_SHARE, initialise, time_split
from modelguard.config import ConfigError, PipelineConfig, load_config, parse_config
from modelguard.registry import ADOPTED_FROM_TAG, CHAMPION, Registry
from modelguard.storage import Lake
from modelguard.task_kinds import prediction_scores
from tests.conftest import FRAUD_MODEL, write_config

TEAM_MODEL = "team_scorer"


def team_experiment(config: PipelineConfig) -> str:
    """The team's own MLflow experiment in the project's tracking store, artifacts beside the lake."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_registry_uri(config.tracking_uri)
    client = MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)
    found = client.get_experiment_by_name("team")
    if found is not None:
        return found.experiment_id
    return client.create_experiment("team", artifact_location=(config.storage_root.parent / "team-artifacts").as_uri())


def python_model(returns: str = "probability"):
    """The team's pyfunc-only model (no scikit-learn flavour): a risk formula, answering probabilities (or,
    wrongly, 0/1 labels)."""
    import mlflow.pyfunc

    class TeamRiskScore(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame | np.ndarray:
            log_odds = 6 * (model_input["merchant_risk_score"] - 0.6) + 0.02 * (model_input["tx_count_24h"] - 5)
            probability = 1 / (1 + np.exp(-log_odds.to_numpy(dtype=float)))
            if returns == "labels":
                return (probability >= 0.5).astype("int64")
            return pd.DataFrame({"p_legit": 1 - probability, "p_fraud": probability})

    return TeamRiskScore()


def register_team_pyfunc(config: PipelineConfig, returns: str = "probability", name: str = TEAM_MODEL) -> str:
    """Log and register a pyfunc model the way the team would; returns its models:/ URI."""
    import mlflow
    import mlflow.pyfunc
    from mlflow import MlflowClient

    with mlflow.start_run(experiment_id=team_experiment(config)):
        info = mlflow.pyfunc.log_model(name="model", python_model=python_model(returns), registered_model_name=name,
                                       pip_requirements=["mlflow"])
    MlflowClient(config.tracking_uri, config.tracking_uri).set_model_version_tag(
        name, info.registered_model_version, "owner", "team-fraud")  # the team's own tag, on its own version
    return f"models:/{name}/{info.registered_model_version}"


@pytest.fixture
def config(tmp_path: Path) -> PipelineConfig:
    from modelguard.simulate import simulate

    config = load_config(write_config(tmp_path))
    simulate(config.storage_root, days=1, rows=200, reference_rows=3000, incidents=[])
    return config


def _no_training(*args, **kwargs):
    raise AssertionError("an adopted champion must not be trained")


# --- what a pyfunc's predict returns, as scores ------------------------------------------------------------
PROBABILITIES = np.array([0.1, 0.8, 0.35])


@pytest.mark.parametrize("output", [
    pd.DataFrame({"no": 1 - PROBABILITIES, "yes": PROBABILITIES}),
    pd.DataFrame({"probability": PROBABILITIES}),
    pd.Series(PROBABILITIES),
    list(PROBABILITIES),
    PROBABILITIES,
    np.column_stack([1 - PROBABILITIES, PROBABILITIES]),
    PROBABILITIES.reshape(-1, 1),
], ids=["dataframe-2", "dataframe-1", "series", "list", "1d", "2d", "2d-1"])
def test_a_pyfunc_output_reads_as_the_positive_probability(output) -> None:
    scores = prediction_scores(output, "binary_classification")
    assert scores.shape == (3,) and scores.dtype == float
    np.testing.assert_allclose(scores, PROBABILITIES)


@pytest.mark.parametrize("output", [
    np.array([0, 1, 1]), [True, False, True], np.array([0.2, 3.5, -1.0]), ["fraud", "legit", "fraud"],
    pd.DataFrame({"label": [0, 1, 0]}),
], ids=["int-labels", "bool-labels", "values", "text-labels", "label-frame"])
def test_labels_or_values_are_refused_as_probabilities(output) -> None:
    with pytest.raises(ValueError, match="returns labels or values, not probabilities") as caught:
        prediction_scores(output, "binary_classification")
    assert 'pyfunc_predict_fn="predict_proba"' in str(caught.value)


def test_a_regression_pyfunc_output_is_the_prediction() -> None:
    np.testing.assert_allclose(prediction_scores(pd.DataFrame({"y": [3, -2, 250]}), "regression"), [3, -2, 250])
    with pytest.raises(ValueError, match="shape"):
        prediction_scores(np.ones((3, 2)), "regression")


def test_predict_scores_asks_predict_proba_when_there_is_one_else_predict() -> None:
    fraud = parse_config({"model": FRAUD_MODEL}, base_dir=Path.cwd()).model
    frame = pd.DataFrame({column: [0.0, 1.0] for column in fraud.features.all})

    class Classifier:
        def predict_proba(self, part):
            return np.column_stack([np.full(len(part), 0.7), np.full(len(part), 0.3)])

        def predict(self, part):
            raise AssertionError("labels are never scores")

    class Pyfunc:  # what mlflow.pyfunc.load_model gives: predict only
        def predict(self, part):
            return pd.Series(np.full(len(part), 0.6))

    np.testing.assert_allclose(model.predict_scores(Classifier(), fraud, frame), [0.3, 0.3])
    np.testing.assert_allclose(model.predict_scores(Pyfunc(), fraud, frame), [0.6, 0.6])


# --- adoption ------------------------------------------------------------------------------------------------
def test_a_pyfunc_model_is_adopted_as_champion_without_retraining(config, monkeypatch) -> None:
    uri = register_team_pyfunc(config)
    monkeypatch.setattr(model, "fit", _no_training)

    result = initialise(config, champion=uri)

    registry = Registry(config)
    assert registry.aliases() == {CHAMPION: result["champion_version"]}
    assert result["adopted_from"] == uri and result["adopted"] == result["champion_version"]
    adopted = registry.get(result["champion_version"])
    reference = pd.read_parquet(Lake(config.storage_root).reference_train)
    assert {k: v for k, v in adopted.tags.items() if not k.startswith("metric_")} == {
        "trigger": "init", ADOPTED_FROM_TAG: uri, "train_window": "external",
        "promoted_by": "modelguard init --champion", "data_hash": model.data_hash(reference)}
    # its baseline is its score on the same reference holdout a trained first champion is measured on
    _, holdout = time_split(reference, config.model.timestamp_column, REFERENCE_HOLDOUT_SHARE)
    served = registry.load(adopted.version)
    assert not hasattr(served, "predict_proba")  # a pyfunc model: scored through predict
    expected = model.evaluate(config.model, holdout[config.model.target],
                              model.predict_scores(served, config.model, holdout))
    for metric, value in expected.items():
        assert float(adopted.tags[f"metric_{metric}"]) == pytest.approx(value, abs=1e-5)
        assert result[metric] == pytest.approx(value, abs=1e-5)
    assert 0.5 < expected["roc_auc"] <= 1
    # the team's version keeps its own tags; the copy carries only the pipeline's lineage
    source = registry.client.get_model_version(TEAM_MODEL, "1")
    assert source.tags == {"owner": "team-fraud"} and "owner" not in adopted.tags


def test_init_again_copies_nothing(config) -> None:
    uri = register_team_pyfunc(config)
    first = initialise(config, champion=uri)
    again = initialise(config, champion=uri)
    plain = initialise(config)  # without the URI: a champion serves, nothing is trained either
    registry = Registry(config)
    assert [v.version for v in registry.versions()] == [first["champion_version"]]
    assert again["champion_version"] == plain["champion_version"] == first["champion_version"]
    assert again["roc_auc"] == first["roc_auc"]


def test_a_copy_cut_short_by_a_crash_is_finished_not_copied_again(config) -> None:
    uri = register_team_pyfunc(config)
    registry = Registry(config)
    registry.ensure_model()
    registry.client.copy_model_version(uri, config.model.name)  # crashed before its tags were written

    result = initialise(config, champion=uri)

    versions = registry.versions()
    assert [v.version for v in versions] == ["1"] and result["champion_version"] == "1"
    assert versions[0].tags[ADOPTED_FROM_TAG] == uri and "owner" not in versions[0].tags


def test_the_champion_uri_comes_from_the_config_too(tmp_path: Path) -> None:
    from modelguard.simulate import simulate

    bare = load_config(write_config(tmp_path))
    simulate(bare.storage_root, days=1, rows=200, reference_rows=3000, incidents=[])
    uri = register_team_pyfunc(bare)
    config = load_config(write_config(tmp_path, model={**FRAUD_MODEL, "champion": uri}))
    assert initialise(config)["adopted_from"] == uri


@pytest.mark.parametrize(("uri", "says"), [
    ("models:/team_scorer/9", "models:/team_scorer/9 does not exist in the registry at sqlite:///"),
    ("models:/nobody/1", "models:/nobody/1 does not exist in the registry at"),
    ("models://team@databricks/team_scorer/1", "names another registry"),
    ("runs:/0123/model", "is not models:/<name>/<version>"),
])
def test_a_champion_that_is_not_in_our_registry_fails_clearly_and_changes_nothing(config, uri, says) -> None:
    register_team_pyfunc(config)
    with pytest.raises(ValueError) as caught:
        initialise(config, champion=uri)
    assert says in str(caught.value)
    registry = Registry(config)
    assert registry.aliases() == {} and registry.versions() == []


def test_a_pyfunc_answering_labels_is_refused_and_changes_nothing(config) -> None:
    uri = register_team_pyfunc(config, returns="labels")
    with pytest.raises(ValueError) as caught:
        initialise(config, champion=uri)
    message = str(caught.value)
    assert message.startswith(f"{uri} cannot score the reference data: the model returns labels or values")
    assert "predict_proba" in message
    registry = Registry(config)
    assert registry.aliases() == {} and registry.versions() == []


def test_the_cli_refuses_a_missing_champion_with_exit_code_2(config, monkeypatch) -> None:
    from typer.testing import CliRunner

    from modelguard.cli import app

    config_file = config.base_dir / "pipeline.yaml"
    monkeypatch.setenv("MODELGUARD_CONFIG", str(config_file))
    done = CliRunner().invoke(app, ["init", "--champion", "models:/nobody/3"])
    assert done.exit_code == 2, done.output
    assert "models:/nobody/3 does not exist in the registry" in done.output
    assert Registry(config).aliases() == {}


@pytest.mark.parametrize(("value", "says"), [
    ("foo", "model.champion: Value error, 'foo' is not models:/<name>/<version>"),
    ("models:/churn", "is not models:/<name>/<version>"),
    ("models:/churn@champion", "is not models:/<name>/<version>"),  # an alias moves: a version is adopted
    ("models:/churn/latest", "is not models:/<name>/<version>"),
    ("models://prod@databricks/churn/7", "model.champion: Value error, 'models://prod@databricks/churn/7' names "
                                         "another registry"),
])
def test_a_malformed_champion_is_refused_naming_the_key(tmp_path: Path, value: str, says: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"model": {**FRAUD_MODEL, "champion": value}}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert says in str(caught.value)
    assert parse_config({"model": {**FRAUD_MODEL, "champion": "models:/churn/7"}}, tmp_path).model.champion \
        == "models:/churn/7"


@pytest.mark.e2e
def test_adoption_through_an_mlflow_server(tmp_path: Path, request, monkeypatch) -> None:
    """copy_model_version through the REST store (`mlflow server --app-name modelguard`, as the pipeline's own
    account), not only the SQLite one: the copy keeps the server's stamps and carries no approval of the source."""
    from modelguard.simulate import simulate
    from tests.test_registry_server import PIPELINE_PASSWORD, MlflowServer

    server = MlflowServer(tmp_path)
    server.start()
    request.addfinalizer(server.kill)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "modelguard")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PIPELINE_PASSWORD)
    config = load_config(write_config(tmp_path, mlflow={"tracking_uri": server.url}))
    simulate(config.storage_root, days=1, rows=200, reference_rows=3000, incidents=[])
    uri = register_team_pyfunc(config)

    first = initialise(config, champion=uri)
    again = initialise(config, champion=uri)

    registry = Registry(config)
    assert registry.aliases() == {CHAMPION: first["champion_version"]} and again == first
    adopted = registry.get(first["champion_version"]).tags
    assert adopted[ADOPTED_FROM_TAG] == uri and adopted["registered_by"] == "modelguard"
    assert "approval" not in adopted and "approved_by" not in adopted
    assert first["roc_auc"] > 0.5
