"""Challenge stage: train a challenger on accepted, labelled data, register it, and compare it with the
champion on later labelled rows it was not trained on (time-based holdout, paired, anytime-valid).

Which rows: normally the rolling window (`window_days`) before a holdout of the latest `holdout_days`.
After a performance drop the old concept is no longer the truth, so the window starts at the drift
onset (the first labelled day of the current run below the service bar): the challenger trains on the
rows since then, blended with at most `history_share` of recent history, and is compared on the latest
of them. With a single labelled day since the onset, that day is split in time: its earlier rows train,
its later rows judge. A window wholly before the onset is never trained.

What follows the comparison:
- a proven winner (e-value >= 1/alpha and better by `min_improvement`) asks a person for approval
  (`approval=pending`, `request_approval`); under a performance alert it also says whether it repairs
  (restores the metric within `max_metric_drop` of the service baseline) or is only a **partial fix**;
- one that is ahead but not yet proven stays `approval=evaluating`: it is re-checked (`recheck`) as new
  labelled rows arrive, on the same growing sequence of rows (the e-value stays valid under these looks).
  The sequence (row ids in order, with the labels as judged) is fixed at registration in
  `challengers/<version>/sequence.parquet` and only extended, by the rows of labelled days after what the
  challenger has seen: a late day, corrected labels or a retraction never rewrite a path already judged. A
  day of it that is retracted (batch re-quarantined, corrected labels failed) ends the evaluation
  (`approval=superseded`, one `no_action` line): its evidence cannot be extended, a new challenger starts anew;
- one that is not ahead is kept with `approval=not_requested` and the comparison it lost (`rejected` is
  a person's word, stamped by the registry server; the pipeline never writes it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

import pandas as pd

from modelguard import alias_lock, decisions, model
from modelguard.compare import Comparison, paired_bootstrap
from modelguard.config import PipelineConfig
from modelguard.performance import labelled_batch_ids
from modelguard.policy import State, service_bar
from modelguard.policy_state import build_state
from modelguard.promote import SUPERSEDED_TAG, supersede_requests
from modelguard.registry import CHALLENGER, CHAMPION, Registry, Version
from modelguard.storage import Lake
from modelguard.task_kinds import shortfall, task_kind
from modelguard.validation import naive_utc

DAG_ID = "modelguard_challenge"
SPLIT_HOLDOUT_SHARE = 0.4  # of a single post-onset day, the later share that judges the challenger


@dataclass(frozen=True)
class Window:
    """Which labelled rows train a challenger and which judge it."""

    train: list[str]  # days wholly for training (after the onset, or the rolling window)
    holdout: list[str]  # days wholly for the comparison
    history: list[str] = field(default_factory=list)  # days before the onset, blended in (capped)
    split: str | None = None  # a day whose earlier rows train and later rows judge
    onset: str | None = None

    def describe(self) -> tuple[str, str]:
        """(training window, holdout window) for a person: days, a split day's part, history blended in."""
        train = [*self.train, *([f"{self.split} (first {1 - SPLIT_HOLDOUT_SHARE:.0%})"] if self.split else [])]
        holdout = [*([f"{self.split} (last {SPLIT_HOLDOUT_SHARE:.0%})"] if self.split else []), *self.holdout]
        trained = f"{train[0]}..{train[-1]}" if len(train) > 1 else (train[0] if train else "-")
        if self.history:
            trained += f" + history {self.history[0]}..{self.history[-1]} (capped)"
        return trained, f"{holdout[0]}..{holdout[-1]}" if len(holdout) > 1 else (holdout[0] if holdout else "-")


def training_window(lake: Lake, config: PipelineConfig, batch_id: str, onset: str | None = None) -> Window:
    """The rows of a challenger trained on `batch_id`; `onset` (a performance drop's) moves the window to it."""
    labelled = labelled_batch_ids(lake, batch_id)
    rules = config.challenger
    if onset is None:
        holdout = labelled[-rules.holdout_days:]
        train = labelled[:-rules.holdout_days][-rules.window_days:] if len(labelled) > rules.holdout_days else []
        return Window(train=train, holdout=holdout)
    after = [b for b in labelled if b >= onset]
    history = [b for b in labelled if b < onset][-rules.window_days:]
    if len(after) == 1:
        return Window(train=[], holdout=[], history=history, split=after[0], onset=onset)
    judged = max(1, min(rules.holdout_days, len(after) // 2))
    return Window(train=after[:-judged][-rules.window_days:], holdout=after[-judged:], history=history, onset=onset)


def _load(lake: Lake, config: PipelineConfig, batch_ids: list[str]) -> pd.DataFrame:
    """Labelled rows of the days, in time order (day, then the batch's own order or timestamp)."""
    key, target, clock = config.model.id_column, config.model.target, config.model.timestamp_column
    frames = []
    for batch_id in batch_ids:
        batch = pd.read_parquet(lake.validated("batches", batch_id))
        labels = pd.read_parquet(lake.validated("labels", batch_id))[[key, target]]
        frame = batch.merge(labels, on=key, how="inner").assign(_batch_id=batch_id)
        if clock and clock in frame.columns:  # days exported with and without a zone still concatenate
            frame = frame.assign(**{clock: naive_utc(frame[clock])}).sort_values(clock, kind="stable")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def window_rows(lake: Lake, config: PipelineConfig, window: Window) -> tuple[pd.DataFrame, pd.DataFrame, int | None]:
    """(training rows, holdout rows, the split day's first judged row) of a window. While the rows since an
    onset are fewer than `min_rows`, history before it is blended in, capped at `history_share` of the
    training rows, most recent rows first: the new concept must dominate what is learnt."""
    train, holdout = _load(lake, config, window.train), _load(lake, config, window.holdout)
    cut = None
    if window.split:
        day = _load(lake, config, [window.split])
        cut = int(round(len(day) * (1 - SPLIT_HOLDOUT_SHARE)))
        train = pd.concat([train, day.iloc[:cut]], ignore_index=True)
        holdout = pd.concat([day.iloc[cut:], holdout], ignore_index=True)
    if window.history and len(train) < config.challenger.min_rows:  # history only while new rows are few
        share = config.challenger.history_share
        cap = int(len(train) * share / (1 - share))
        history = _load(lake, config, window.history).tail(cap) if cap else pd.DataFrame()
        train = pd.concat([history, train], ignore_index=True)
    return train, holdout, cut


def _problem(config: PipelineConfig, window: Window, train: pd.DataFrame, holdout: pd.DataFrame) -> str | None:
    rules, target = config.challenger, config.model.target
    if window.onset:
        after = len(train) - int((train["_batch_id"] < window.onset).sum()) if len(train) else 0
        if after < rules.min_rows_after_onset:
            return (f"{after} labelled rows since the onset {window.onset}, fewer than min_rows_after_onset "
                    f"{rules.min_rows_after_onset}; a window before the onset would relearn the old concept")
    elif len(train) < rules.min_rows:
        return f"{len(train)} labelled rows in the window, fewer than min_rows {rules.min_rows}"
    if train.empty or holdout.empty:
        return "no labelled rows in the window or the holdout"
    return task_kind(config.model).label_problem(train[target], holdout[target], rules.min_positives)


def _compare(config: PipelineConfig, registry: Registry, champion_version: str, estimator, rows: pd.DataFrame
             ) -> tuple[Comparison, dict]:
    rules, target = config.challenger, config.model.target
    candidate_scores = model.predict_scores(estimator, config.model, rows)
    champion_scores = model.predict_scores(registry.load(champion_version), config.model, rows)
    comparison = paired_bootstrap(rows[target], champion_scores, candidate_scores, metric=rules.metric,
                                  rounds=rules.bootstrap_rounds, confidence=rules.confidence, seed=rules.seed,
                                  alpha=rules.alpha, kind=task_kind(config.model))
    return comparison, model.evaluate(config.model, rows[target], candidate_scores)


def _verdict(config: PipelineConfig, comparison: Comparison) -> str:
    """pending (proven better), evaluating (ahead, not proven yet) or not_requested (not ahead)."""
    if comparison.wins_by(config.challenger.min_improvement):
        return "pending"
    return "evaluating" if comparison.improvement >= config.challenger.min_improvement else "not_requested"


def _repairs(config: PipelineConfig, bar: float | None, comparison: Comparison) -> str | None:
    """Does the challenger restore the metric to within max_metric_drop of the service bar? (None: no bar known)"""
    if bar is None:
        return None
    return "yes" if shortfall(comparison.candidate, bar, comparison.metric) <= config.policy.max_metric_drop \
        else "partial"


def _announce(lake: Lake, config: PipelineConfig, batch_id: str, version: str, champion: str, verdict: str,
              comparison: Comparison, repairs: str | None, bar: float | None) -> None:
    rules = config.challenger
    evidence = (f"{rules.metric} {comparison.candidate:.3f} vs {comparison.baseline:.3f} "
                f"({comparison.difference:+.3f}, CI {comparison.low:.3f}..{comparison.high:.3f}; "
                f"e-value {comparison.e_value:.3g}, needs {1 / comparison.alpha:.0f}; {comparison.rows} rows)")
    if verdict == "pending":
        fix = ""
        if repairs == "partial":
            fix = (f" PARTIAL FIX: beats the champion but stays more than {config.policy.max_metric_drop} short of "
                   f"the service baseline {bar:.3f}; the search for a better one goes on")
        elif repairs == "yes":
            fix = f" Repairs: within {config.policy.max_metric_drop} of the service baseline {bar:.3f}."
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="request_approval", model_version=version,
                         reason=f"challenger v{version} beats champion v{champion}: {evidence}.{fix}",
                         comparison=comparison.to_dict(), partial_fix=repairs == "partial", repairs=repairs)
    elif verdict == "evaluating":
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action", model_version=version,
                         reason=f"challenger v{version} is ahead of champion v{champion} but not proven yet: "
                                f"{evidence}; re-checked as labels arrive")
    else:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action", model_version=version,
                         reason=f"challenger v{version} does not beat champion v{champion} by "
                                f"{rules.min_improvement}: {evidence}")


def _day_state(config: PipelineConfig, lake: Lake, batch_id: str, assessment: dict | None = None) -> State:
    """The state the day's assessment decided on (the onset, the service bar), as it recorded it: the
    challenge acts on what the day saw, and does not measure it all again (models loaded, rows re-scored).
    Measured now only when the day has no assessment (a manual trigger on a day never assessed)."""
    if assessment is None:
        assessment = lake.read_json(lake.report_dir(batch_id) / "assessment.json", {}) or {}
    recorded = assessment.get("state")
    if not recorded:
        return build_state(config, batch_id)
    known = {f.name for f in fields(State)} - {"guardrail"}  # the comparison is recorded as a dict; not needed here
    return State(**{k: v for k, v in recorded.items() if k in known})


def challenge(config: PipelineConfig, batch_id: str, trigger: str | None = None) -> dict:
    """Train, register and compare a challenger if today's assessment (or `trigger`) asks for one;
    `recheck`: re-compare the undecided challenger on the labelled rows it has not been judged on yet."""
    lake = Lake(config.storage_root)
    assessment = lake.read_json(lake.report_dir(batch_id) / "assessment.json", {}) or {}
    trigger = trigger or assessment.get("retrain")
    if not trigger:
        return {"batch_id": batch_id, "status": "not_due"}
    if trigger == "recheck":
        return recheck(config, batch_id)
    state = _day_state(config, lake, batch_id, assessment)
    rules, target = config.challenger, config.model.target
    onset = state.onset if trigger == "performance" else None
    window = training_window(lake, config, batch_id, onset)
    train, holdout, cut = window_rows(lake, config, window)
    problem = _problem(config, window, train, holdout)
    if problem:
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action",
                         reason=f"challenger not trained ({trigger}): {problem}")
        return {"batch_id": batch_id, "status": "insufficient_data", "reason": problem}

    registry = Registry(config)
    champion = registry.by_alias(CHAMPION)
    data_hash = model.data_hash(train[[config.model.id_column, target]])
    train_key = f"challenger:{trigger}:{batch_id}:{data_hash}"
    existing = registry.find_by_tag("train_key", train_key)
    estimator = registry.load(existing.version) if existing else model.fit(config.model, train)
    comparison, metrics = _compare(config, registry, champion.version, estimator, holdout)
    verdict = _verdict(config, comparison)
    bar = service_bar(state)  # every challenger is told whether it would restore the service level
    repairs = _repairs(config, bar, comparison)
    train_window, holdout_window = window.describe()
    seen_until = max([*window.train, *window.holdout, *([window.split] if window.split else [])])
    tags = {
        "trigger": trigger,
        "trained_on": batch_id,
        "train_window": train_window,
        "train_rows": len(train),
        "holdout_window": holdout_window,
        # the judged rows, so a re-check extends the same sequence: days, and a split day's first judged row
        "holdout_days": json.dumps(window.holdout),
        "holdout_split": json.dumps([window.split, cut] if window.split else None),
        "seen_until": seen_until,
        "last_look": seen_until,
        "data_hash": data_hash,
        "compared_with": champion.version,
        "comparison": "passed" if verdict == "pending" else "failed",
        "comparison_detail": comparison.to_dict(),
        **({"onset": window.onset} if window.onset else {}),
        **({"requested_on": batch_id} if verdict == "pending" else {}),
        **({"repairs": repairs} if repairs else {}),
        **{f"metric_{k}": round(v, 5) for k, v in metrics.items()},
    }
    version, created = registry.register(estimator, train_key=train_key, tags=tags,
                                         metrics={**metrics, "champion_" + rules.metric: comparison.baseline,
                                                  "improvement": comparison.improvement},
                                         run_name=f"challenger-{batch_id}")
    sequence = lake.challenger_sequence(version)
    # Fixed here, once: a rerun of the day keeps the sequence first written; a new version replaces any stale
    # file of its number (a registry recreated beside an old lake).
    if created or not sequence.exists():
        lake.write_parquet(_sequence_of(config, holdout), sequence)
    if created or registry.get(version).approval is None:
        registry.set_tags(version, {"approval": verdict})
    _take_challenger_alias(registry, version, lake=lake, batch_id=batch_id)
    decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="register_challenger", model_version=version,
                     reason=f"trained on {train_window} ({len(train)} rows), trigger {trigger}"
                            + (f", onset {window.onset}" if window.onset else ""),
                     comparison=comparison.to_dict())
    # Announced on every run (the log keeps one line per identity): a run that died after registering
    # still gets its request out on the retry.
    _announce(lake, config, batch_id, version, champion.version, verdict, comparison, repairs, bar)
    return {"batch_id": batch_id, "status": "registered", "version": version, "wins": verdict == "pending",
            "verdict": verdict, "repairs": repairs, "improvement": round(comparison.improvement, 4)}


@alias_lock.serialised("challenger")
def _take_challenger_alias(registry: Registry, version: str, lake: Lake | None = None,
                           batch_id: str | None = None) -> bool:
    """Point `challenger` at `version` (never back to an older one) and, given the `lake`, supersede the
    unanswered requests it replaces (`promote.supersede_requests`: an undecided one's evidence no longer grows,
    a pending one is no longer the candidate), in one step under the alias lock: a promotion's
    check-then-delete of `challenger` never removes a newer one, and never promotes a request superseded
    half-way. A rejected version does not take the alias from a live request: a challenger that lost to the
    champion must not withdraw one that beat it (the search under a performance drop goes on beside a
    pending partial fix). Returns whether it took the alias."""
    current = registry.by_alias(CHALLENGER)
    if current is not None and int(version) < int(current.version):
        return False  # a rerun of an old day never points it back
    if current is not None and current.version != version and registry.get(version).approval == "not_requested" \
            and current.approval in ("pending", "evaluating", "approved") and not current.tags.get(SUPERSEDED_TAG) \
            and "promoted_on" not in current.tags:
        return False
    alias_lock.held().set(CHALLENGER, version)
    if lake is not None:
        supersede_requests(lake, registry, batch_id, DAG_ID, challenger=version)
    return True


def _sequence_of(config: PipelineConfig, rows: pd.DataFrame) -> pd.DataFrame:
    """Judged rows as their sequence keeps them: day, id and label as judged, in order, and a fingerprint of
    each day's judged feature values (a batch released again with other values is not the same path)."""
    key, target = config.model.id_column, config.model.target
    frame = rows[["_batch_id", key, target]].reset_index(drop=True)
    prints = {day: _fingerprint(config, part) for day, part in rows.groupby("_batch_id", sort=False)}
    return frame.assign(_day_hash=frame["_batch_id"].map(prints))


def _fingerprint(config: PipelineConfig, rows: pd.DataFrame) -> str:
    return model.data_hash(rows[config.model.features.all].reset_index(drop=True))


def _retracted(lake: Lake, days: list[str]) -> tuple[str, str] | None:
    """The first of `days` whose validated batch or labels are gone (re-quarantined), and why."""
    for day in days:
        if not lake.validated("batches", day).exists():
            return day, f"its batch was quarantined again (validated/batches/{day}.parquet is gone)"
        if not lake.validated("labels", day).exists():
            return day, f"its labels were retracted: a corrected label file failed (validated/labels/{day}.parquet " \
                        "is gone)"
    return None


def _sequence(lake: Lake, config: PipelineConfig, version: Version) -> tuple[pd.DataFrame | None, tuple | None]:
    """(the challenger's sequence, None), or (None, (day, why)) when a day of it was retracted. A version
    registered before sequences were kept gets its own from its tags (its holdout), written at this first look."""
    path = lake.challenger_sequence(version.version)
    if path.exists():
        return pd.read_parquet(path), None
    split = json.loads(version.tags.get("holdout_split") or "null")
    holdout = json.loads(version.tags.get("holdout_days") or "[]")
    gone = _retracted(lake, [*([split[0]] if split else []), *holdout])
    if gone:
        return None, gone
    parts = [_load(lake, config, [split[0]]).iloc[int(split[1]):]] if split else []
    parts.append(_load(lake, config, holdout))
    rows = pd.concat(parts, ignore_index=True)
    sequence = _sequence_of(config, rows) if len(rows) else pd.DataFrame(
        columns=["_batch_id", config.model.id_column, config.model.target, "_day_hash"])
    lake.write_parquet(sequence, path)
    return sequence, None


def _sequence_rows(lake: Lake, config: PipelineConfig, sequence: pd.DataFrame
                   ) -> tuple[pd.DataFrame | None, tuple | None]:
    """The sequence's rows in its order, with today's features and the labels as judged; or (None, (day, why))
    when the judged rows of a day changed (its days are known to exist: `_retracted`)."""
    key, target = config.model.id_column, config.model.target
    days = list(dict.fromkeys(sequence["_batch_id"]))
    ordered = sequence.reset_index(drop=True).assign(_position=range(len(sequence)))
    parts = []
    for day in days:
        judged = ordered[ordered["_batch_id"] == day]
        batch = pd.read_parquet(lake.validated("batches", day))
        rows = judged[["_position", "_batch_id", key, target]].merge(
            batch.drop(columns=[c for c in (target, "_batch_id") if c in batch.columns]), on=key, how="left",
            indicator=True)
        missing = int((rows.pop("_merge") != "both").sum())
        if missing:
            return None, (day, f"its batch was replaced: {missing} judged rows are no longer in it")
        if _fingerprint(config, rows) != judged["_day_hash"].iloc[0]:
            return None, (day, "its batch was replaced: the judged rows' feature values changed")
        parts.append(rows)
    if not parts:
        return pd.DataFrame(columns=[*sequence.columns]), None
    return pd.concat(parts, ignore_index=True).sort_values("_position", kind="stable").drop(
        columns="_position").reset_index(drop=True), None


def _judged_rows(lake: Lake, config: PipelineConfig, version: Version, sequence: pd.DataFrame, through: str
                 ) -> tuple[pd.DataFrame | None, tuple | None]:
    """(the rows a challenger is judged on, None), or (None, (day, why)) when a day of them was retracted.

    The rows are its `sequence` as persisted (never rebuilt from today's days: a late day, corrected labels
    or a retraction would change the path already judged), extended by the labelled days after what it has
    seen and not yet in it, up to `through`, appended in time order and persisted before they are looked at."""
    rows, gone = _sequence_rows(lake, config, sequence)
    if gone:
        return None, gone
    known = set(sequence["_batch_id"])
    later = [b for b in labelled_batch_ids(lake, through) if b > version.tags.get("seen_until", "") and b not in known]
    if later:
        new = _load(lake, config, later)
        lake.write_parquet(pd.concat([sequence, _sequence_of(config, new)], ignore_index=True),
                           lake.challenger_sequence(version.version))
        rows = pd.concat([rows, new], ignore_index=True)
    return rows, None


def _end_retracted(lake: Lake, registry: Registry, batch_id: str, version: str, day: str, why: str) -> dict:
    """A day of the judged sequence is gone: the evidence cannot be extended (nor re-judged on other rows),
    so the evaluation ends; the policy then stops asking for re-checks and a new challenger starts anew."""
    registry.set_tags(version, {"approval": "superseded"})
    decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action", model_version=version,
                     alert="holdout_retracted", retracted_day=day,
                     reason=f"undecided challenger v{version} is no longer re-checked: day {day} of the rows it is "
                            f"judged on was retracted ({why}); a new challenger will be judged on rows that exist")
    return {"batch_id": batch_id, "status": "retracted", "version": version, "retracted_day": day}


def recheck(config: PipelineConfig, batch_id: str) -> dict:
    """Extend an undecided challenger's comparison with the labelled rows since its last look."""
    lake = Lake(config.storage_root)
    registry = Registry(config)
    challenger, champion = registry.by_alias(CHALLENGER), registry.by_alias(CHAMPION)
    if challenger is None or challenger.approval != "evaluating" or champion is None:
        return {"batch_id": batch_id, "status": "nothing_to_recheck"}
    state = _day_state(config, lake, batch_id)
    onset = state.onset
    if challenger.tags.get("compared_with") != champion.version or (onset and challenger.tags.get("onset", onset) != onset):
        # Its evidence was about another champion, or another concept: it cannot be extended, only restarted
        # by a new challenger.
        registry.set_tags(challenger.version, {"approval": "superseded"})
        decisions.record(lake, batch_id=batch_id, dag_id=DAG_ID, action="no_action", model_version=challenger.version,
                         reason=f"undecided challenger v{challenger.version} is no longer re-checked: it was compared "
                                f"with v{challenger.tags.get('compared_with')}"
                                + (f" for the concept since {challenger.tags['onset']}" if challenger.tags.get("onset")
                                   else "") + f", and champion v{champion.version} serves now"
                                + (f" since the onset {onset}" if onset else ""))
        return {"batch_id": batch_id, "status": "superseded", "version": challenger.version}
    # A retracted day ends the evaluation at the first look after it, new labels or not.
    sequence, gone = _sequence(lake, config, challenger)
    gone = gone or _retracted(lake, list(dict.fromkeys(sequence["_batch_id"])))
    if gone:
        return _end_retracted(lake, registry, batch_id, challenger.version, *gone)
    labelled = labelled_batch_ids(lake, batch_id)
    if not labelled or labelled[-1] <= challenger.tags.get("last_look", ""):
        return {"batch_id": batch_id, "status": "no_new_labels", "version": challenger.version}
    rows, gone = _judged_rows(lake, config, challenger, sequence, batch_id)
    if gone:
        return _end_retracted(lake, registry, batch_id, challenger.version, *gone)
    comparison, _ = _compare(config, registry, champion.version, registry.load(challenger.version), rows)
    verdict = _verdict(config, comparison)
    bar = service_bar(state)  # the repair question, asked again on the longer sequence
    repairs = _repairs(config, bar, comparison)
    registry.set_tags(challenger.version, {
        "last_look": labelled[-1], "approval": verdict, "comparison_detail": comparison.to_dict(),
        **({"requested_on": batch_id} if verdict == "pending" else {}),
        "comparison": "passed" if verdict == "pending" else "failed", **({"repairs": repairs} if repairs else {})})
    if verdict != "evaluating":
        _announce(lake, config, batch_id, challenger.version, champion.version, verdict, comparison, repairs, bar)
    return {"batch_id": batch_id, "status": "rechecked", "version": challenger.version, "verdict": verdict,
            "e_value": comparison.e_value}
