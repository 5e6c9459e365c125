"""Health, without an API key: GET /livez (the process answers), GET /readyz (Temporal answers too)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.exceptions import HTTPException

from api.deps import TemporalDep
from api.errors import Problem
from api.models import Health

router = APIRouter(tags=["health"])


@router.get("/livez", summary="The process answers")
async def livez() -> Health:
    return Health(status="ok")


@router.get("/readyz", summary="Temporal answers", responses={503: {"model": Problem}})
async def readyz(temporal: TemporalDep) -> Health:
    if not await temporal.call(lambda client: client.service_client.check_health()):
        raise HTTPException(503, "Temporal says it is not serving")
    return Health(status="ok")
