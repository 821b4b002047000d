"""Labeling in the service: send sampled records as tasks, store what comes back.

Sending (:func:`sync_pass`, run by :class:`LabelingSync` in the ingest process
every ``labeling.interval_s``), per model with ``labeling`` enabled:

1. find or create the model's project and register the webhook;
2. pick up to ``max_tasks_per_run`` records never sent to the tool and without
   ground truth, newest first, a deterministic ``sample_rate`` share of them
   (once a pass has caught up, only records stored since are looked at: the
   first pass after a start scans the model's records, the next ones do not);
3. *claim* them in ``label_tasks`` (``pending``): of two runs or replicas racing
   for a record exactly one gets it, so nothing is sent twice, across restarts too;
4. import them as tasks, then mark them ``sent`` with the tool's task ids. A
   failed import releases the claims (the next run retries). A process killed
   between 3 and 4 leaves them ``pending``: never resent (at most once).

Receiving (:func:`apply_event`, from the webhook route, after the answer):

- an annotation created or updated: its value becomes the record's ground truth
  (source = the tool's name; an update replaces it, a replay writes the same row;
  calls handled out of order are settled by the annotation's time, the newest
  wins), the task is ``labeled``;
- annotations deleted: the tool's payload names only annotation ids, so the
  project's ``labeled`` tasks are reconciled against the tool: a task with no
  annotation left loses its ground truth from that tool (a label posted through the
  API is kept) and goes back to ``sent``; one with annotations left takes the value of
  its newest one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from driftscope.config.settings import LabelingSettings, ModelSettings, Settings
from driftscope.errors import ConfigError, DriftscopeError, ValidationError
from driftscope.labeling import (
    AnnotationsDeleted,
    Labeled,
    LabelingTool,
    WebhookEvent,
    labeling_tools,
    open_tool,
)
from driftscope.storage.base import RecordStore
from driftscope.types import GroundTruth, Task

log = logging.getLogger(__name__)

#: Header carrying the shared secret on webhook calls.
SECRET_HEADER = "X-Driftscope-Webhook-Secret"
#: label_tasks rows read per page when reconciling a project.
_PAGE = 1000


def labeling_models(settings: Settings) -> list[ModelSettings]:
    """Models whose records go to the labeling tool."""
    if settings.labeling is None:
        return []
    return [m for m in settings.models if m.labeling is not None and m.labeling.enabled]


def webhook_path(tool: str) -> str:
    return f"/api/v1/labels/webhook/{tool}"


def webhook_headers(settings: Settings) -> dict[str, str]:
    conf = settings.labeling
    if conf is None or conf.webhook_secret is None:
        return {}
    return {SECRET_HEADER: conf.webhook_secret.get_secret_value()}


def model_classes(store: RecordStore, settings: Settings, model: ModelSettings) -> list[str] | None:
    """The classes a classifier's labels are chosen from: the schema's, else the labeled
    reference's (targets and predictions), else None."""
    if model.task not in (
        Task.BINARY_CLASSIFICATION,
        Task.MULTICLASS_CLASSIFICATION,
        Task.TEXT_CLASSIFICATION,
    ):
        return None
    if model.model_schema.classes:
        return [str(c) for c in model.model_schema.classes]
    from driftscope.service import reference as refs
    from driftscope.service.monitoring import load_reference

    try:
        loaded = load_reference(store, settings, model.name)
    except DriftscopeError as exc:
        log.warning("model %s: no classes from its reference: %s", model.name, exc)
        return None
    if loaded is None:
        return None
    frame = loaded[0]
    labels: set[str] = set()
    for col in (refs.TARGET, refs.PREDICTION):
        if col in frame:
            labels.update(v for v in refs.label_values(frame[col]) if v is not None)
    return sorted(labels) or None


class LabelingSync:
    """Sends new records as tasks; keeps the tool and the projects it found."""

    def __init__(
        self, settings: Settings, store: RecordStore, tool: LabelingTool | None = None
    ) -> None:
        if settings.labeling is None:
            raise ConfigError("labeling", "labeling is not configured")
        self.conf: LabelingSettings = settings.labeling
        self.settings = settings
        self.store = store
        self.tool = tool or open_tool(self.conf)
        #: model -> project id, once found / created and its webhook registered
        self.projects: dict[str, str] = {}
        #: model -> store mark: records stored before it are sent, labeled or not sampled
        self.after: dict[str, int] = {}
        self._caught_up: dict[str, int] = {}
        self.passes = 0

    def close(self) -> None:
        self.tool.close()

    def project(self, model: ModelSettings) -> str:
        known = self.projects.get(model.name)
        if known is not None:
            return known
        self.tool.check_supported(model)
        project = self.tool.ensure_project(model, model_classes(self.store, self.settings, model))
        conf = self.conf
        if conf.webhook_url:
            url = conf.webhook_url + webhook_path(self.tool.name)
            self.tool.ensure_webhook(project, url, webhook_headers(self.settings))
        else:
            log.warning("labeling.webhook_url is not set: labels stay in %s", self.tool.name)
        self.projects[model.name] = project
        return project

    def sync_model(self, model: ModelSettings) -> int:
        """Send the model's new records; how many tasks were created."""
        conf, tool, store = self.conf, self.tool, self.store
        project = self.project(model)
        limit = conf.max_tasks_per_run
        candidates, top = store.label_candidates(
            model.name,
            tool.name,
            limit=limit,
            sample_rate=model.labeling.sample_rate if model.labeling else 1.0,
            after=self.after.get(model.name),
        )
        if len(candidates) < limit:
            # caught up: later passes look only at records stored after the previous
            # caught-up mark (one pass of lag, for inserts still uncommitted at that mark)
            previous = self._caught_up.get(model.name)
            if previous is not None:
                self.after[model.name] = previous
            self._caught_up[model.name] = top
        if not candidates:
            return 0
        claimed = set(
            store.claim_label_tasks(
                model.name, tool.name, project, [(r.request_id, r.row_index) for r in candidates]
            )
        )
        records = [r for r in candidates if (r.request_id, r.row_index) in claimed]
        if not records:
            return 0
        keys = [(r.request_id, r.row_index) for r in records]
        try:
            sent = tool.send(model, project, records)
        except BaseException:
            store.release_label_tasks(model.name, tool.name, keys)
            raise
        store.mark_label_tasks(
            model.name,
            tool.name,
            [(s.request_id, s.row_index) for s in sent],
            "sent",
            [s.task_id for s in sent],
        )
        return len(sent)

    def sync_pass(self) -> dict[str, str]:
        """One pass over every model with labeling; outcome per model."""
        outcome: dict[str, str] = {}
        for model in labeling_models(self.settings):
            try:
                n = self.sync_model(model)
            except DriftscopeError as exc:
                log.warning("labeling %s: %s", model.name, exc)
                outcome[model.name] = f"failed: {exc}"
            else:
                outcome[model.name] = f"sent {n} task(s)"
        self.passes += 1
        return outcome

    def run_forever(self, halt: threading.Event) -> None:
        interval = self.conf.interval_s
        log.info("labeling sync (%s): every %.1f s", self.tool.name, interval)
        try:
            while not halt.wait(interval):
                try:
                    for name, what in self.sync_pass().items():
                        log.debug("labeling %s: %s", name, what)
                except Exception:  # never let one bad pass stop the schedule
                    log.exception("labeling pass failed")
        finally:
            self.close()


def sync_pass(store: RecordStore, settings: Settings) -> dict[str, str]:
    """One labeling pass with a tool opened for it (the CLI and tests)."""
    sync = LabelingSync(settings, store)
    try:
        return sync.sync_pass()
    finally:
        sync.close()


# -- webhook -------------------------------------------------------------------------------


def parse_event(settings: Settings, tool: str, payload: Any) -> WebhookEvent:
    """The webhook body as an event, checked against the configuration (no I/O)."""
    conf = settings.labeling
    if conf is None or conf.tool != tool:
        raise ValidationError(f"labeling tool {tool!r} is not configured")
    event = labeling_tools.get(tool).parse_webhook(payload)
    if isinstance(event, Labeled) and settings.model(event.model) is None:
        known = ", ".join(m.name for m in settings.models) or "none"
        raise ValidationError(f"task.data.model {event.model!r} is not configured; known: {known}")
    return event


def apply_event(store: RecordStore, settings: Settings, event: WebhookEvent) -> str:
    """Store what a webhook event says; a short outcome for the log."""
    conf = settings.labeling
    if conf is None:
        raise ConfigError("labeling", "labeling is not configured")
    cls = labeling_tools.get(conf.tool)
    if isinstance(event, Labeled):
        # by the annotation's own time: a replay or a reordered call never undoes an update
        store.put_newer_ground_truth(
            [
                GroundTruth(
                    model=event.model,
                    request_id=event.request_id,
                    row_index=event.row_index,
                    value=event.value,
                    timestamp=event.timestamp,
                    source=cls.source,
                )
            ]
        )
        key = [(event.request_id, event.row_index)]
        ids = [event.task_id]
        store.mark_label_tasks(event.model, cls.name, key, "labeled", ids)
        return f"{event.model} {event.request_id}:{event.row_index} = {event.value!r}"
    if isinstance(event, AnnotationsDeleted):
        tool = open_tool(conf)
        try:
            changed = reconcile(store, tool, event.project)
        finally:
            tool.close()
        return f"project {event.project}: {changed} label(s) changed after a deletion"
    return f"ignored: {event.reason}"


def reconcile(store: RecordStore, tool: LabelingTool, project: str) -> int:
    """Bring the ground truth of a project's ``labeled`` tasks in line with the tool."""
    rows = []
    offset = 0
    while True:
        page = store.list_label_tasks(
            tool=tool.name, project=project, status="labeled", limit=_PAGE, offset=offset
        )
        rows.extend(page)
        if len(page) < _PAGE:
            break
        offset += _PAGE
    if not rows:
        return 0
    current = tool.current_labels(project)
    changed = 0
    by_model: dict[str, list[tuple[tuple[str, int], Any]]] = {}
    for row in rows:
        if row.task_id is None or row.task_id not in current:
            continue
        by_model.setdefault(row.model, []).append(
            ((row.request_id, row.row_index), current[row.task_id])
        )
    for model, items in by_model.items():
        gone: Sequence[tuple[str, int]] = [k for k, v in items if v is None]
        if gone:
            changed += store.delete_ground_truth(model, gone, source=tool.source)
            store.mark_label_tasks(model, tool.name, gone, "sent")
        kept = [
            GroundTruth(model=model, request_id=k[0], row_index=k[1], value=v, source=tool.source)
            for k, v in items
            if v is not None
        ]
        if kept:
            store.put_ground_truth(kept)
    return changed
