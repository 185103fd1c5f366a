"""The MLflow model registry: versions, the aliases champion / challenger / previous_champion, tags.

The only module that talks to MLflow's registry. Models are loaded only from this registry.
Registration is idempotent: a version carries a `train_key` tag (what trained it, on which data),
and registering the same key again returns the existing version instead of a duplicate. A version the
team registered elsewhere in the same registry is adopted by copying it into ours (`adopted_from` tag,
likewise idempotent).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelguard.config import PipelineConfig, model_version_uri
from modelguard.runtime import quiet_libraries

CHAMPION, CHALLENGER, PREVIOUS_CHAMPION = "champion", "challenger", "previous_champion"
ALIASES = (CHAMPION, CHALLENGER, PREVIOUS_CHAMPION)
PENDING_MOVE_TAG = "pending_alias_move"  # registered-model tag: an alias move in progress
ADOPTED_FROM_TAG = "adopted_from"  # version tag: the models:/ URI a version was copied from (written last)
_MODEL_CACHE: dict[tuple[str, str, str], Any] = {}


class RegistryUnavailable(RuntimeError):
    """The MLflow registry could not be reached or answered with an error: the task fails, nothing moves."""


def _absent(error) -> bool:
    """True if MLflow said the thing does not exist (as opposed to: could not answer)."""
    code = getattr(error, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or (code == "INVALID_PARAMETER_VALUE" and "alias" in str(error).lower())


def _unavailable(registry: Registry, error) -> RegistryUnavailable:
    return RegistryUnavailable(f"MLflow registry at {registry.tracking_uri} failed: {str(error).splitlines()[0][:300]}")



def initial_champion(versions: list[Version]) -> Version | None:
    """The version `modelguard init` made champion (trained or adopted): the latest one, since a deployment
    that re-ran init with another first champion (e.g. `init --champion` after the alias was removed) means
    that one. Its reference score is the service's baseline."""
    first = [v for v in versions if v.tags.get("trigger") == "init"]
    return max(first, key=lambda v: int(v.version)) if first else None


def version_url(mlflow_ui: str, model: str, version: str | int) -> str:
    """The registry page of a model version in the MLflow UI (for people: pages and messages link here)."""
    return f"{mlflow_ui.rstrip('/')}/#/models/{quote(model, safe='')}/versions/{quote(str(version), safe='')}"

@dataclass(frozen=True)
class Version:
    version: str
    tags: dict[str, str]
    aliases: tuple[str, ...]
    run_id: str | None
    created_ms: int

    @property
    def approval(self) -> str | None:
        return self.tags.get("approval")

    def approval_expired(self, batch_id: str, ttl_days: int) -> bool:
        """A pending approval requested more than `ttl_days` before `batch_id` (the day it was requested; for
        versions from before that tag, the day it was trained): it no longer holds retraining back, and the
        promote run records its expiry."""
        requested_on = self.tags.get("requested_on") or self.tags.get("trained_on")
        if self.approval != "pending" or not requested_on:
            return False
        return (dt.date.fromisoformat(batch_id) - dt.date.fromisoformat(requested_on)).days > ttl_days


class Registry:
    """The project's registered model in MLflow."""

    def __init__(self, config: PipelineConfig) -> None:
        quiet_libraries()
        import mlflow
        from mlflow import MlflowClient

        self.config = config
        self.name = config.model.name
        self.tracking_uri = config.tracking_uri
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        self.client = MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)
        logging.getLogger("mlflow").setLevel(logging.WARNING)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)

    # --- experiment and runs -----------------------------------------------------------------
    def experiment_id(self) -> str:
        experiment = self.client.get_experiment_by_name(self.config.mlflow.experiment)
        if experiment is not None:
            return experiment.experiment_id
        artifacts = Path(self.config.storage_root) / "mlartifacts"
        artifact_location = None if self.tracking_uri.startswith("http") else artifacts.as_uri()
        return self.client.create_experiment(self.config.mlflow.experiment, artifact_location=artifact_location)

    def ensure_model(self) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.client.get_registered_model(self.name)
        except MlflowException as error:
            if not _absent(error):
                raise _unavailable(self, error) from None
            self.client.create_registered_model(
                self.name, description="Managed by modelguard: champion serves, challenger competes."
            )

    # --- reading -----------------------------------------------------------------------------
    def _to_version(self, mv) -> Version:
        return Version(
            version=str(mv.version),
            tags=dict(mv.tags or {}),
            aliases=tuple(getattr(mv, "aliases", None) or ()),
            run_id=mv.run_id,
            created_ms=int(mv.creation_timestamp or 0),
        )

    def get(self, version: str | int) -> Version | None:
        from mlflow.exceptions import MlflowException

        try:
            return self._to_version(self.client.get_model_version(self.name, str(version)))
        except MlflowException as error:
            if _absent(error):
                return None
            raise _unavailable(self, error) from None

    def by_alias(self, alias: str) -> Version | None:
        from mlflow.exceptions import MlflowException

        try:
            return self._to_version(self.client.get_model_version_by_alias(self.name, alias))
        except MlflowException as error:
            # basic-auth answers 403 (not 404) to a non-admin asking for an alias of a model that does not exist
            if _absent(error) or error.error_code == "PERMISSION_DENIED" and not self.aliases():
                return None
            raise _unavailable(self, error) from None

    def aliases(self) -> dict[str, str]:
        """alias -> version for the aliases that are set."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException as error:
            if _absent(error):
                return {}
            raise _unavailable(self, error) from None
        return {alias: str(version) for alias, version in (model.aliases or {}).items()}

    def versions(self) -> list[Version]:
        found = self.client.search_model_versions(f"name = '{self.name}'", max_results=1000)
        return sorted((self._to_version(v) for v in found), key=lambda v: int(v.version))

    def find_by_tag(self, key: str, value: str) -> Version | None:
        matches = [v for v in self.versions() if v.tags.get(key) == value]
        return matches[-1] if matches else None

    def alias_state(self) -> tuple[dict[str, str], str | None]:
        """(alias -> version, the `pending_alias_move` intent) from one read: what an alias write compares."""
        from mlflow.exceptions import MlflowException

        try:
            model = self.client.get_registered_model(self.name)
        except MlflowException as error:
            if _absent(error):
                return {}, None
            raise _unavailable(self, error) from None
        aliases = {alias: str(version) for alias, version in (model.aliases or {}).items()}
        return aliases, (model.tags or {}).get(PENDING_MOVE_TAG)

    def model_tags(self) -> dict[str, str]:
        return dict(self.client.get_registered_model(self.name).tags or {})

    # --- writing -----------------------------------------------------------------------------
    def register(self, estimator, *, train_key: str, tags: dict[str, Any], metrics: dict[str, float],
                 run_name: str) -> tuple[str, bool]:
        """Log and register a fitted estimator; returns (version, created). Same train_key -> same version."""
        import mlflow
        import mlflow.sklearn

        existing = self.find_by_tag("train_key", train_key)
        if existing is not None:
            return existing.version, False
        self.ensure_model()
        string_tags = {k: str(v) for k, v in tags.items()}
        with mlflow.start_run(experiment_id=self.experiment_id(), run_name=run_name) as run:
            mlflow.set_tags({**string_tags, "train_key": train_key})
            mlflow.log_metrics({k: float(v) for k, v in metrics.items() if v == v})
            info = mlflow.sklearn.log_model(
                estimator,
                name="model",
                # Explicit requirements: inferring them loads the model in a subprocess (seconds).
                pip_requirements=[f"scikit-learn=={_sklearn_version()}"],
                # cloudpickle, not skops: skops' allow-list is read from the artifact itself, so it guards nothing
                # a registry writer could not defeat (MLflow's own note); what protects loading is that models
                # come only from our registry. Its import alone (~3 s: it walks every scikit-learn estimator)
                # was the largest fixed cost of every process that loads a model.
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            )
        version = self.client.create_model_version(self.name, info.model_uri, run_id=run.info.run_id,
                                                   tags={**string_tags, "train_key": train_key},
                                                   model_id=info.model_id)
        return str(version.version), True

    def check_source(self, uri: str) -> None:
        """Refuse (ValueError) a `models:/<name>/<version>` URI that is not a ready version of this registry."""
        from mlflow.exceptions import MlflowException

        name, version = model_version_uri(uri)
        try:
            found = self.client.get_model_version(name, version)
        except MlflowException as error:
            if not _absent(error):
                raise _unavailable(self, error) from None
            raise ValueError(f"{uri} does not exist in the registry at {self.tracking_uri}: modelguard loads models "
                             "only from its own registry (mlflow.tracking_uri); register the version there") from None
        if found.status != "READY":
            raise ValueError(f"{uri} is not ready to load (status {found.status})")

    def adopt(self, uri: str, tags: dict[str, Any]) -> tuple[str, bool]:
        """Copy the version `uri` (another registered model of this registry) into ours with `tags`; returns
        (version, created). Adopting the same URI again returns the version adopted before.

        The copy carries only modelguard's tags (the source's own stay on the source, which `adopted_from`
        names): a source managed by another pipeline must not bring its promotions or approvals along.
        """
        existing = self.find_by_tag(ADOPTED_FROM_TAG, uri)
        if existing is not None:
            return existing.version, False
        self.check_source(uri)
        name, version = model_version_uri(uri)
        source = f"models:/{name}/{version}"
        self.ensure_model()
        # A copy that a crash left without its tags (no adopted_from yet) is finished, not copied twice.
        halfway = [mv for mv in self.client.search_model_versions(f"name = '{self.name}'", max_results=1000)
                   if mv.source == source and ADOPTED_FROM_TAG not in (mv.tags or {})]
        if halfway:
            copy = max(halfway, key=lambda mv: int(mv.version))
        else:
            # MLflow's copy_model_version, without the source's tags: its approvals and a registry server's stamps
            # are not ours to carry (the server refuses a client writing them)
            original = self.client.get_model_version(name, str(version))
            with contextlib.redirect_stderr(io.StringIO()):  # MLflow prints its progress to stderr
                copy = self.client.create_model_version(self.name, source, run_id=original.run_id,
                                                        description=original.description,
                                                        model_id=getattr(original, "model_id", None))
        from modelguard.registry_server import STAMPED_VERSION_TAGS

        # a half-done copy's stray tags go, except what a registry server stamped on the copy
        for key in set(copy.tags or {}) - set(tags) - STAMPED_VERSION_TAGS:
            self.client.delete_model_version_tag(self.name, str(copy.version), key)
        self.set_tags(str(copy.version), tags)
        self.set_tags(str(copy.version), {ADOPTED_FROM_TAG: uri})  # last: the copy is complete
        return str(copy.version), True

    def set_tags(self, version: str, tags: dict[str, Any]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(self.name, str(version), key, str(value))

    # The raw alias writes: modelguard's own code writes aliases only through `alias_lock` (tests call these
    # to act as a person in the MLflow UI).
    def set_alias(self, alias: str, version: str) -> None:
        self.client.set_registered_model_alias(self.name, alias, str(version))

    def delete_alias(self, alias: str) -> None:
        from mlflow.exceptions import MlflowException

        with contextlib.suppress(MlflowException):
            self.client.delete_registered_model_alias(self.name, alias)

    def set_model_tag(self, key: str, value: Any) -> None:
        self.client.set_registered_model_tag(self.name, key, json.dumps(value) if not isinstance(value, str) else value)

    def delete_model_tag(self, key: str) -> None:
        """Delete a registered-model tag; a tag already gone is fine, any other failure raises (a stale
        alias-move intent left behind by a swallowed error would later undo a person's move)."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.delete_registered_model_tag(self.name, key)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST" and key in self.model_tags():
                raise

    # --- approval rules (registry server) -------------------------------------------------------
    def approval_policy(self) -> dict | None:
        """The registry server's approval rules for this model (`registry_server`), or None: the embedded store,
        or a server that does not stamp approvals (no such route)."""
        if not self.config.registry_server:
            return None
        from mlflow.exceptions import MlflowException
        from mlflow.utils.credentials import get_default_host_creds
        from mlflow.utils.rest_utils import http_request

        from modelguard.registry_server import POLICY_ROUTE

        try:  # the tasks' own login (MLFLOW_TRACKING_USERNAME / _PASSWORD), as for every registry call
            response = http_request(get_default_host_creds(self.tracking_uri), POLICY_ROUTE, "GET",
                                    params={"name": self.name}, max_retries=2)
        except MlflowException as error:
            raise _unavailable(self, error) from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise RegistryUnavailable(f"the registry server's approval rules ({POLICY_ROUTE}) answered "
                                      f"{response.status_code}: {response.text[:200]}")
        return response.json()

    # --- health history ------------------------------------------------------------------------
    def log_health(self, batch_id: str, metrics: dict[str, float]) -> None:
        """Append the day's health metrics to the experiment's `health` run, step = the batch's day,
        so the MLflow UI draws each metric as a time series. A rerun logs identical points."""
        import datetime as dt

        from mlflow.entities import Metric

        experiment_id = self.experiment_id()
        runs = self.client.search_runs([experiment_id], filter_string="tags.kind = 'health'", max_results=1)
        run_id = runs[0].info.run_id if runs else self.client.create_run(
            experiment_id, run_name="health", tags={"kind": "health"}).info.run_id
        day = dt.date.fromisoformat(batch_id)
        stamp = int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, float(v), stamp, day.toordinal()) for k, v in metrics.items()])

    # --- loading -----------------------------------------------------------------------------
    def load(self, version: str):
        """The model of a version of our registered model (cached: versions are immutable): its scikit-learn
        estimator if it has that flavour (it keeps `predict_proba`), else its MLflow pyfunc model."""
        return self._cached(self.name, str(version))

    def load_source(self, uri: str):
        """The model of `uri`, a version of another registered model of this registry (to adopt it)."""
        self.check_source(uri)
        return self._cached(*model_version_uri(uri))

    def _cached(self, name: str, version: str):
        key = (self.tracking_uri, name, version)
        if key not in _MODEL_CACHE:
            _MODEL_CACHE[key] = _load_model(f"models:/{name}/{version}")
        return _MODEL_CACHE[key]


def _load_model(uri: str):
    """Load a `models:/` URI of this registry (the tracking URI is set) in its scikit-learn flavour, or as pyfunc."""
    import mlflow.artifacts
    import mlflow.pyfunc
    import mlflow.sklearn
    from mlflow.models import Model

    local = mlflow.artifacts.download_artifacts(artifact_uri=uri)  # once: MLmodel says which flavours it has
    if "sklearn" in Model.load(local).flavors:
        return mlflow.sklearn.load_model(local)
    return mlflow.pyfunc.load_model(local)


def _sklearn_version() -> str:
    import sklearn

    return sklearn.__version__
