"""The "Model health" page of the Airflow UI: what an engineer on call needs at a glance.

`page_data(config)` gathers it from the registry and the lake (aliases, pending approvals, the
health timelines, incidents and actions from the decision log, the latest root-cause checklist,
every batch's reports) as plain JSON-able values; `render_page(data)` turns that into one HTML
page with plotly timelines; `report_file(lake_root, path)` is the only way the page serves a
file, and only from the lake's `reports/` and `quarantine/` folders. The Airflow plugin in
`plugins/modelguard_health.py` is the wiring (authentication, routes).
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

from modelguard import decisions
from modelguard.config import PipelineConfig
from modelguard.registry import ALIASES, CHAMPION, version_url
from modelguard.storage import Lake, is_batch_id

DEFAULT_MLFLOW_UI = "http://127.0.0.1:5000"
INCIDENTS = ("quarantine_batch", "drift_alert", "performance_alert", "rollback")
REGISTRY_ACTIONS = ("register_challenger", "request_approval", "promote")
# Files a person may open from the page: only what the pipeline writes for people and machines to read.
SERVED_TYPES = {".html": "text/html; charset=utf-8", ".json": "application/json",
                ".md": "text/markdown; charset=utf-8"}
SERVED_FOLDERS = ("reports", "quarantine")
# Lake files carry values from landing files (an Evidently report inlines category values in its plot
# data). Served from Airflow's origin they would run with the on-call engineer's session, so each one is
# sandboxed: scripts run (the plots need them) but in an opaque origin, with no network, forms or frames.
LAKE_FILE_HEADERS = {
    "Content-Security-Policy": "sandbox allow-scripts allow-popups; default-src 'none'; "
                               "script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
                               "img-src data: blob:; font-src data:; connect-src 'none'; form-action 'none'; "
                               "base-uri 'none'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Referrer-Policy": "no-referrer",
}
ACTION_COLORS = {"quarantine_batch": "#c62828", "drift_alert": "#ef6c00", "performance_alert": "#ad1457",
                 "rollback": "#6a1b9a", "register_challenger": "#607d8b", "request_approval": "#1565c0",
                 "promote": "#2e7d32", "no_action": "#9e9e9e"}


def report_file(lake_root: str | Path, relative: str) -> Path | None:
    """The file at `relative` inside the lake's reports/ or quarantine/ folder, or None.

    None for anything else: absolute paths, `..` and symlinks that lead out, hidden and temp
    files, folders, and types other than HTML, JSON and Markdown (never a quarantined data file)."""
    parts = Path(relative).parts
    if not parts or Path(relative).is_absolute() or parts[0] not in SERVED_FOLDERS \
            or any(p in ("..", ".") or p.startswith(".") for p in parts):
        return None
    root = Path(lake_root).resolve()
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root / parts[0]) or not candidate.is_file():
        return None
    return candidate if candidate.suffix in SERVED_TYPES else None


# --- gathering ---------------------------------------------------------------------------------
def _registry_view(registry, config: PipelineConfig, mlflow_ui: str) -> tuple[dict, dict, str | None]:
    """(alias -> version summary, version -> tags, error). A registry that does not answer is reported, not fatal."""
    if registry is None:
        try:
            from modelguard.registry import Registry

            registry = Registry(config)
        except Exception as error:  # noqa: BLE001 - the page shows what failed
            return {}, {}, f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    metric = config.challenger.metric
    try:
        versions = {v.version: v for v in registry.versions()}
        aliases = registry.aliases()
    except Exception as error:  # noqa: BLE001 - same: the lake's half of the page still renders
        return {}, {}, f"{type(error).__name__}: {str(error).splitlines()[0][:300]}"
    summary = {}
    for alias in ALIASES:
        found = versions.get(aliases.get(alias, ""))
        summary[alias] = None if found is None else {
            "version": found.version, "url": version_url(mlflow_ui, config.model.name, found.version),
            "trigger": found.tags.get("trigger"), "train_window": found.tags.get("train_window"),
            "approval": found.approval, "metric": _number(found.tags.get(f"metric_{metric}")),
            "promoted_on": found.tags.get("promoted_on"), "comparison": found.tags.get("comparison"),
        }
    return summary, {v: dict(found.tags) for v, found in versions.items()}, None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def pending_approvals(log: list[dict], tags: dict[str, dict], model: str, mlflow_ui: str) -> list[dict]:
    """`request_approval` decisions not followed by a promote of that version (same day or later).

    A request superseded since (`approval_superseded`: a newer challenger, or another champion) is no longer
    waiting either. The registry's tags have the last word when known: a version rejected, superseded, or
    already served (promoted or rolled back to), is no longer waiting."""
    promoted: dict[str, str] = {}
    superseded: set[str] = set()
    for entry in log:
        if entry["action"] == "promote" and entry.get("model_version"):
            promoted[entry["model_version"]] = max(promoted.get(entry["model_version"], ""), entry.get("batch_id") or "")
        if entry.get("alert") == "approval_superseded" and entry.get("model_version"):
            superseded.add(entry["model_version"])
    waiting: dict[str, dict] = {}
    for entry in log:
        version = entry.get("model_version")
        if entry["action"] != "request_approval" or not version:
            continue
        if version in promoted and promoted[version] >= (entry.get("batch_id") or "") or version in superseded:
            continue
        version_tags = tags.get(version, {})
        if version_tags.get("approval") in ("rejected", "superseded", "not_requested", "rolled_back") or "promoted_on" in version_tags \
                or "rolled_back_on" in version_tags or "superseded_on" in version_tags:
            continue
        waiting[version] = {"version": version, "requested_on": entry.get("batch_id"), "reason": entry["reason"],
                            "approval": version_tags.get("approval", "unknown (registry not read)" if not tags else None),
                            "url": version_url(mlflow_ui, model, version)}
    return sorted(waiting.values(), key=lambda p: int(p["version"]) if p["version"].isdigit() else 0)


def _events(log: list[dict]) -> list[dict]:
    """Incidents and actions from the decision log (quiet days and accepted batches left out)."""
    events = []
    for entry in log:
        action = entry["action"]
        if action == "accept_batch" or (action == "no_action" and not entry.get("alert")):
            continue
        events.append({"batch_id": entry.get("batch_id"), "dag_id": entry.get("dag_id"), "action": action,
                       "model_version": entry.get("model_version"), "reason": entry.get("reason", ""),
                       "at": entry.get("at"), "kind": "incident" if action in INCIDENTS or entry.get("alert")
                       else "action", "alert": entry.get("alert"), "labels": entry.get("kind") == "labels"})
    return sorted(events, key=lambda e: (e["batch_id"] or "", e["at"] or ""))


def _timeline(lake: Lake, metric: str) -> dict:
    """The series the page plots, as lists of points (batch_id, value) sorted by day."""
    import pandas as pd

    from modelguard.bootstrap import reference_output

    # the champion's outputs the kind of model profiles (task_kinds: positive rate, mean prediction, class shares)
    reference = reference_output(lake.read_json(lake.reference_profile, {}) or {}) or {}
    series: dict[str, Any] = {"realized": [], "estimated": [], "drift_share": [], "output": {},
                              "reference_output": reference}
    if lake.performance_table.exists():
        perf = pd.read_parquet(lake.performance_table)
        perf = perf[(perf["segment"] == "all") & (perf["metric"] == metric)].sort_values(["batch_id", "alias"])
        series["realized"] = [{"batch_id": r.batch_id, "alias": r.alias, "version": str(r.version),
                               "value": float(r.value)} for r in perf.itertuples() if r.value == r.value]
    if lake.health_table.exists():
        health = pd.read_parquet(lake.health_table).sort_values("batch_id")
        for key, name in (("estimated", f"estimated_{metric}"), ("drift_share", "drift_share")):
            rows = health[health["metric"] == name]
            series[key] = [{"batch_id": r.batch_id, "value": float(r.value)} for r in rows.itertuples()]
        for name in reference:
            rows = health[health["metric"] == name]
            series["output"][name] = [{"batch_id": r.batch_id, "value": float(r.value)} for r in rows.itertuples()]
    return series


def _class_recall(lake: Lake) -> dict[str, float]:
    """The champion's recall per class on the latest labelled day (multiclass models; empty otherwise)."""
    import pandas as pd

    if not lake.performance_table.exists():
        return {}
    perf = pd.read_parquet(lake.performance_table)
    perf = perf[(perf["alias"] == CHAMPION) & (perf["segment"] == "all") & perf["metric"].str.startswith("recall_")]
    if perf.empty:
        return {}
    latest = perf[perf["batch_id"] == perf["batch_id"].max()]
    return {"batch_id": str(latest["batch_id"].iloc[0]),
            **{r.metric.removeprefix("recall_"): float(r.value) for r in latest.itertuples()}}


def _latest_checklist(lake: Lake) -> dict | None:
    folder = lake.root / "reports"
    found = sorted(folder.glob("*/checklist.json")) if folder.is_dir() else []
    if not found:
        return None
    checklist = lake.read_json(found[-1])
    batch_id = found[-1].parent.name
    markdown = found[-1].with_suffix(".md")
    return {**checklist, "batch_id": batch_id,
            "markdown": f"reports/{batch_id}/checklist.md" if markdown.exists() else None}


def _batches(lake: Lake, log: list[dict]) -> list[dict]:
    """Every day the lake knows of, newest first, with its status and the reports a person can open."""
    ids = set(lake.landed_ids("batches")) | {e["batch_id"] for e in log if e.get("batch_id")}
    for folder in (lake.root / "reports", lake.root / "quarantine"):
        if folder.is_dir():
            ids |= {p.name for p in folder.iterdir() if p.is_dir()}
    ids = {i for i in ids if is_batch_id(i)}  # a stray folder or an old log line naming no day is no row
    rows = []
    for batch_id in sorted(ids, reverse=True):
        entries = [e for e in log if e.get("batch_id") == batch_id]
        status = decisions.batch_status(lake, batch_id, log)
        candidates = {
            "drift report": f"reports/{batch_id}/drift.html", "drift verdicts": f"reports/{batch_id}/drift.json",
            "assessment": f"reports/{batch_id}/assessment.json", "checklist": f"reports/{batch_id}/checklist.md",
            "validation report": f"quarantine/{batch_id}/report.html",
            "validation reason": f"quarantine/{batch_id}/reason.json",
            "labels validation report": f"quarantine/labels/{batch_id}/report.html",
        }
        links = {name: path for name, path in candidates.items() if report_file(lake.root, path)}
        actions = sorted({e["action"] for e in entries if e["action"] not in ("accept_batch", "no_action")})
        checklist = lake.read_json(lake.report_dir(batch_id) / "checklist.json", {}) or {}
        rows.append({"batch_id": batch_id, "status": status, "actions": actions, "links": links,
                     "recommended_response": checklist.get("recommended_response")})
    return rows


def page_data(config: PipelineConfig, *, mlflow_ui: str = DEFAULT_MLFLOW_UI, registry=None) -> dict:
    """Everything the page shows, as plain values (also served as JSON by the plugin).

    `registry` defaults to `Registry(config)`; anything with `versions()` and `aliases()` will do."""
    from modelguard.task_kinds import (  # numpy and pandas: not at the plugin's import
        higher_is_better,
        task_kind,
    )

    lake = Lake(config.storage_root)
    kind = task_kind(config.model)
    log = decisions.read_decisions(lake)
    aliases, tags, error = _registry_view(registry, config, mlflow_ui)
    return {
        "model": config.model.name,
        "metric": config.challenger.metric,
        "higher_is_better": higher_is_better(config.challenger.metric),
        "lake": str(lake.root),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mlflow_ui": mlflow_ui,
        "registry": {"aliases": aliases, "error": error,
                     "url": f"{mlflow_ui.rstrip('/')}/#/models/{quote(config.model.name, safe='')}"},
        "pending_approvals": pending_approvals(log, tags, config.model.name, mlflow_ui),
        "timeline": _timeline(lake, config.challenger.metric),
        "estimate_note": None if kind.has_estimate else f"no estimate for {kind.name.replace('_', ' ')}: performance "
                                                        "is known once labels arrive",
        "class_recall": _class_recall(lake) if kind.name == "multiclass_classification" else {},
        "events": _events(log),
        "approvals": {"verified_by_server": config.registry_server, "trail": approval_trail(log)},
        "checklist": _latest_checklist(lake),
        "batches": _batches(lake, log),
    }


AUDITED_ALERTS = {"approval_rejected": "rejected", "approval_refused": "approval refused",
                  "approval_expired": "expired", "approval_superseded": "superseded",
                  "unauthorised_champion_move": "champion move undone (not an approver)"}


def approval_trail(log: list[dict]) -> list[dict]:
    """Every approval, rejection, refused approval, expiry, supersession and hand move in the decision log, with
    who (as the registry server verified them, or not), when, and the evidence they saw: the log is its copy of
    what the registry's tags say, kept when a tag is overwritten."""
    trail = []
    for entry in log:
        action, alert = entry["action"], entry.get("alert")
        if action == "promote":
            if entry.get("moved_by"):
                what, who, when = "champion moved by hand", entry["moved_by"], entry.get("moved_at")
            elif entry.get("forced_by"):
                what, who, when = "forced promotion", entry["forced_by"], entry.get("at")
            elif entry.get("promoted_by_hand"):
                what, who, when = "promoted by hand (Airflow)", entry["promoted_by_hand"], entry.get("at")
            else:
                what, who, when = "approved, promoted", entry.get("approved_by") or entry.get("by"), \
                    entry.get("approved_at")
        elif action == "rollback":
            what, who, when = "rolled back", entry.get("by"), entry.get("at")
        elif action == "no_action" and alert in AUDITED_ALERTS:
            what = AUDITED_ALERTS[alert]
            who = entry.get("moved_by") or entry.get("rejected_by") or entry.get("requested_by") \
                if alert != "approval_refused" else entry.get("by")
            when = entry.get("rejected_at") or entry.get("approved_at")
        else:
            continue
        shown = entry.get("evidence") or {}
        by_airflow = what in ("forced promotion", "promoted by hand (Airflow)")  # Airflow's login vouches
        trail.append({"batch_id": entry.get("batch_id"), "version": entry.get("model_version"), "what": what,
                      "who": who, "verified": bool(entry.get("identity_verified")) or by_airflow, "acted_at": when,
                      "logged_at": entry.get("at"), "reason": entry.get("reason"),
                      "compared_with": shown.get("compared_with"), "comparison": shown.get("comparison"),
                      "repairs": shown.get("repairs"), "checklist": shown.get("checklist")})
    return trail


# --- rendering ---------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _link(href: str, text: str, external: bool = False) -> str:
    target = ' target="_blank" rel="noopener"' if external else ""
    return f'<a href="{_e(href)}"{target}>{_e(text)}</a>'


def timeline_figure(data: dict):
    """One plotly figure: performance, drift share, the champion's outputs and decisions on a shared day axis."""
    from plotly.subplots import make_subplots

    series, metric = data["timeline"], data["metric"]
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.06, row_heights=[0.37, 0.2, 0.2, 0.23],
                        subplot_titles=(f"Performance ({metric}, {'higher' if data.get('higher_is_better', True) else 'lower'} is better)", "Drift share (features drifted)",
                                        "Model outputs (dashed: reference)", "Incidents and actions"))
    for alias, dash in ((CHAMPION, "solid"), ("challenger", "dot"), ("previous_champion", "dash")):
        points = [p for p in series["realized"] if p["alias"] == alias]
        if points:
            fig.add_scatter(x=[p["batch_id"] for p in points], y=[p["value"] for p in points], mode="lines+markers",
                            name=f"{alias.replace('_', ' ')} realized", line={"dash": dash},
                            hovertext=[f"v{p['version']}" for p in points], row=1, col=1)
    if series["estimated"]:
        fig.add_scatter(x=[p["batch_id"] for p in series["estimated"]], y=[p["value"] for p in series["estimated"]],
                        mode="lines+markers", name="champion estimated (before labels)",
                        line={"color": "#90a4ae", "dash": "dot"}, row=1, col=1)
    if not series["estimated"] and data.get("estimate_note"):
        fig.add_annotation(text=data["estimate_note"], xref="x domain", yref="y domain", x=0, y=1, showarrow=False,
                           font={"color": "#757575"}, row=1, col=1)
    points = series["drift_share"]
    if points:
        fig.add_scatter(x=[p["batch_id"] for p in points], y=[p["value"] for p in points], mode="lines+markers",
                        name="drift share", row=2, col=1)
    for name, points in series["output"].items():
        if points:
            fig.add_scatter(x=[p["batch_id"] for p in points], y=[p["value"] for p in points], mode="lines+markers",
                            name=name.replace("_", " "), row=3, col=1)
    for name, value in series["reference_output"].items():
        if name != "prediction_std":
            fig.add_hline(y=value, line={"dash": "dash", "color": "#9e9e9e"}, row=3, col=1)
    for action in dict.fromkeys(e["action"] for e in data["events"]):
        events = [e for e in data["events"] if e["action"] == action]
        fig.add_scatter(x=[e["batch_id"] for e in events], y=[action] * len(events), mode="markers", name=action,
                        marker={"size": 12, "color": ACTION_COLORS.get(action, "#455a64"), "symbol": "diamond"},
                        hovertext=[f"{e['batch_id']} {action}" + (f" v{e['model_version']}" if e["model_version"] else "")
                                   + f": {e['reason'][:160]}" for e in events], hoverinfo="text",
                        showlegend=False, row=4, col=1)
    for day in sorted({e["batch_id"] for e in data["events"] if e["kind"] == "incident" and e["batch_id"]}):
        fig.add_vline(x=day, line={"color": "rgba(198,40,40,0.35)", "dash": "dot"})
    fig.update_layout(height=840, margin={"l": 60, "r": 20, "t": 70, "b": 30}, hovermode="closest",
                      legend={"orientation": "h", "y": 1.05, "yanchor": "bottom"}, template="plotly_white")
    fig.update_yaxes(rangemode="tozero", row=2, col=1)
    if all(name.startswith("predicted_") for name in series["reference_output"]):  # rates and shares
        fig.update_yaxes(tickformat=".1%", rangemode="tozero", row=3, col=1)
    return fig


def _alias_row(alias: str, v: dict | None) -> str:
    if v is None:
        return f"<tr><th>{_e(alias.replace('_', ' '))}</th><td colspan=6 class=muted>not set</td></tr>"
    metric = "" if v["metric"] is None else f"{v['metric']:.3f}"
    return (f"<tr><th>{_e(alias.replace('_', ' '))}</th><td>{_link(v['url'], 'v' + v['version'], external=True)}</td>"
            f"<td>{_e(v['trigger'])}</td><td>{_e(v['train_window'])}</td><td>{_e(v['approval'])}</td>"
            f"<td>{metric}</td><td>{_e(v['promoted_on'])}</td></tr>")


def render_page(data: dict, *, plotly_js: str = "static/plotly.min.js") -> str:
    """The page as one HTML document; links are relative to the page (the plugin serves them under files/)."""
    registry = data["registry"]
    alias_rows = "".join(_alias_row(alias, v) for alias, v in registry["aliases"].items())
    registry_error = f"<p class=error>Registry not readable: {_e(registry['error'])}</p>" if registry["error"] else ""
    pending = "".join(
        f"<tr><td>{_link(p['url'], 'v' + p['version'] + ' in MLflow', external=True)}</td><td>{_e(p['requested_on'])}</td>"
        f"<td>{_e(p['approval'])}</td><td>{_e(p['reason'])}</td></tr>" for p in data["pending_approvals"])
    pending = (f"<table><tr><th>version</th><th>requested on</th><th>approval tag</th><th>why</th></tr>{pending}</table>"
               "<p class=muted>To approve, set the version's tag <code>approval</code> to <code>approved</code> in the "
               "MLflow UI (or <code>modelguard approve VERSION</code>); the next <code>modelguard_promote</code> run "
               "applies it.</p>") if pending else "<p>None.</p>"
    events = "".join(
        f"<tr class={_e(e['kind'])}><td>{_e(e['batch_id'])}</td>"
        f"<td><span class=tag style='background:{ACTION_COLORS.get(e['action'], '#455a64')}'>{_e(e['action'])}</span>"
        f"{' (labels)' if e['labels'] else ''}</td><td>{_e(e['model_version'] and 'v' + e['model_version'])}</td>"
        f"<td>{_e(e['dag_id'])}</td><td>{_e(e['reason'])}</td></tr>" for e in reversed(data["events"]))
    approvals = data.get("approvals") or {"verified_by_server": False, "trail": []}
    identity_note = ("Who acted is the login the registry server verified and stamped (only approval.approvers may "
                     "approve)." if approvals["verified_by_server"] else
                     "<b>Identity is not verified in this mode</b>: the embedded MLflow store has no server and no "
                     "login, so an approval records the OS user of <code>modelguard approve</code>.")
    trail = "".join(
        f"<tr><td>{_e(a['batch_id'])}</td><td>{_e(a['version'] and 'v' + a['version'])}</td><td>{_e(a['what'])}</td>"
        f"<td>{_e(a['who'])}{'' if a['verified'] else ' <span class=muted>(not verified)</span>'}</td>"
        f"<td>{_e(a['acted_at'] or a['logged_at'])}</td><td>{_e(a['comparison'])}"
        f"{_e(a['compared_with'] and ' vs v' + a['compared_with'])}{_e(a['repairs'] and ', repairs: ' + a['repairs'])}"
        + (f" · {_link('files/' + a['checklist'], 'checklist')}" if a["checklist"] else "")
        + f"</td><td>{_e(a['reason'])}</td></tr>" for a in reversed(approvals["trail"]))
    trail_html = (f"<p class=muted>{identity_note}</p><table><tr><th>batch</th><th>version</th><th>what</th>"
                  f"<th>who</th><th>when</th><th>what they saw</th><th>reason</th></tr>"
                  f"{trail or '<tr><td colspan=7>none yet</td></tr>'}</table>")
    checklist = data["checklist"]
    if checklist:
        checks = "".join(f"<tr class={_e(c['status'].lower())}><td>{_e(c['step'])}</td><td>{_e(c['item'])}</td>"
                         f"<td>{_e(c['status'])}</td><td>{_e(c['note'])}</td></tr>" for c in checklist["checks"])
        checklist_html = (f"<p>Batch <b>{_e(checklist['batch_id'])}</b>, recommended response: "
                          f"<b>{_e(checklist['recommended_response'])}</b>"
                          + (f" ({_link('files/' + checklist['markdown'], 'checklist.md')})" if checklist["markdown"] else "")
                          + f"</p><table><tr><th>diagnosis step</th><th>item</th><th>status</th><th>notes</th></tr>"
                          f"{checks}</table>")
    else:
        checklist_html = "<p>No checklist yet: the monitor has not run.</p>"
    batches = "".join(
        f"<tr><td>{_e(b['batch_id'])}</td><td class={_e(b['status'])}>{_e(b['status'])}</td>"
        f"<td>{_e(', '.join(b['actions']))}</td><td>{_e(b['recommended_response'])}</td>"
        f"<td>{' · '.join(_link('files/' + path, name, external=True) for name, path in b['links'].items())}</td></tr>"
        for b in data["batches"])
    recall = dict(data.get("class_recall") or {})
    recall_day = recall.pop("batch_id", None)
    recall_html = (f"<p>Champion recall per class on {_e(recall_day)}: "
                   + ", ".join(f"{_e(c)} {v:.1%}" for c, v in recall.items() if v == v) + "</p>") if recall else ""
    figure = timeline_figure(data).to_html(full_html=False, include_plotlyjs=False, div_id="timeline",
                                           config={"displaylogo": False, "responsive": True})
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Model health: {_e(data['model'])}</title><script src="{_e(plotly_js)}"></script><style>{_CSS}</style></head>
<body><h1>Model health: {_e(data['model'])}</h1>
<p class=muted>lake {_e(data['lake'])} · generated {_e(data['generated_at'])} ·
{_link(registry['url'], 'registry in MLflow', external=True)} · {_link('api/health', 'JSON')}</p>
<section id=registry><h2>Models</h2>{registry_error}<table><tr><th>alias</th><th>version</th><th>trigger</th>
<th>trained on</th><th>approval</th><th>{_e(data['metric'])} at training</th><th>promoted on</th></tr>{alias_rows}</table>
</section><section id=pending><h2>Pending approvals</h2>{pending}</section>
<section id=approvals><h2>Approvals audit trail</h2>{trail_html}</section>
<section id=timeline-section><h2>Timelines</h2>{figure}{recall_html}</section>
<section id=incidents><h2>Incidents and actions</h2><table><tr><th>batch</th><th>decision</th><th>version</th>
<th>DAG</th><th>reason</th></tr>{events or '<tr><td colspan=5>none yet</td></tr>'}</table></section>
<section id=checklist><h2>Latest root-cause checklist</h2>{checklist_html}</section>
<section id=batches><h2>Batches and reports</h2><table><tr><th>batch</th><th>status</th><th>decisions</th>
<th>checklist says</th><th>reports</th></tr>{batches}</table></section><script>{_OPEN_FROM_PARENT}</script></body></html>"""


_CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:16px 24px;color:#212121}h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #e0e0e0}table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #eee;padding:4px 8px;text-align:left;vertical-align:top}.muted{color:#757575}
.error{color:#c62828;font-weight:bold}.tag{color:#fff;border-radius:3px;padding:1px 6px;white-space:nowrap}
tr.incident td:first-child{border-left:3px solid #c62828}.fail td:nth-child(3),.quarantined{color:#c62828;font-weight:bold}
.investigate td:nth-child(3){color:#ef6c00;font-weight:bold}.pass td:nth-child(3),.accepted{color:#2e7d32}
code{background:#f5f5f5;padding:0 3px}td:first-child{white-space:nowrap}"""

# Airflow frames nav pages in a sandbox without allow-popups, and MLflow refuses to be framed: when framed,
# a new-tab link is opened from the Airflow window itself (same origin: the sandbox allows it).
_OPEN_FROM_PARENT = """document.addEventListener('click', function (event) {
  var link = event.target.closest('a[target=_blank]');
  if (!link || window.parent === window) return;
  try {
    var proxy = window.parent.document.createElement('a');
    proxy.href = link.href; proxy.target = '_blank'; proxy.rel = 'noopener';
    window.parent.document.body.appendChild(proxy); proxy.click(); proxy.remove();
    event.preventDefault();
  } catch (error) { /* not same-origin: let the browser decide */ }
});"""
