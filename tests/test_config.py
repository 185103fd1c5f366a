from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from modelguard.config import DEFAULT_CONFIG_PATH, ConfigError, config_path, load_config, parse_config
from tests.conftest import FRAUD_MODEL, write_config


def test_minimal_config_gets_every_threshold_default(tmp_path: Path) -> None:
    config = parse_config({"model": FRAUD_MODEL}, base_dir=tmp_path)
    assert config.challenger.window_days == 10
    assert config.policy.auto_promote is False
    assert config.drift.num_threshold == 0.1
    assert config.storage_root == (tmp_path / "data").resolve()


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    assert config.storage_root == (tmp_path / "lake").resolve()
    assert config.tracking_uri == f"sqlite:///{(tmp_path / 'mlflow.db').resolve()}"


def test_server_tracking_uri_is_left_alone(tmp_path: Path) -> None:
    config = parse_config({"model": FRAUD_MODEL, "mlflow": {"tracking_uri": "http://127.0.0.1:5000"}}, base_dir=tmp_path)
    assert config.tracking_uri == "http://127.0.0.1:5000"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"drift": {"num_treshold": 0.2}}, "drift.num_treshold: unknown key"),
        ({"challenger": {"window_days": "ten"}}, "challenger.window_days"),
        ({"policy": {"cooldown_days": -1}}, "policy.cooldown_days"),
        ({"surprise": 1}, "surprise: unknown key"),
        ({"model": {**FRAUD_MODEL, "task": "ranking"}}, "model.task"),
        ({"model": {**FRAUD_MODEL, "features": {"numeric": ["amount", "amount"]}}}, "feature 'amount' is listed twice"),
        ({"model": {**FRAUD_MODEL, "segments": ["nope"]}}, "segment 'nope' is not a feature"),
        ({"model": {**FRAUD_MODEL, "target": "amount"}}, "target 'amount' is also listed as a feature"),
        # names the pipeline writes itself: refused, naming the key, instead of overwritten
        ({"model": {**FRAUD_MODEL, "segments": [], "features": {"numeric": ["score"]}}}, "features.numeric[0] 'score' is a column"),
        ({"model": {**FRAUD_MODEL, "segments": [], "features": {"numeric": ["amount"], "categorical": ["version_a"]}}},
         "features.categorical[0] 'version_a'"),
        ({"model": {**FRAUD_MODEL, "id_column": "prediction"}}, "id_column 'prediction' is a column"),
        ({"model": {**FRAUD_MODEL, "target": "score_champion"}}, "target 'score_champion' is a column"),
        ({"model": {**FRAUD_MODEL, "timestamp_column": "_batch_id"}}, "timestamp_column '_batch_id' is a column"),
        ({"storage": {"root": "s3://bucket/lake"}}, "storage.root: Value error, 's3://bucket/lake': URIs are not"),
        ({"storage": {"root": "file:///srv/lake"}}, "storage.root"),
    ],
)
def test_bad_config_names_the_key(tmp_path: Path, change: dict, named: str) -> None:
    data = {"model": FRAUD_MODEL, **change}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert named in str(caught.value)


@pytest.mark.parametrize("name", ["scores", "predictions", "batch_id", "version", "my_score"])
def test_names_near_the_reserved_ones_are_accepted(tmp_path: Path, name: str) -> None:
    model = {**FRAUD_MODEL, "segments": [], "features": {"numeric": [name]}}
    assert parse_config({"model": model}, base_dir=tmp_path).model.features.numeric == [name]


def test_a_mounted_storage_root_is_a_path(tmp_path: Path) -> None:
    config = parse_config({"model": FRAUD_MODEL, "storage": {"root": "/mnt/bucket/lake"}}, base_dir=tmp_path)
    assert config.storage_root == Path("/mnt/bucket/lake")


def test_missing_model_section_is_named(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("storage: {root: x}\n")
    with pytest.raises(ConfigError, match="model: Field required"):
        load_config(path)


def test_environment_variable_chooses_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_config(tmp_path)
    monkeypatch.setenv("MODELGUARD_CONFIG", str(path))
    assert config_path() == path.resolve()
    monkeypatch.delenv("MODELGUARD_CONFIG")
    assert config_path() == DEFAULT_CONFIG_PATH


def test_the_shipped_default_config_is_valid() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert len(config.model.features.all) >= 10
    assert config.model.segments == ["channel", "country"]


@pytest.mark.parametrize(("classes", "message"), [
    ([0, 1], "at least 3"), ([0, 1, 1], "each listed once"),
    (["low", "mid", "a+b"], "classes[2] 'a+b'"), (["<=50K", "b", "c"], "classes[0]"),
])
def test_multiclass_classes_are_refused_naming_the_key(tmp_path, classes, message: str) -> None:
    model = {"name": "m", "task": "multiclass_classification", "target": "y", "id_column": "i",
             "features": {"numeric": ["a"]}, **({"classes": classes} if classes is not None else {})}
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"model": model}, tmp_path)
