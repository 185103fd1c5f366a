"""`make install` on a machine that has only python3: no uv on PATH, no pyenv shims, a fresh HOME.

Runs the real Makefile in a copy of the project's tracked files, under `env -i`. The one thing shared
with this machine is uv's download cache (wheels only: it cannot hide a missing install step, and it
keeps the test from downloading the stack again).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]


def _tracked_copy(destination: Path) -> None:
    files = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        source = PROJECT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)


def test_make_install_needs_only_python3(tmp_path: Path) -> None:
    project, home, bin_dir = tmp_path / "project", tmp_path / "home", tmp_path / "bin"
    for folder in (project, home, bin_dir):
        folder.mkdir()
    _tracked_copy(project)
    # PATH: a python3 (the base interpreter, not a venv or a shim) and the system's basic tools.
    (bin_dir / "python3").symlink_to(Path(sys._base_executable).resolve())
    path = os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
    assert shutil.which("uv", path=path) is None, "the clean PATH must not have uv"
    cache = Path(os.environ.get("UV_CACHE_DIR") or Path.home() / ".cache" / "uv")
    env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}
    if cache.is_dir():
        env["UV_CACHE_DIR"] = str(cache)

    done = subprocess.run(["env", "-i", *(f"{k}={v}" for k, v in env.items()), "make", "install"],
                          cwd=project, capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    venv_python = project / ".venv" / "bin" / "python"
    check = subprocess.run(
        [str(venv_python), "-c", "import airflow.sdk, mlflow, great_expectations, evidently, modelguard, sys; "
         "print(sys.prefix)"], capture_output=True, text=True, env={**env, "AIRFLOW_HOME": str(tmp_path / "af")},
        timeout=300)
    assert check.returncode == 0, check.stderr[-3000:]
    assert Path(check.stdout.strip().splitlines()[-1]).resolve() == (project / ".venv").resolve()
    cli = subprocess.run([str(project / ".venv" / "bin" / "modelguard"), "--help"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert cli.returncode == 0 and "replay" in cli.stdout, cli.stderr[-2000:]
