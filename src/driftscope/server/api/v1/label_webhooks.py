"""POST /api/v1/labels/webhook/{tool}: ground truth from a labeling tool.

Outside the bearer-token check (a labeling tool cannot send driftscope's token):
a shared secret in the ``X-Driftscope-Webhook-Secret`` header authenticates it
(none: 401, a wrong one or none configured: 403). The body is checked at once (a
malformed one gets 400 or 422 naming what is wrong); storing runs after the
answer, in a thread, because Label Studio waits 1 s at most.
"""

from __future__ import annotations

import asyncio
import hmac
import logging

import orjson
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel

from driftscope.labeling import AnnotationsDeleted, Labeled
from driftscope.server.api.v1.deps import server_state
from driftscope.server.state import ServerState
from driftscope.service.labeling import SECRET_HEADER, apply_event, parse_event

log = logging.getLogger(__name__)

router = APIRouter(tags=["labels"])

#: Webhook bodies above this size are refused (Label Studio's carry the project too).
MAX_BODY = 8 * 1024 * 1024


class WebhookAccepted(BaseModel):
    status: str = "accepted"
    event: str
    """``labeled``, ``deleted`` or ``ignored``."""
    detail: str = ""


def _check_secret(state: ServerState, request: Request) -> None:
    conf = state.settings.labeling
    got = request.headers.get(SECRET_HEADER)
    if got is None:
        raise HTTPException(401, detail=f"the {SECRET_HEADER} header is required")
    secret = conf.webhook_secret if conf is not None else None
    if secret is None:
        raise HTTPException(
            403, detail="no webhook secret is configured (DRIFTSCOPE_LABELING__WEBHOOK_SECRET)"
        )
    if not hmac.compare_digest(got.encode(), secret.get_secret_value().encode()):
        raise HTTPException(403, detail=f"wrong {SECRET_HEADER}")


def _run(state: ServerState, event: Labeled | AnnotationsDeleted) -> None:
    try:
        what = apply_event(state.require_store(), state.settings, event)
    except Exception:
        log.exception("label webhook: storing %r failed", event)
        raise
    log.info("label webhook: %s", what)


@router.post(
    "/labels/webhook/{tool}",
    status_code=202,
    response_model=WebhookAccepted,
    summary="Webhook of a labeling tool (shared-secret header); stored after the answer",
)
async def label_webhook(
    tool: str, request: Request, state: ServerState = Depends(server_state)
) -> WebhookAccepted:
    _check_secret(state, request)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise HTTPException(413, detail=f"webhook body above {MAX_BODY} bytes")
    body = await request.body()
    if len(body) > MAX_BODY:
        raise HTTPException(413, detail=f"webhook body above {MAX_BODY} bytes")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise HTTPException(400, detail=f"the webhook body is not JSON: {exc}") from exc
    event = parse_event(state.settings, tool, payload)  # ValidationError -> 422
    if isinstance(event, Labeled):
        kind = "labeled"
    elif isinstance(event, AnnotationsDeleted):
        kind = "deleted"
    else:
        return WebhookAccepted(event="ignored", detail=event.reason)
    state.require_store()  # 503 now rather than a lost label later
    job = asyncio.get_running_loop().run_in_executor(None, _run, state, event)
    state.track(job)
    return WebhookAccepted(event=kind)
