"""The pipeline's configuration: one YAML file, declared once here with defaults, validated at load.

Every threshold has a default, so a file with only `model`, `storage` and `mlflow` works. Unknown
keys, wrong types and features listed twice fail with a message that names the key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_PATH = PACKAGE_ROOT / "include" / "config" / "pipeline.yaml"
CONFIG_ENV_VAR = "MODELGUARD_CONFIG"


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message names the offending key."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Features(_Strict):
    numeric: list[str] = Field(default_factory=list)
    categorical: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_feature_twice(self) -> Features:
        seen: set[str] = set()
        for name in [*self.numeric, *self.categorical]:
            if name in seen:
                raise ValueError(f"feature {name!r} is listed twice")
            seen.add(name)
        if not seen:
            raise ValueError("at least one feature is required")
        return self

    @property
    def all(self) -> list[str]:
        return [*self.numeric, *self.categorical]


# Columns the pipeline writes next to the model's own (predictions, drift frames, pooled labelled days): a
# feature, id, target or timestamp of the same name would be overwritten without a word.
RESERVED_COLUMNS = ("score", "prediction", "_batch_id")
RESERVED_PREFIXES = ("score_", "version_")


def reserved_column(name: str) -> bool:
    return name in RESERVED_COLUMNS or name.startswith(RESERVED_PREFIXES)


# A multiclass class that is not an integer: it names columns (score_<alias>__<class>) and MLflow metrics.
CLASS_NAME = re.compile(r"[A-Za-z0-9_.-]+")

# The comparison metrics of each kind of model, its default first (modelguard.task_kinds knows their direction).
TASK_METRICS: dict[str, tuple[str, ...]] = {
    "binary_classification": ("roc_auc", "pr_auc"),
    "multiclass_classification": ("roc_auc", "log_loss"),  # roc_auc: macro one-vs-rest
    "regression": ("r2", "rmse", "mae"),
}


_MODEL_VERSION_URI = re.compile(r"^models:/(?P<name>[^/@]+)/(?P<version>[1-9][0-9]*)$")


def model_version_uri(uri: str) -> tuple[str, str]:
    """(name, version) of a `models:/<name>/<version>` URI: a fixed version of a model in the project's own
    registry (an alias would move under the pipeline; `models://<profile>/...` names another registry)."""
    if uri.startswith("models://"):
        raise ValueError(f"{uri!r} names another registry; modelguard loads models only from its own "
                         "(mlflow.tracking_uri): register the version there and give models:/<name>/<version>")
    match = _MODEL_VERSION_URI.match(uri)
    if not match:
        raise ValueError(f"{uri!r} is not models:/<name>/<version>")
    return match["name"], match["version"]


class ModelConfig(_Strict):
    name: str
    task: Literal["binary_classification", "multiclass_classification", "regression"] = "binary_classification"
    # multiclass: the target's classes, in the order their probabilities are stored (score_<alias>__<class>);
    # default: those of the reference data, which `modelguard init` records in the reference profile
    classes: list[int | str] | None = None
    target: str
    id_column: str
    timestamp_column: str | None = None
    features: Features
    segments: list[str] = Field(default_factory=list)
    # "module:function" returning an unfitted scikit-learn estimator; see modelguard.model.
    estimator: str = "modelguard.model:default_estimator"
    decision_threshold: float = Field(0.5, gt=0, lt=1)
    # "models:/<name>/<version>": a version the team already registered, adopted as the first champion by
    # `modelguard init` instead of training one (challengers are still trained by `estimator`).
    champion: str | None = None

    @field_validator("champion")
    @classmethod
    def _champion_uri(cls, value: str | None) -> str | None:
        if value is not None:
            model_version_uri(value)
        return value

    @model_validator(mode="after")
    def _classes_fit_the_task(self) -> ModelConfig:
        if self.task == "multiclass_classification" and self.classes is not None:
            if len(set(map(str, self.classes))) != len(self.classes) or len(self.classes) < 3:
                raise ValueError("classes: a multiclass model has at least 3 classes, each listed once (two "
                                 "classes: task binary_classification)")
            for i, name in enumerate(self.classes):  # they name columns and MLflow metrics (recall_<class>)
                if isinstance(name, str) and not CLASS_NAME.fullmatch(name):
                    raise ValueError(f"classes[{i}] {name!r}: a class is an integer or a name of letters, digits, "
                                     "'_', '.', '-' (it names columns and metrics)")
        elif self.classes is not None:
            raise ValueError(f"classes: only for task multiclass_classification, not {self.task}")
        return self

    @model_validator(mode="after")
    def _columns_are_distinct(self) -> ModelConfig:
        special = {"target": self.target, "id_column": self.id_column}
        if self.timestamp_column:
            special["timestamp_column"] = self.timestamp_column
        for key, column in special.items():
            if column in self.features.all:
                raise ValueError(f"{key} {column!r} is also listed as a feature")
        for segment in self.segments:
            if segment not in self.features.all:
                raise ValueError(f"segment {segment!r} is not a feature")
        named = {**special, **{f"features.numeric[{i}]": c for i, c in enumerate(self.features.numeric)},
                 **{f"features.categorical[{i}]": c for i, c in enumerate(self.features.categorical)}}
        for key, column in named.items():
            if reserved_column(column):
                raise ValueError(f"{key} {column!r} is a column name modelguard writes itself "
                                 f"({', '.join(RESERVED_COLUMNS)}, {'*, '.join(RESERVED_PREFIXES)}*); "
                                 "rename the column in the data")
        return self


class StorageConfig(_Strict):
    root: str = Field("data", description="local folder (relative to the config file's folder), or a mounted one")

    @field_validator("root")
    @classmethod
    def _local_path(cls, value: str) -> str:
        # A URI would become a local folder named after it ("s3:/bucket/lake"): refused, not misread.
        if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
            raise ValueError(f"{value!r}: URIs are not supported; give a local or mounted folder "
                             "(object stores: mount the bucket, e.g. with s3fs or gcsfuse)")
        return value


class MlflowConfig(_Strict):
    tracking_uri: str = "sqlite:///mlflow.db"
    experiment: str = "modelguard"


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(value: Any) -> Any:
    """`90s`, `5m`, `6h`, `1d` (or a number of seconds) as a timedelta; anything else is left to pydantic."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.timedelta(seconds=value)
    if isinstance(value, str) and (match := _DURATION.match(value)):
        return dt.timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration (e.g. 90s, 5m, 6h, 1d)")
    return value


Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]


_MLFLOW_USER = re.compile(r"^(role:)?[A-Za-z0-9][A-Za-z0-9_.@+-]{0,127}$")


class ApprovalConfig(_Strict):
    """Who may approve: enforced by the registry server (`mlflow server --app-name modelguard`), which stamps the
    verified user on each approval. With the embedded SQLite store there is no server and no login, and an
    approval records the OS user, unverified."""

    approvers: list[str] = Field(default_factory=list, description="MLflow users (or `role:NAME`, an MLflow role) "
                                 "who may approve, reject or move `champion` by hand; empty: MLflow admins only")
    four_eyes: bool = Field(True, description="the account that registered a version, or requested its approval, "
                            "cannot approve it (where a server verifies accounts)")
    pipeline_user: str = Field("modelguard", description="the MLflow account the pipeline's tasks log in as: it "
                               "requests approvals and moves aliases, and may never approve")

    @field_validator("approvers")
    @classmethod
    def _accounts(cls, value: list[str]) -> list[str]:
        for i, name in enumerate(value):
            if not isinstance(name, str) or not _MLFLOW_USER.match(name):
                raise ValueError(f"approvers[{i}] {name!r}: an MLflow username, or role:NAME")
        return value

    @model_validator(mode="after")
    def _pipeline_is_no_approver(self) -> ApprovalConfig:
        if self.pipeline_user in self.approvers:
            raise ValueError(f"approvers: the pipeline's own account {self.pipeline_user!r} may never approve")
        return self


class RehearsalConfig(_Strict):
    """Compressed time, to rehearse many batch days in minutes (live tests, demos on a running stack).

    The batch day `first_day` begins at the wall-clock instant `start`, and each later day `day_length`
    after the one before; deadlines and waits shrink by the same factor.
    """

    day_length: Duration = Field(description="wall-clock length of one batch day, e.g. 3m")
    start: dt.datetime = Field(description="wall-clock instant (with a UTC offset) at which first_day begins")
    first_day: dt.date

    @field_validator("day_length")
    @classmethod
    def _at_least_a_minute(cls, value: dt.timedelta) -> dt.timedelta:
        if value < dt.timedelta(minutes=1) or value > dt.timedelta(days=1):
            raise ValueError("must be between 1m and 1d")
        return value

    @field_validator("start")
    @classmethod
    def _aware(cls, value: dt.datetime) -> dt.datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset, e.g. 2026-11-29T10:00:00+00:00")
        return value


class ScheduleConfig(_Strict):
    """When a batch day begins and ends, and how long ingest waits for its file."""

    timezone: str = Field("UTC", description="IANA zone whose midnight ends a batch day")
    batch_deadline: Duration = Field(dt.timedelta(hours=6), description="wait after the day ends before missing_batch")
    poke_interval: Duration = Field(dt.timedelta(minutes=5), description="how often ingest looks for a late file")
    # Wall-clock, never compressed: how long a person waits between approving in MLflow and the promotion.
    approval_poll: Duration = Field(dt.timedelta(seconds=30), description="how often the registry is polled")
    rehearsal: RehearsalConfig | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. UTC, Europe/Berlin)") from None
        return value

    @field_validator("batch_deadline", "poke_interval", "approval_poll")
    @classmethod
    def _positive(cls, value: dt.timedelta) -> dt.timedelta:
        if value <= dt.timedelta(0):
            raise ValueError("must be positive")
        return value


class ColumnRules(_Strict):
    """Per-column overrides of the suite learned from the reference data."""

    min: float | None = None
    max: float | None = None
    max_null_share: float | None = Field(None, ge=0, le=1)
    unseen_category_share: float | None = Field(None, ge=0, le=1)
    range_severity: Literal["critical", "warning"] | None = None


class ValidationConfig(_Strict):
    """Thresholds of the expectation suites built from the reference data."""

    range_margin: float = Field(0.25, ge=0, description="widen the reference min..max by this share of its span")
    out_of_range_share: float = Field(0.01, ge=0, le=1, description="tolerated share of values outside the range")
    null_share_slack: float = Field(0.05, ge=0, le=1, description="tolerated null share above the reference's")
    unseen_category_share: float = Field(0.05, ge=0, le=1, description="share of unseen categories before a warning")
    max_unseen_share: float = Field(0.5, ge=0, le=1, description="share of unseen categories that quarantines a "
                                    "batch (another encoding or a shifted column, not new categories)")
    min_rows: int = Field(100, ge=1)
    max_rows: int = Field(10_000_000, ge=1)
    columns: dict[str, ColumnRules] = Field(default_factory=dict, description="per-column overrides")


class DriftConfig(_Strict):
    sample_rows: int = Field(5000, ge=100, description="rows of each side given to Evidently")
    num_threshold: float = Field(0.1, gt=0)
    cat_threshold: float = Field(0.1, gt=0)
    min_drifted_features: int = Field(1, ge=1, description="drifted features that make a drift_alert")
    positive_rate_factor: float = Field(3.0, gt=1, description="predicted positive rate (multiclass: a class's "
                                        "predicted share) jump, as a factor, that is an incident")
    prediction_shift_std: float = Field(1.0, gt=0, description="regression: shift of the mean prediction, in the "
                                        "reference predictions' standard deviations, that is an incident")
    # On samples of <= 1000 reference rows Evidently switches to p-value tests (KS, chi-square), where a
    # per-column 0.05 would make 25 quiet features alert most days: split a family-wise rate instead.
    p_value_alpha: float = Field(0.01, gt=0, lt=1, description="family-wise false-alarm rate of p-value tests "
                                 "(small samples), Bonferroni-split across the columns")


class ChallengerConfig(_Strict):
    window_days: int = Field(10, ge=1, description="labelled, accepted days the challenger is trained on")
    holdout_days: int = Field(2, ge=1, description="later labelled days the comparison is made on")
    min_rows: int = Field(2000, ge=10)
    min_positives: int = Field(20, ge=1)
    metric: str | None = Field(None, description="comparison metric; default by model.task (TASK_METRICS)")
    min_improvement: float = Field(0.01, ge=0)
    bootstrap_rounds: int = Field(300, ge=50)
    confidence: float = Field(0.95, gt=0.5, lt=1, description="level of the bootstrap interval shown to a person")
    alpha: float = Field(0.05, gt=0, lt=0.5, description="false-promotion rate of the anytime-valid champion-vs-"
                                                          "challenger test, however many days it is looked at")
    min_rows_after_onset: int = Field(500, ge=10, description="labelled rows since a performance drop's onset "
                                                              "that a challenger needs to be trained on them")
    history_share: float = Field(0.2, ge=0, lt=1, description="after an onset, at most this share of the "
                                 "training rows comes from before it (recent history blended in, most recent first)")
    every_days: int = Field(14, ge=1, description="scheduled challenger cycle")
    seed: int = 7


class PolicyConfig(_Strict):
    performance_window_days: int = Field(2, ge=1, description="labelled days pooled for realized performance")
    max_metric_drop: float = Field(0.1, gt=0, description="drop below the service baseline that alerts; a "
                                   "challenger within it of the service baseline repairs")
    service_baseline: float | None = Field(None, gt=0, description="the metric level the service needs; default: "
                                           "the first champion's score on the reference holdout")
    drift_days_to_retrain: int = Field(3, ge=1, description="consecutive drift days that trigger retraining")
    cooldown_days: int = Field(3, ge=0, description="minimum days between two retrainings")
    guardrail_days: int = Field(2, ge=1, description="latest labelled days after a promotion the rollback's margin "
                                "and the previous champion's health are read on (its e-value spans the whole tenure)")
    rollback_margin: float = Field(0.02, ge=0)
    auto_promote: bool = False
    approval_ttl_days: int = Field(7, ge=1, description="days a pending approval waits before it expires")


# What can notify: a decision's action, a missing batch (`no_action` with `alert: missing_batch`) and a
# task that failed for good. Kept in step with decisions.ACTIONS (a test checks it) without importing it:
# this module is imported by light code.
NotifyEvent = Literal[
    "accept_batch", "quarantine_batch", "drift_alert", "performance_alert", "register_challenger",
    "request_approval", "promote", "rollback", "no_action", "missing_batch", "approval_refused", "approval_expired",
    "approval_superseded", "task_failure",
]
DEFAULT_NOTIFY_EVENTS: tuple[str, ...] = (
    "quarantine_batch", "missing_batch", "drift_alert", "performance_alert",  # incidents
    "request_approval", "promote", "rollback",  # a person must act, or the served model changed
    "approval_refused", "approval_expired",  # what a person did (or did not) in the registry went nowhere
    "approval_superseded",  # a request a person may still be looking at can no longer be promoted
    "task_failure",
)
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _env_name(value: str | None) -> str | None:
    if value is not None and not _ENV_NAME.match(value):
        raise ValueError(f"{value!r} is not an environment variable name (A-Z, 0-9, _)")
    return value


def _http_url(value: str | None) -> str | None:
    if value is None:
        return value
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value.rstrip("/")


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _no_inline_secret(data: Any, key: str, env_key: str) -> Any:
    # Secrets never live in the config file (it is committed and mounted everywhere): name a variable instead.
    if isinstance(data, dict) and key in data:
        raise ValueError(f"{key}: secrets do not go in the config file; put it in an environment variable "
                         f"and give that variable's name as {env_key}")
    return data


class SmtpConfig(_Strict):
    host: str = Field(min_length=1)
    port: int = Field(587, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    starttls: bool = True
    username: str | None = None
    password_env: str | None = Field(None, description="name of the environment variable holding the password")
    timeout: float = Field(10.0, gt=0, description="seconds")

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        return _no_inline_secret(data, "password", "password_env")

    @field_validator("password_env")
    @classmethod
    def _password_env_name(cls, value: str | None) -> str | None:
        return _env_name(value)

    @field_validator("sender", "recipients")
    @classmethod
    def _addresses(cls, value: str | list[str]) -> str | list[str]:
        for address in [value] if isinstance(value, str) else value:
            if "@" not in address or any(c.isspace() for c in address.strip()):
                raise ValueError(f"{address!r} is not an e-mail address")
        return value

    @model_validator(mode="after")
    def _login_needs_both(self) -> SmtpConfig:
        if bool(self.username) != bool(self.password_env):
            raise ValueError("username and password_env go together (log in with both, or neither)")
        return self


class WebhookConfig(_Strict):
    url: str
    headers: dict[str, str] = Field(default_factory=dict, description="extra, non-secret HTTP headers")
    token_env: str | None = Field(None, description="environment variable whose value is sent as a Bearer token")
    timeout: float = Field(10.0, gt=0, description="seconds")

    @model_validator(mode="before")
    @classmethod
    def _no_token(cls, data: Any) -> Any:
        return _no_inline_secret(data, "token", "token_env")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = _http_url(value)
        parts = urlsplit(value)
        if parts.scheme == "http" and not _loopback(parts.hostname):
            # the payload (and the bearer token) would cross the network in clear text
            raise ValueError(f"{value!r} is plain http to {parts.hostname}; use https (plain http only to "
                             "loopback: localhost, 127.0.0.1, ::1)")
        return value

    @field_validator("token_env")
    @classmethod
    def _token_env_name(cls, value: str | None) -> str | None:
        return _env_name(value)


class NotificationsConfig(_Strict):
    """Where decisions and task failures are sent. Off unless `smtp` or `webhook` is set."""

    smtp: SmtpConfig | None = None
    webhook: WebhookConfig | None = None
    events: list[NotifyEvent] = Field(default_factory=lambda: list(DEFAULT_NOTIFY_EVENTS))
    # Base URL of the MLflow UI for links to model versions; default: mlflow.tracking_uri if it is http(s).
    mlflow_ui_url: str | None = None

    @field_validator("mlflow_ui_url")
    @classmethod
    def _ui_url(cls, value: str | None) -> str | None:
        return _http_url(value)

    @property
    def enabled(self) -> bool:
        return bool(self.smtp or self.webhook) and bool(self.events)


class PipelineConfig(_Strict):
    model: ModelConfig
    storage: StorageConfig = StorageConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    mlflow: MlflowConfig = MlflowConfig()
    validation: ValidationConfig = ValidationConfig()
    drift: DriftConfig = DriftConfig()
    challenger: ChallengerConfig = ChallengerConfig()
    policy: PolicyConfig = PolicyConfig()
    approval: ApprovalConfig = ApprovalConfig()
    notifications: NotificationsConfig = NotificationsConfig()
    # Folder the config file lives in; relative paths in the file are resolved against it.
    base_dir: Path = Field(default_factory=Path.cwd, exclude=True)

    @field_validator("base_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.resolve()

    @model_validator(mode="after")
    def _metric_fits_the_task(self) -> PipelineConfig:
        allowed = TASK_METRICS[self.model.task]
        if self.challenger.metric is None:  # the task's default, set once here so every reader sees a metric
            object.__setattr__(self, "challenger", self.challenger.model_copy(update={"metric": allowed[0]}))
        elif self.challenger.metric not in allowed:
            raise ValueError(f"challenger.metric: {self.challenger.metric!r} is not a metric of {self.model.task} "
                             f"models ({', '.join(allowed)})")
        return self

    @model_validator(mode="after")
    def _overrides_name_columns(self) -> PipelineConfig:
        known = {*self.model.features.all, self.model.id_column, self.model.timestamp_column}
        for column in self.validation.columns:
            if column not in known:
                raise ValueError(f"validation.columns.{column}: not a feature, id or timestamp column")
        return self

    @property
    def storage_root(self) -> Path:
        root = Path(self.storage.root).expanduser()
        return root if root.is_absolute() else (self.base_dir / root).resolve()

    @property
    def tracking_uri(self) -> str:
        """The tracking URI with a relative SQLite path made absolute (MLflow would use the CWD)."""
        uri = self.mlflow.tracking_uri
        prefix = "sqlite:///"
        if uri.startswith(prefix) and not uri.startswith(prefix + "/"):
            return prefix + str((self.base_dir / uri[len(prefix) :]).resolve())
        return uri

    @property
    def registry_server(self) -> bool:
        """The registry is an MLflow server, which verifies who acts (else the embedded store: no login)."""
        return self.tracking_uri.startswith(("http://", "https://"))


def _format_errors(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key"
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def config_path(path: str | os.PathLike | None = None) -> Path:
    """The config file to use: the argument, else `$MODELGUARD_CONFIG`, else the packaged default."""
    chosen = path or os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_PATH
    return Path(chosen).expanduser().resolve()


def parse_config(data: dict, base_dir: Path, source: str = "config") -> PipelineConfig:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level, got {type(data).__name__}")
    if "base_dir" in data:
        raise ConfigError(f"{source}: invalid configuration\n  base_dir: unknown key")
    try:
        return PipelineConfig(**data, base_dir=base_dir)
    except ValidationError as error:
        raise ConfigError(f"{source}: invalid configuration\n{_format_errors(error)}") from None


def load_config(path: str | os.PathLike | None = None) -> PipelineConfig:
    """Load and validate the pipeline config (see `config_path` for which file)."""
    source = config_path(path)
    if not source.is_file():
        raise ConfigError(f"config file not found: {source} (set ${CONFIG_ENV_VAR} or pass --config)")
    try:
        data = yaml.safe_load(source.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{source}: not valid YAML: {error}") from None
    return with_reference_classes(parse_config(data, base_dir=source.parent, source=str(source)))


def with_reference_classes(config: PipelineConfig) -> PipelineConfig:
    """A multiclass config without `model.classes` gets those `modelguard init` found in the reference data
    (kept in the reference profile); unchanged when they are listed, or init has not run yet."""
    if config.model.task != "multiclass_classification" or config.model.classes is not None:
        return config
    from modelguard.storage import Lake  # only here: this module is imported by light code

    lake = Lake(config.storage_root)
    classes = (lake.read_json(lake.reference_profile, {}) or {}).get("classes")
    return config.model_copy(update={"model": config.model.model_copy(update={"classes": classes})}) if classes \
        else config
