"""docker-compose's production topology, run natively for tests: PostgreSQL (Airflow's metadata DB and
MLflow's backend store), Redis (Celery broker), an MLflow server with basic auth, and Airflow's
api-server, scheduler, dag-processor, triggerer and Celery workers, each on a free 127.0.0.1 port, in its
own process group, with its log in the work folder.

The Airflow settings come from docker/airflow.env, the file the compose stack reads (`env_file:`); this
harness adds only loopback addresses, ports, paths, per-run random secrets and test speed-ups.

    stack = LiveStack(folder)                       # ports are chosen here: stack.mlflow_uri is known now
    config = write_config(..., mlflow={"tracking_uri": stack.mlflow_uri})
    stack.config_file = config
    with stack:                                     # start(): everything healthy, stop() on exit
        run_id = stack.trigger("modelguard_ingest", conf={"batch_id": "2026-09-01"})
        stack.wait_run("modelguard_ingest", run_id, timeout=120)

`start()` = `start_backends()` (Postgres, Redis, MLflow; the Airflow DB migration starts in the
background) + `start_airflow()`: a test that needs the MLflow server before it can write its pipeline
config (the first champion is registered through it) calls the two halves itself.

Plain Python: no pytest in here. Needs Debian's postgresql and redis-server (scripts/install_stack.sh).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import glob
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
SETTINGS_FILE = PROJECT / "docker" / "airflow.env"
MLFLOW_AUTH_FILE = PROJECT / "docker" / "mlflow_auth.ini"  # compose's MLflow auth settings
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
DONE_STATES = ("success", "failed")


def read_env_file(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """KEY=value lines of a compose env file (comments and blank lines skipped, no quoting)."""
    settings = {}
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"{path}: not a KEY=value line: {line!r}")
            settings[key.strip()] = value.strip()
    return settings


def read_mlflow_auth_file(path: Path = MLFLOW_AUTH_FILE) -> dict[str, str]:
    """The [mlflow] settings of compose's MLflow auth file (docker/mlflow_auth.ini)."""
    import configparser

    parser = configparser.ConfigParser()
    parser.read(path)
    return dict(parser["mlflow"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _venv_bin() -> Path:
    venv = PROJECT / ".venv" / "bin"
    return venv if (venv / "airflow").exists() else Path(sys.executable).parent


def _postgres_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise RuntimeError("PostgreSQL server binaries not found: run scripts/install_stack.sh")


def _runuser() -> str:
    """util-linux's runuser, which lives in sbin: a PATH without sbin (env -i, some CI shells) still finds it."""
    found = shutil.which("runuser") or next((p for p in ("/usr/sbin/runuser", "/sbin/runuser") if Path(p).exists()),
                                            None)
    if found is None:
        raise RuntimeError("runuser not found (util-linux): needed to run PostgreSQL as the postgres user")
    return found


@contextlib.contextmanager
def one_stack_at_a_time() -> Iterator[None]:
    """Hold the machine's live-stack lock: test files that each run the whole topology take turns (their xdist
    workers block here), since two stacks on two cores squeeze the live test's rehearsed 90-second days."""
    path = Path(tempfile.gettempdir()) / f"modelguard-live-stack-{os.getuid()}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class StackError(RuntimeError):
    """A component did not start or did not become healthy; the message carries the log tails."""


class LiveStack:
    """One native production-like stack in `folder`; see the module docstring.

    Ports (`ports` overrides any of them): postgres, redis, mlflow, api, scheduler_health. URIs:
    `mlflow_uri`, `api_url`, `broker_url`, `airflow_db_uri`, `mlflow_db_uri`. Logins: `airflow_user` /
    `airflow_password` (Airflow UI and REST API), `mlflow_user` / `mlflow_password` (MLflow admin),
    `pipeline_user` / `pipeline_password` (the MLflow account every task and pipeline CLI logs in as; created by the
    server app, never an admin), `approver` (a person in the config's `approval.approvers`: `add_person`)."""

    SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")

    def __init__(self, folder: Path | str, config_file: Path | str | None = None, env: dict[str, str] | None = None,
                 *, workers: int = 2, concurrency: int = 2, ports: dict[str, int] | None = None,
                 fast: bool = True) -> None:
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.logs = self.folder / "logs"
        self.logs.mkdir(exist_ok=True)
        self.config_file = Path(config_file) if config_file else None
        self.extra_env = dict(env or {})
        self.workers, self.concurrency, self.fast = workers, concurrency, fast
        self.settings = read_env_file(SETTINGS_FILE)
        self.bin = _venv_bin()
        self.pg_bin = None  # found at start: a harness can be built (ports, URIs) without PostgreSQL
        self.root = os.geteuid() == 0
        self._procs: dict[str, subprocess.Popen] = {}
        self._migrate: subprocess.Popen | None = None
        self._own_pg_dir: Path | None = None
        self._token: tuple[str, float] | None = None
        self._celery = None
        # Per-run secrets: nothing is committed, nothing outlives the run.
        self.airflow_user, self.airflow_password = "admin", secrets.token_urlsafe(16)
        self.mlflow_user, self.mlflow_password = "admin", secrets.token_urlsafe(18)
        self.pipeline_user, self.pipeline_password = "modelguard", secrets.token_urlsafe(18)
        self.people: dict[str, str] = {}  # MLflow accounts of people (add_person): name -> password
        self.db_passwords = {"airflow": secrets.token_hex(16), "mlflow": secrets.token_hex(16)}
        self.jwt_secret = secrets.token_urlsafe(32)
        self.fernet_key = base64.urlsafe_b64encode(os.urandom(32)).decode()
        self.flask_secret = secrets.token_urlsafe(32)
        self.ports: dict[str, int] = {}
        self.allocate(ports)

    # --- addresses ------------------------------------------------------------------------------
    def allocate(self, ports: dict[str, int] | None = None) -> dict[str, int]:
        """Choose a free loopback port for every listener (idempotent; given ports are kept)."""
        for name in ("postgres", "redis", "mlflow", "api", "scheduler_health"):
            if name in (ports or {}):
                self.ports[name] = int(ports[name])
            self.ports.setdefault(name, free_port())
        return dict(self.ports)

    @property
    def mlflow_uri(self) -> str:
        return f"http://127.0.0.1:{self.ports['mlflow']}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['api']}"

    @property
    def broker_url(self) -> str:
        return f"redis://127.0.0.1:{self.ports['redis']}/0"

    def _db_uri(self, db: str) -> str:
        # the driver named: SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3, which is not installed
        return f"postgresql+psycopg2://{db}:{self.db_passwords[db]}@127.0.0.1:{self.ports['postgres']}/{db}"

    @property
    def airflow_db_uri(self) -> str:
        return self._db_uri("airflow")

    @property
    def mlflow_db_uri(self) -> str:
        return self._db_uri("mlflow")

    def worker_name(self, index: int) -> str:
        return f"modelguard-worker{index}@127.0.0.1"

    @property
    def auth_manager(self) -> str:
        return self.airflow_env().get("AIRFLOW__CORE__AUTH_MANAGER", "")

    def mlflow_env(self) -> dict[str, str]:
        """What a pipeline process (init, replay, a benchmark) needs to talk to the MLflow server: the pipeline's
        own account, as the tasks use, never the admin."""
        return {"MLFLOW_TRACKING_URI": self.mlflow_uri, "MLFLOW_TRACKING_USERNAME": self.pipeline_user,
                "MLFLOW_TRACKING_PASSWORD": self.pipeline_password}

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW_", "AIRFLOW__", "MLFLOW_", "MODELGUARD_CONFIG"))}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env.update(DO_NOT_TRACK="true", MLFLOW_DISABLE_TELEMETRY="true", GX_ANALYTICS_ENABLED="false",
                   MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR="false", PYTHONUNBUFFERED="1")
        return env

    def airflow_env(self) -> dict[str, str]:
        """Every Airflow process's environment: docker/airflow.env + local addresses, secrets, test speed-ups,
        then the test's own `env`."""
        api = self.api_url
        env = {**self._base_env(), **self.settings}
        env.update({
            "AIRFLOW_HOME": str(self.folder / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT / "plugins"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.airflow_db_uri,
            "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + self._db_uri("airflow"),
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.concurrency),
            "AIRFLOW__CORE__FERNET_KEY": self.fernet_key,
            "AIRFLOW__API_AUTH__JWT_SECRET": self.jwt_secret,
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.ports["api"]),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(self.ports["scheduler_health"]),
            "MLFLOW_TRACKING_USERNAME": self.pipeline_user,  # compose's tasks too: never the MLflow admin
            "MLFLOW_TRACKING_PASSWORD": self.pipeline_password,
        })
        if self.config_file:
            env["MODELGUARD_CONFIG"] = str(Path(self.config_file).resolve())
        if self.fast:  # a test waits on these loops; production keeps docker/airflow.env's values
            env.update({
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "30",  # new files: refresh_interval
                "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "2",
                # a killed worker's task is noticed (and retried) in seconds, not 5 minutes
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "AIRFLOW__CORE__PARALLELISM": str(max(4, self.workers * self.concurrency)),
            })
        env.update(self.extra_env)
        return env

    # --- processes ------------------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:
            log.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       env=env, cwd=self.folder, start_new_session=True)
        self._procs[name] = process
        return process

    def _as_postgres(self, argv: list[str]) -> list[str]:
        return [_runuser(), "-u", "postgres", "--", *argv] if self.root else argv

    def _signal_group(self, process: subprocess.Popen, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)

    def _stop(self, names: Iterable[str], first: int = signal.SIGTERM, grace: float = 5.0) -> None:
        """Signal each process group, give them `grace` seconds, then SIGKILL the groups."""
        stopping = [(name, self._procs.pop(name)) for name in list(names) if name in self._procs]
        for _, process in stopping:
            self._signal_group(process, first)
        deadline = time.monotonic() + grace
        for _, process in stopping:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
        for _, process in stopping:
            self._signal_group(process, signal.SIGKILL)  # stragglers of the group, even if the leader left
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)

    def _check_alive(self, *names: str) -> None:
        for name in names:
            process = self._procs.get(name)
            if process is not None and process.poll() is not None:
                raise StackError(f"{name} exited with {process.returncode}\n{self.logs_tail([name])}")

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float, watch: Iterable[str] = ()) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive(*watch)
            try:
                if ready():
                    return
            except Exception:  # noqa: BLE001 - not up yet, whatever the reason
                pass
            if time.monotonic() > deadline:
                raise StackError(f"{what} not ready after {timeout:.0f} s\n{self.logs_tail(list(watch) or None)}")
            time.sleep(0.5)

    # --- PostgreSQL -----------------------------------------------------------------------------
    def _pg_dir(self) -> Path:
        """The data + socket folder: inside the work folder when the postgres user can reach it; as root in
        a pytest tmp dir (0700 ancestors), a private folder under /tmp instead, removed by stop()."""
        inside = self.folder / "postgres"
        if not self.root or subprocess.run(self._as_postgres(["test", "-x", str(self.folder)]),
                                           capture_output=True).returncode == 0:
            inside.mkdir(exist_ok=True)
            return inside
        self._own_pg_dir = Path(tempfile.mkdtemp(prefix="modelguard-pg-"))
        (self.folder / "postgres.where").write_text(f"{self._own_pg_dir}\n")
        return self._own_pg_dir

    def _start_postgres(self) -> None:
        self.pg_bin = _postgres_bin()
        base = self._pg_dir()
        data, sockets = base / "data", base / "sockets"
        sockets.mkdir(exist_ok=True)
        if self.root:
            shutil.chown(base, "postgres")
            shutil.chown(sockets, "postgres")
        self.pg_socket_dir = sockets
        fresh = not (data / "PG_VERSION").exists()
        if fresh:
            with open(self.logs / "initdb.log", "wb") as log:
                subprocess.run(self._as_postgres([str(self.pg_bin / "initdb"), "-D", str(data), "-U", "postgres",
                                                  "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8",
                                                  "--locale=C", "--no-sync"]),
                               stdout=log, stderr=subprocess.STDOUT, check=True, cwd="/", timeout=120)
        self._spawn("postgres", self._as_postgres([
            str(self.pg_bin / "postgres"), "-D", str(data), "-p", str(self.ports["postgres"]), "-k", str(sockets),
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300", "-c", "fsync=off",
            "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]), self._base_env())
        self._wait("postgres", self._pg_ready, 60, ["postgres"])
        if fresh:
            statements = []
            for db, password in self.db_passwords.items():
                statements += ["-c", f"CREATE USER {db} WITH PASSWORD '{password}'",
                               "-c", f"CREATE DATABASE {db} OWNER {db}"]
            subprocess.run([str(self.pg_bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", str(sockets),
                            "-p", str(self.ports["postgres"]), "-U", "postgres", "-d", "postgres", *statements],
                           check=True, capture_output=True, timeout=60)

    def _pg_ready(self) -> bool:
        return subprocess.run([str(self.pg_bin / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                               str(self.ports["postgres"])], timeout=10).returncode == 0

    # --- Redis ----------------------------------------------------------------------------------
    def _start_redis(self) -> None:
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        (self.folder / "redis").mkdir(exist_ok=True)
        self._spawn("redis", [server, "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                              "--appendonly", "no", "--dir", str(self.folder / "redis")], self._base_env())

    def redis_ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.ports["redis"]), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")

    # --- MLflow ---------------------------------------------------------------------------------
    def _mlflow_env(self) -> dict[str, str]:
        ini = self.folder / "mlflow_auth.ini"
        if not ini.exists():  # users live beside the tracking tables (own alembic table) in the mlflow DB
            # compose's settings, with this stack's user store and admin
            settings = {**read_mlflow_auth_file(), "database_uri": self.mlflow_db_uri,
                        "admin_username": self.mlflow_user}
            ini.write_text("[mlflow]\n" + "".join(f"{key} = {value}\n" for key, value in settings.items()))
            ini.chmod(0o600)
        env = {**self._base_env(), "MLFLOW_AUTH_CONFIG_PATH": str(ini),
               "MLFLOW_FLASK_SERVER_SECRET_KEY": self.flask_secret,
               "MLFLOW_AUTH_ADMIN_USERNAME": self.mlflow_user, "MLFLOW_AUTH_ADMIN_PASSWORD": self.mlflow_password,
               "MODELGUARD_MLFLOW_PIPELINE_PASSWORD": self.pipeline_password,  # the app creates the pipeline's user
               "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        if self.config_file:  # the approval rules (approval.approvers), read again when the file changes
            env["MODELGUARD_CONFIG"] = str(Path(self.config_file).resolve())
        return env

    def start_mlflow(self, timeout: float = 180) -> None:
        if "mlflow" in self._procs:
            return
        self._spawn("mlflow", [str(self.bin / "mlflow"), "server", "--app-name", "modelguard",
                               "--backend-store-uri", self.mlflow_db_uri,
                               "--artifacts-destination", str(self.folder / "mlartifacts"), "--serve-artifacts",
                               "--host", "127.0.0.1", "--port", str(self.ports["mlflow"]), "--workers", "1"],
                    self._mlflow_env())
        self._wait("mlflow server", lambda: self._get_ok(f"{self.mlflow_uri}/health"), timeout, ["mlflow"])

    def stop_mlflow(self) -> None:
        self._stop(["mlflow"])

    def restart_mlflow(self, timeout: float = 180) -> None:
        """Stop the MLflow server and start it again on the same port (same store, same users)."""
        self.stop_mlflow()
        self.start_mlflow(timeout)

    # --- Airflow --------------------------------------------------------------------------------
    def _airflow(self, *args: str) -> list[str]:
        return [str(self.bin / "airflow"), *args]

    def _start_migration(self) -> None:
        (self.folder / "airflow").mkdir(exist_ok=True)
        # as compose's airflow-init: `airflow db migrate` + the pools the DAGs use
        self._migrate = self._spawn("migrate", [str(self.bin / "modelguard"), "airflow-setup"], self.airflow_env())

    def _finish_migration(self, timeout: float = 300) -> None:
        if self._migrate is None:
            self._start_migration()
        try:
            code = self._migrate.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StackError(f"modelguard airflow-setup took over {timeout} s\n{self.logs_tail(['migrate'])}") from None
        self._procs.pop("migrate", None)
        if code != 0:
            raise StackError(f"modelguard airflow-setup failed ({code})\n{self.logs_tail(['migrate'])}")

    def _create_login(self) -> subprocess.Popen | None:
        """The Airflow admin login: a FAB user (a CLI process, waited for later), or SimpleAuthManager's file."""
        if self.auth_manager == FAB_AUTH_MANAGER:
            return self._spawn("users-create", self._airflow(
                "users", "create", "--role", "Admin", "--username", self.airflow_user,
                # `=`: a generated password may start with "-", which argparse would take for an option
                f"--password={self.airflow_password}", "--firstname", "Live", "--lastname", "Stack",
                "--email", "live@example.com"),
                self.airflow_env())
        home = self.folder / "airflow"
        passwords = home / "simple_auth_manager_passwords.json.generated"
        passwords.write_text(json.dumps({self.airflow_user: self.airflow_password}))
        passwords.chmod(0o600)
        self.extra_env.setdefault("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS", f"{self.airflow_user}:admin")
        return None

    def start_worker(self, index: int, timeout: float = 120) -> None:
        name = f"worker{index}"
        self._spawn(name, self._airflow("celery", "worker", "--celery-hostname", self.worker_name(index),
                                        "--concurrency", str(self.concurrency), "--skip-serve-logs"),
                    self.airflow_env())
        self._wait(f"celery {name}", lambda: self.worker_alive(index), timeout, [name])

    def kill_worker(self, index: int) -> None:
        """SIGKILL one Celery worker's whole process group (the worker, its pool and its task processes): a crash."""
        process = self._procs.pop(f"worker{index}")
        self._signal_group(process, signal.SIGKILL)
        process.wait(timeout=30)

    def freeze_worker(self, index: int, frozen: bool = True) -> None:
        """SIGSTOP (or SIGCONT) one Celery worker's whole process group: its task processes stop where they are."""
        self._signal_group(self._procs[f"worker{index}"], signal.SIGSTOP if frozen else signal.SIGCONT)

    def worker_running(self, dag_id: str) -> tuple[int, dict] | None:
        """(worker index, task instance) of a task of `dag_id` a Celery worker is executing now, if any.
        The Celery executor sends each workload as one JSON argument: {"ti": {"dag_id", "task_id", ...}, ...}."""
        if self._celery is None:
            self.worker_alive(0)
        names = {self.worker_name(i): i for i in range(self.workers)}
        # limit: return as soon as every worker replied, not after the whole timeout
        active = self._celery.control.inspect(destination=list(names), timeout=1.0, limit=len(names)).active() or {}
        for name, tasks in active.items():
            for item in tasks:
                args = item.get("args") or []
                try:
                    ti = json.loads(args[0]).get("ti") or {}
                except (IndexError, TypeError, ValueError, AttributeError):
                    continue
                if ti.get("dag_id") == dag_id and name in names:
                    return names[name], ti
        return None

    def worker_alive(self, index: int) -> bool:
        if self._celery is None:
            from celery import Celery

            self._celery = Celery("modelguard-live-stack", broker=self.broker_url)
        name = self.worker_name(index)
        return any(name in reply for reply in self._celery.control.ping(destination=[name], timeout=1.0) or [])

    def start_airflow(self, timeout: float = 300) -> None:
        """Migrate (if start_backends did not already), create the login, start api-server, scheduler,
        dag-processor, triggerer and the Celery workers, and wait until all of them are healthy."""
        if self.config_file and not Path(self.config_file).exists():
            raise StackError(f"pipeline config {self.config_file} does not exist yet (the DAGs read it when parsed)")
        self._finish_migration(timeout)
        login = self._create_login()
        env = self.airflow_env()
        self._spawn("scheduler", self._airflow("scheduler"), env)
        self._spawn("dag-processor", self._airflow("dag-processor"), env)
        self._spawn("triggerer", self._airflow("triggerer", "--skip-serve-logs"), env)
        for index in range(self.workers):
            self._spawn(f"worker{index}", self._airflow(
                "celery", "worker", "--celery-hostname", self.worker_name(index),
                "--concurrency", str(self.concurrency), "--skip-serve-logs"), env)
        workers = [f"worker{i}" for i in range(self.workers)]
        if login is not None:
            # before the api-server: both sync FAB's permission tables at start and race on its unique keys
            try:
                code = login.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                code = None
            self._procs.pop("users-create", None)
            if code != 0:
                raise StackError(f"creating the Airflow admin failed ({code})\n{self.logs_tail(['users-create'])}")
        self._spawn("api-server", self._airflow("api-server", "--host", "127.0.0.1", "--port",
                                                str(self.ports["api"])), env)
        self._wait("Airflow health (scheduler, triggerer, dag-processor)", self._airflow_healthy, timeout,
                   [*self.SERVICES, *workers])
        for index in range(self.workers):
            self._wait(f"celery worker{index}", lambda i=index: self.worker_alive(i), timeout, workers)
        self.api("GET", "/api/v2/version")  # the login works

    def airflow_health(self) -> dict:
        with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
            return json.load(response)

    def _airflow_healthy(self) -> bool:
        health = self.airflow_health()
        return all((health.get(part) or {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "triggerer", "dag_processor"))

    # --- whole stack ----------------------------------------------------------------------------
    def start_backends(self, timeout: float = 180) -> None:
        """Postgres, Redis and MLflow, healthy; Airflow's DB migration starts in the background."""
        try:
            self._start_postgres()
            self._start_redis()
            self._start_migration()
            self.start_mlflow(timeout)
            self._wait("redis", self.redis_ping, 30, ["redis"])
        except BaseException:
            self.stop()
            raise

    def start(self, timeout: float = 300) -> LiveStack:
        """Everything, healthy; on any failure every started process is stopped before the error rises."""
        try:
            if "postgres" not in self._procs:
                self.start_backends(timeout)
            self.start_airflow(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process group this harness started (always safe to call again)."""
        self._stop([name for name in self._procs if name not in ("redis", "postgres")])
        self._stop(["redis"], grace=3)
        self._stop(["postgres"], first=signal.SIGINT, grace=10)  # SIGINT: fast shutdown
        if self._own_pg_dir is not None:
            shutil.rmtree(self._own_pg_dir, ignore_errors=True)
            self._own_pg_dir = None
        self._token = None

    def __enter__(self) -> LiveStack:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def running(self) -> list[str]:
        return [name for name, process in self._procs.items() if process.poll() is None]

    def logs_tail(self, names: list[str] | None = None, lines: int = 25) -> str:
        """The last lines of each component's log (all of them by default), for assertion messages."""
        files = [self.logs / f"{name}.log" for name in names] if names else sorted(self.logs.glob("*.log"))
        parts = []
        for path in files:
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                parts.append(f"--- {path.name}\n" + "\n".join(tail))
        return "\n".join(parts)

    # --- Airflow REST API v2 --------------------------------------------------------------------
    @staticmethod
    def _get_ok(url: str) -> bool:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200

    def _jwt(self) -> str:
        if self._token is None or self._token[1] < time.time() + 60:
            body = json.dumps({"username": self.airflow_user, "password": self.airflow_password}).encode()
            request = urllib.request.Request(f"{self.api_url}/auth/token", data=body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                token = json.load(response)["access_token"]
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
            self._token = (token, float(claims.get("exp", time.time() + 300)))
        return self._token[0]

    def add_airflow_user(self, name: str, role: str) -> str:
        """A FAB login with `role` (Viewer, User, Op, Admin): what an Airflow admin creates; returns its password."""
        password = secrets.token_urlsafe(16)
        subprocess.run(self._airflow("users", "create", "--role", role, "--username", name, f"--password={password}",
                                     "--firstname", name, "--lastname", "Live", "--email", f"{name}@example.com"),
                       env=self.airflow_env(), check=True, capture_output=True, timeout=300)
        return password

    def api_as(self, user: str, password: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """One REST call as another Airflow login: (status, body), a refusal included."""
        request = urllib.request.Request(f"{self.api_url}/auth/token", method="POST",
                                         data=json.dumps({"username": user, "password": password}).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            token = json.load(response)["access_token"]
        request = urllib.request.Request(f"{self.api_url}{path}", method=method,
                                         data=None if body is None else _dumps(body), headers={
                                             "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                return response.status, _loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def api(self, method: str, path: str, json_body: Any = None, *, json: Any = None, ok404: bool = False) -> Any:
        """Call Airflow's REST API as the admin (JWT from /auth/token, renewed when it expires)."""
        body = json if json is not None else json_body
        data = None if body is None else _dumps(body)
        for attempt in (1, 2):
            request = urllib.request.Request(f"{self.api_url}{path}", data=data, method=method, headers={
                "Authorization": f"Bearer {self._jwt()}", "Content-Type": "application/json",
                "Accept": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    raw = response.read()
                    return _loads(raw) if raw else None
            except urllib.error.HTTPError as error:
                if error.code == 401 and attempt == 1:
                    self._token = None
                    continue
                if error.code == 404 and ok404:
                    return None
                raise StackError(f"{method} {path} -> {error.code}: {error.read()[:2000]!r}") from None
        raise AssertionError("unreachable")

    def add_person(self, name: str, model: str, permission: str = "EDIT") -> str:
        """An MLflow account for a person, with `permission` on registered model `model` (what an admin does in
        MLflow's user admin); returns its password. Whether they may approve is the config's `approval.approvers`."""
        if name not in self.people:
            password = secrets.token_urlsafe(18)
            admin = {"Authorization": "Basic " + base64.b64encode(
                f"{self.mlflow_user}:{self.mlflow_password}".encode()).decode(), "Content-Type": "application/json"}
            for path, body in (("api/2.0/mlflow/users/create", {"username": name, "password": password}),
                               ("api/3.0/mlflow/users/permissions/grant",
                                {"username": name, "resource_type": "registered_model", "resource_id": model,
                                 "permission": permission})):
                request = urllib.request.Request(f"{self.mlflow_uri}/{path}", method="POST", headers=admin,
                                                 data=json.dumps(body).encode())
                with urllib.request.urlopen(request, timeout=30) as response:
                    assert response.status == 200, path
            self.people[name] = password
        return self.people[name]

    def set_version_tag(self, name: str, version: str, key: str, value: str, *, user: str | None = None,
                        api: str = "api") -> tuple[int, str]:
        """What the MLflow UI does when a person sets a tag on a model version: one REST call, basic auth, as
        `user` (a person from `add_person`, or the pipeline's account; default: the first person added).
        Returns (status, body): the registry server refuses some (403, with its sentence)."""
        user = user or next(iter(self.people))
        password = self.pipeline_password if user == self.pipeline_user else self.people[user]
        request = urllib.request.Request(
            f"{self.mlflow_uri}/{api}/2.0/mlflow/model-versions/set-tag", method="POST",
            data=json.dumps({"name": name, "version": version, "key": key, "value": value}).encode(),
            headers={"Content-Type": "application/json", "Authorization": "Basic " + base64.b64encode(
                f"{user}:{password}".encode()).decode()})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def unpause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})

    def pause(self, dag_id: str) -> None:
        self.api("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def trigger(self, dag_id: str, conf: dict | None = None, logical_date: str | None = None,
                run_after: str | None = None) -> str:
        """A manual run; its id. `run_after` (ISO time, default now) also orders it among queued runs: the
        scheduler starts the earliest first when `max_active_runs` holds the others back."""
        body = {"logical_date": logical_date, "conf": conf or {}}
        if run_after:
            body["run_after"] = run_after
        return self.api("POST", f"/api/v2/dags/{dag_id}/dagRuns", body)["dag_run_id"]

    def backfill(self, dag_id: str, from_date: str, to_date: str, reprocess: str = "none") -> dict:
        """Airflow's own backfill over [from_date, to_date] (logical dates), as the UI's "Backfill" creates it."""
        return self.api("POST", "/api/v2/backfills", {
            "dag_id": dag_id, "from_date": from_date, "to_date": to_date, "reprocess_behavior": reprocess,
            "max_active_runs": 1, "run_backwards": False, "dag_run_conf": {}})

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        path = (f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances/"
                f"{task_id}/xcomEntries/{key}?deserialize=true")
        return self.api("GET", path)["value"]

    def import_errors(self) -> list[dict]:
        return self.api("GET", "/api/v2/importErrors")["import_errors"]

    def wait_dag_parsed(self, dag_ids: Iterable[str], timeout: float = 120) -> None:
        missing = list(dag_ids)
        deadline = time.monotonic() + timeout
        while missing:
            missing = [d for d in missing if self.api("GET", f"/api/v2/dags/{d}", ok404=True) is None]
            if not missing:
                return
            if time.monotonic() > deadline:
                raise StackError(f"DAGs not parsed after {timeout:.0f} s: {missing}; import errors: "
                                 f"{self.import_errors()}\n{self.logs_tail(['dag-processor'])}")
            self._check_alive(*self.SERVICES)
            time.sleep(1)

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=run_after&limit=100")["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances?limit=100"
        return self.api("GET", path)["task_instances"]

    def wait_run(self, dag_id: str, run_id: str, timeout: float = 300) -> dict:
        """Wait until the run is finished (success or failed) and return it; StackError on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            run = self.run(dag_id, run_id)
            if run["state"] in DONE_STATES:
                return run
            if time.monotonic() > deadline:
                states = {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}
                raise StackError(f"{dag_id} {run_id} still {run['state']} after {timeout:.0f} s: {states}\n"
                                 f"{self.logs_tail(['scheduler', 'worker0', 'worker1'])}")
            time.sleep(1)

    def wait_for_run(self, dag_id: str, timeout: float = 300, where: Callable[[dict], bool] | None = None) -> dict:
        """Wait for a run of `dag_id` (the first one `where` accepts) to appear, e.g. an asset-triggered one."""
        deadline = time.monotonic() + timeout
        while True:
            found = [run for run in self.runs(dag_id) if where is None or where(run)]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                raise StackError(f"no run of {dag_id} after {timeout:.0f} s\n{self.logs_tail(['scheduler'])}")
            time.sleep(1)


def _dumps(value: Any) -> bytes:
    return json.dumps(value).encode()


def _loads(raw: bytes) -> Any:
    return json.loads(raw)
