"""Run once before `mlflow server --app-name modelguard` (scripts/up.sh, docker-compose's mlflow service), in the
server's environment: check the Flask secret key, migrate the users DB, create the admin and, when
MODELGUARD_MLFLOW_PIPELINE_PASSWORD is set, the pipeline's account, in one process.

`mlflow server` does this itself for `--app-name basic-auth` only. For any other app name each uvicorn worker does
it at import, all at once: on a new users DB they race (one dies with "table ... already exists" or a duplicate
user, and uvicorn restarts it), and a bad setting (a short admin password) is an endless loop of worker restarts
instead of one error. Done here first, the workers find the DB migrated and the accounts there.
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    from mlflow.server.auth import bootstrap_admin_user, get_flask_server_secret_key, store

    from modelguard.config import CONFIG_ENV_VAR
    from modelguard.registry_server import PIPELINE_PASSWORD_ENV, Policies, ensure_pipeline_users

    try:
        get_flask_server_secret_key()
        bootstrap_admin_user()
        created = ensure_pipeline_users(Policies(os.environ.get(CONFIG_ENV_VAR)), store,
                                        os.environ.get(PIPELINE_PASSWORD_ENV))
    except Exception as error:  # noqa: BLE001 - one sentence, not a traceback, for a setting to fix
        print(f"registry server set-up failed: {error}", file=sys.stderr)
        return 1
    for name in created:
        print(f"created the pipeline's MLflow account {name!r} (not an admin)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
