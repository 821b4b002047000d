"""GET /api/v1/models."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from driftscope.server.api.v1.deps import server_state
from driftscope.server.api.v1.schemas import ModelOut, ModelsOut
from driftscope.server.state import ServerState

router = APIRouter(tags=["models"])


@router.get("/models", response_model=ModelsOut, summary="Models: configured and seen")
def list_models(state: ServerState = Depends(server_state)) -> ModelsOut:
    stored = {str(m["name"]): m for m in state.require_store().list_models()}
    out: dict[str, ModelOut] = {}
    for m in state.settings.models:
        item = stored.get(m.name, {})
        versions = list(item.get("versions") or [])
        if m.version and m.version not in versions:
            versions.insert(0, m.version)
        out[m.name] = ModelOut(
            name=m.name,
            task=m.task.value,
            protocol=m.protocol.value,
            versions=versions,
            records=int(item.get("records", 0) or 0),
            configured=True,
        )
    for name, item in stored.items():
        if name not in out:
            out[name] = ModelOut(
                name=name,
                task=item.get("task"),
                protocol=item.get("protocol"),
                versions=list(item.get("versions") or []),
                records=int(item.get("records", 0) or 0),
            )
    return ModelsOut(models=[out[k] for k in sorted(out)])
