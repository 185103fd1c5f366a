"""Text reports for people: `modelguard status` and the demo's story of the simulated timeline."""

from __future__ import annotations

import datetime as dt

from rich.console import Group
from rich.table import Table
from rich.text import Text

from modelguard import decisions
from modelguard.config import PipelineConfig
from modelguard.registry import ALIASES, Registry
from modelguard.storage import Lake

ALERTING = ("drift_alert", "performance_alert", "quarantine_batch", "request_approval", "promote", "rollback")
# Responses that follow from an incident, in the order they normally happen.
FOLLOW_UPS = {
    "concept_drift": ("performance_alert", "register_challenger", "request_approval", "promote"),
    "reversal": ("performance_alert", "rollback"),
    "new_category": ("drift_alert",),
}


def _day(batch_id: str) -> dt.date:
    return dt.date.fromisoformat(batch_id)


def match_incidents(schedule: dict, log: list[dict]) -> list[dict]:
    """For each scripted incident: the first decision of the expected kind in its window, and follow-ups."""
    incidents = schedule.get("incidents", [])
    end = (_day(schedule["start"]) + dt.timedelta(days=schedule["days"] - 1)).isoformat()
    rows = []
    for index, item in enumerate(incidents):
        start = item["batch_id"]
        if item["kind"] in ("concept_drift", "reversal"):
            later = [i["batch_id"] for i in incidents[index + 1:] if i["kind"] in ("concept_drift", "reversal")]
            window_end = min(later[0], end) if later else end
        else:
            window_end = (_day(start) + dt.timedelta(days=max(item.get("duration_days", 1), 1) - 1)).isoformat()
        in_window = [e for e in log if e.get("batch_id") and start <= e["batch_id"] <= window_end
                     and e.get("dag_id") != "modelguard_release"]
        in_window.sort(key=lambda e: (e["batch_id"], e.get("at", "")))
        met = next((e for e in in_window if e["action"] == item["expected_response"]), None)
        follow = []
        for action in FOLLOW_UPS.get(item["kind"], ()):
            first = next((e for e in in_window if e["action"] == action), None)
            if first:
                follow.append({"action": action, "batch_id": first["batch_id"],
                               "days_after": (_day(first["batch_id"]) - _day(start)).days,
                               "model_version": first.get("model_version")})
        rows.append({**item, "met": met is not None, "response": met, "window_end": window_end,
                     "follow_ups": follow,
                     "days_to_response": (_day(met["batch_id"]) - _day(start)).days if met else None})
    return rows


def quiet_day_actions(schedule: dict, log: list[dict]) -> list[dict]:
    """Alerts or registry actions on days no incident explains (false alarms)."""
    matched = match_incidents(schedule, log)
    explained = set()
    for row in matched:
        first, last = _day(row["batch_id"]), _day(row["window_end"])
        while first <= last:
            explained.add(first.isoformat())
            first += dt.timedelta(days=1)
    return [e for e in log if e["action"] in ALERTING and e.get("batch_id") not in explained]


def story_report(config: PipelineConfig) -> Group:
    lake = Lake(config.storage_root)
    schedule = lake.read_json(lake.simulation_dir / "schedule.json")
    if not schedule:
        return Group(Text("no simulated timeline in this lake (run `make demo`)"))
    log = decisions.read_decisions(lake)
    rows = match_incidents(schedule, log)
    lines: list[Text] = [Text(f"modelguard: {schedule['days']} simulated days from {schedule['start']}, "
                              f"{schedule['rows_per_day']} rows a day, labels {schedule['label_delay_days']} days late",
                              style="bold")]
    for row in rows:
        response = row["response"]
        mark = "[ok]" if row["met"] else "[MISSED]"
        lines.append(Text(f"\n{row['batch_id']}  {row['kind']}: {row['description']}", style="bold"))
        lines.append(Text(f"  expected {row['expected_response']:<18} {mark}",
                          style="green" if row["met"] else "red"))
        if response:
            version = f" v{response['model_version']}" if response.get("model_version") else ""
            lines.append(Text(f"  did      {response['action']}{version} on {response['batch_id']} "
                              f"(+{row['days_to_response']}d): {response['reason'][:160]}"))
        if row["follow_ups"]:
            chain = " -> ".join(f"{f['action']}" + (f" v{f['model_version']}" if f["model_version"] else "")
                                + f" +{f['days_after']}d" for f in row["follow_ups"])
            lines.append(Text(f"  chain    {chain}"))
    false_alarms = quiet_day_actions(schedule, log)
    counts: dict[str, int] = {}
    for entry in log:
        name = entry["action"] + (" (labels)" if entry.get("kind") == "labels" else "")  # label files apart
        counts[name] = counts.get(name, 0) + 1
    registry = Registry(config)
    aliases = registry.aliases()
    lines += [
        Text(""),
        Text(f"incidents met by the expected response: {sum(r['met'] for r in rows)}/{len(rows)}"),
        Text(f"alerts or registry actions on quiet days: {len(false_alarms)}"
             + (" (" + ", ".join(f"{e['action']} {e['batch_id']}" for e in false_alarms[:6]) + ")" if false_alarms else "")),
        Text("decisions: " + ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))),
        Text("registry now: " + ", ".join(f"{a}=v{aliases[a]}" for a in ALIASES if a in aliases)),
        Text(f"look at: {lake.root}/reports/<day>/drift.html (Evidently), {lake.root}/quarantine/<day>/report.html, "
             f"{lake.decisions_log}; `make up` for the Airflow UI (127.0.0.1:8080) and MLflow UI (127.0.0.1:5000)"),
    ]
    return Group(*lines)


def status_report(config: PipelineConfig, last: int = 10) -> Group:
    lake = Lake(config.storage_root)
    registry = Registry(config)
    aliases = registry.aliases()
    models = Table(title=f"registered model {config.model.name}")
    for column in ("alias", "version", "trigger", "trained on", "approval", config.challenger.metric):
        models.add_column(column)
    for alias in ALIASES:
        version = registry.get(aliases[alias]) if alias in aliases else None
        if version:
            models.add_row(alias, version.version, version.tags.get("trigger", ""), version.tags.get("train_window", ""),
                           version.approval or "", version.tags.get(f"metric_{config.challenger.metric}", ""))
    pending = [v for v in registry.versions() if v.approval == "pending"] if aliases else []
    log = decisions.read_decisions(lake)
    recent = Table(title=f"last {last} decisions")
    for column in ("batch", "dag", "action", "version", "reason"):
        recent.add_column(column, overflow="fold")
    for entry in log[-last:]:
        recent.add_row(entry.get("batch_id") or "", entry["dag_id"], entry["action"], entry.get("model_version") or "",
                       entry["reason"][:120])
    folders = sorted(p.name for p in (lake.root / "quarantine").iterdir() if p.is_dir() and p.name != "labels") \
        if (lake.root / "quarantine").is_dir() else []
    quarantined = [day for day in folders if decisions.batch_status(lake, day, log) == "quarantined"]
    open_alerts = [e for e in log[-20:] if e["action"] in ("drift_alert", "performance_alert")]
    return Group(
        models,
        Text("pending approvals: " + (", ".join(f"v{v.version} (set tag approval=approved in the MLflow UI, "
                                                 f"or `modelguard approve {v.version}`)" for v in pending) or "none")),
        recent,
        Text("open incidents: quarantined batches " + (", ".join(quarantined) or "none") + "; recent alerts "
             + (", ".join(f"{e['action']} {e['batch_id']}" for e in open_alerts[-5:]) or "none")),
    )
