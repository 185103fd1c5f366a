"""Airflow UI plugin: the "Model health" page, served under /modelguard and listed in the Airflow nav.

Wiring only: what the page shows comes from `modelguard.health_page`. Airflow imports this file in
the api-server, the scheduler, the DAG processor and task runners, so importing it costs nothing:
FastAPI, pandas, plotly and MLflow are imported on the first request to the page.

Airflow does not protect a plugin's endpoints. Every route here checks the caller's Airflow JWT (the
UI's `_token` cookie, or `Authorization: Bearer <jwt>` from an API client) with the auth manager
Airflow's own API uses, and the user must be allowed to view the Airflow website. Without a valid
token a browser is sent to the login page and any other client gets 401.
"""

# No `from __future__ import annotations`: FastAPI reads the route signatures' types, imported inside create_app.
import os
from pathlib import Path

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/modelguard"
MLFLOW_UI_ENV = "MODELGUARD_MLFLOW_UI"
_ICON = """<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#017cee"
stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M3 12h4l3-8 4 16 3-8h4"/></svg>"""


def mlflow_ui_url(config) -> str:
    """$MODELGUARD_MLFLOW_UI, else the one messages link to (`notifications.mlflow_ui_url`, else an http
    tracking server), else MLflow's default local UI."""
    from modelguard.health_page import DEFAULT_MLFLOW_UI
    from modelguard.notify import mlflow_ui_url as configured_ui

    return os.environ.get(MLFLOW_UI_ENV) or configured_ui(config) or DEFAULT_MLFLOW_UI


class NotAuthenticated(Exception):
    """No Airflow token, or one that is expired, revoked or not signed by this Airflow."""


async def current_user(request):
    """The Airflow user behind the request's token (header first, then the UI's cookie), or refuse."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.base_auth_manager import COOKIE_NAME_JWT_TOKEN
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from fastapi import HTTPException
    from jwt import InvalidTokenError

    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    token = credentials.strip() if scheme.lower() == "bearer" else request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if not token:
        raise NotAuthenticated("not authenticated")
    manager = get_auth_manager()
    try:
        user = await manager.get_user_from_token(token)
    except InvalidTokenError as error:
        raise NotAuthenticated(f"invalid token: {type(error).__name__}") from None
    if not manager.is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(status_code=403, detail="not allowed to view this Airflow")
    return user


def create_app():
    """The FastAPI app behind /modelguard (built on the first request, see `_LazyApp`)."""
    from fastapi import Depends, FastAPI, HTTPException, Request
    from fastapi.responses import (
        FileResponse,
        HTMLResponse,
        JSONResponse,
        PlainTextResponse,
        RedirectResponse,
        Response,
    )

    from modelguard import health_page
    from modelguard.config import ConfigError, load_config

    async def user(request: Request):
        return await current_user(request)

    # No docs or OpenAPI routes: they would be the only unauthenticated endpoints.
    app = FastAPI(title="modelguard model health", docs_url=None, redoc_url=None, openapi_url=None,
                  dependencies=[Depends(user)])
    private = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}

    @app.exception_handler(NotAuthenticated)
    async def _refuse(request: Request, error: NotAuthenticated):
        from airflow.api_fastapi.app import get_auth_manager

        wants_page = "text/html" in request.headers.get("accept", "") and "/api/" not in request.url.path
        if request.method == "GET" and wants_page:
            return RedirectResponse(get_auth_manager().get_url_login(next_url=str(request.url)), status_code=303)
        return JSONResponse({"detail": str(error)}, status_code=401, headers={"WWW-Authenticate": "Bearer"})

    @app.exception_handler(ConfigError)
    async def _bad_config(request: Request, error: ConfigError):
        # Only callers that passed the token check get here (dependencies run before the route).
        return PlainTextResponse(f"modelguard cannot load its pipeline config:\n{error}", status_code=503)

    def _data() -> dict:
        config = load_config()
        return health_page.page_data(config, mlflow_ui=mlflow_ui_url(config))

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        return HTMLResponse(health_page.render_page(_data()), headers=private)

    @app.get("/api/health")
    def health() -> JSONResponse:
        return JSONResponse(_data(), headers=private)

    @app.get("/files/{path:path}")
    def report(path: str) -> FileResponse:
        root = load_config().storage_root
        found = health_page.report_file(root, path)
        if found is None:
            raise HTTPException(status_code=404, detail="no such report")
        headers = {**private, **health_page.LAKE_FILE_HEADERS}
        if found.suffix == ".html" and path.startswith("reports/"):
            from modelguard.evidently_html import with_library_inline

            # a day's Evidently report keeps its plot library in one shared file on disk; served whole
            page = with_library_inline(found.read_text(encoding="utf-8"), found, Path(root).resolve() / "reports")
            return HTMLResponse(page, headers=headers)
        return FileResponse(found, media_type=health_page.SERVED_TYPES[found.suffix], headers=headers)

    @app.get("/static/plotly.min.js")
    def plotly_js() -> FileResponse:
        from importlib.resources import files

        bundle = files("plotly") / "package_data" / "plotly.min.js"
        return FileResponse(str(bundle), media_type="text/javascript", headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/static/icon.svg")
    def icon() -> Response:
        return Response(_ICON, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=86400"})

    return app


class _LazyApp:
    """An ASGI app that builds the real one on its first request, so that importing the plugin stays cheap."""

    def __init__(self) -> None:
        self._app = None

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            self._app = create_app()
        await self._app(scope, receive, send)


class ModelHealthPlugin(AirflowPlugin):
    name = "modelguard_health"
    fastapi_apps = [{"app": _LazyApp(), "url_prefix": URL_PREFIX, "name": "modelguard model health"}]
    # href without a leading slash: the Airflow UI resolves it against its base URL, so a sub-path deployment works.
    external_views = [{"name": "Model health", "href": "modelguard/", "destination": "nav",
                       "url_route": "model-health", "icon": "modelguard/static/icon.svg", "nav_top_level": True}]
