"""The HTTP API (FastAPI, OpenAPI at /docs): incidents, their timeline, and answers to them.

Every answer goes through monitor.runtime.actions.submit_action, the path `monitor act` takes,
so the API and the CLI refuse, archive, audit and send alike. Who acts is the token's user,
never a field of the request.

No `from __future__ import annotations` here: FastAPI reads the dependency annotations
(`Authed`, local to `router`) at definition time.
"""

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from monitor.domain.evidence import Candidate, EvidencePolicy, confirm
from monitor.domain.model import Grade
from monitor.domain.state import Action, IncidentState
from monitor.runtime.actions import ActionRefused, Send, submit_action
from monitor.runtime.views import incident_summary
from monitor.store import Store
from monitor.web.auth import Role, User, Users
from monitor.web.evidence import candidates

Clock = Callable[[], datetime]
Refused = Callable[[Scope, int, str], None]
log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


def _error_body(message: str, field: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    return body | extra


def install_error_handlers(app: FastAPI, registry: CollectorRegistry) -> Refused:
    """Refusals answer with JSON `{"error", "field"?}`, are logged and counted: the API is an
    input path like a topic, and a burst of bad answers must show on the dashboards. Returns
    the counter's entry point for refusals made before routing (monitor.web.guard)."""
    refused = Counter(
        "monitor_web_refused", "API requests refused", ["status", "path"], registry=registry
    )

    def count(scope: Scope, status: int, message: str) -> None:
        route = scope.get("route")
        path = getattr(route, "path", "other")
        refused.labels(str(status), path).inc()
        log.warning("refused %s %s (%d): %s", scope.get("method"), scope.get("path"), status,
                    message)  # fmt: skip

    async def api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        count(request.scope, exc.status, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(_error_body(exc.message, exc.field), exc.status, headers=headers)

    async def invalid(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
        message = "请求无效 / invalid request: " + "; ".join(problems)
        count(request.scope, 422, message)
        return JSONResponse(_error_body(message, detail=problems), 422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        message = _HTTP_MESSAGES.get(exc.status_code, f"请求失败（HTTP {exc.status_code}）")
        count(request.scope, exc.status_code, message)
        return JSONResponse(_error_body(message), exc.status_code, headers=exc.headers)

    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("error answering %s %s", request.method, request.url.path, exc_info=exc)
        count(request.scope, 500, type(exc).__name__)
        return JSONResponse(_error_body("服务器内部错误，已记录日志，请稍后重试"), 500)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, crashed)
    return count


_HTTP_MESSAGES = {
    404: "未找到该地址",
    405: "该地址不支持此请求方法",
}


# --- request bodies --------------------------------------------------------------------------

Kind = Literal[
    "acknowledge", "release", "press_conference", "follow_up", "close", "regrade", "merge", "split"
]


class ActionIn(BaseModel):
    """An answer. `id` makes it idempotent (send the same id when retrying); `at` is when it
    happened (a release's publication time), default now."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1, max_length=200)
    kind: Kind
    at: AwareDatetime | None = None
    url: str | None = None
    channel: str | None = None
    place: str | None = None
    grade: Literal["I", "II", "III", "IV"] | None = None
    reason: str | None = None
    target: str | None = Field(None, description="merge: the incident that survives")
    post_ids: list[str] = Field(default_factory=list, description="split: posts to move out")

    @model_validator(mode="after")
    def _evidence(self) -> "ActionIn":
        if self.kind in ("release", "follow_up") and not (self.url or "").strip():
            raise ValueError(f"{self.kind} needs `url`, the address of the published text")
        if self.kind == "press_conference" and not (self.url or self.place or "").strip():
            raise ValueError("press_conference needs `url` or `place`")
        if self.kind == "regrade" and not (self.grade and (self.reason or "").strip()):
            raise ValueError("regrade needs `grade` and `reason`")
        if self.kind == "merge" and not (self.target or "").strip():
            raise ValueError("merge needs `target`, the incident that survives")
        if self.kind == "split" and not self.post_ids:
            raise ValueError("split needs `post_ids`, the posts that become a new incident")
        return self


@dataclass
class Deps:
    store: Store
    users: Users
    send: Send | None
    clock: Clock
    evidence: EvidencePolicy


_bearer = HTTPBearer(auto_error=False)


def router(deps: Deps) -> APIRouter:
    def current_user(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> User:
        if creds is None:
            raise ApiError(401, "未登录：请提供访问令牌 / authentication required: "
                                "send `Authorization: Bearer <token>`")  # fmt: skip
        user = deps.users.find(creds.credentials)
        if user is None:
            raise ApiError(401, "令牌无效 / invalid token")
        return user

    Authed = Annotated[User, Depends(current_user)]
    api = APIRouter(prefix="/api")

    async def state_of(incident_id: str) -> IncidentState:
        row = await asyncio.to_thread(deps.store.incident, incident_id)
        if row is None:
            raise ApiError(404, f"事件不存在 / unknown incident {incident_id!r}", "incident_id")
        return row.state

    def may_act(user: User, state: IncidentState) -> None:
        if user.role is Role.LEADER:
            raise ApiError(403, "领导账号只读，不能登记处置 / forbidden: the leader role is "
                                "read-only")  # fmt: skip
        if not user.may_act_on(state):
            raise ApiError(403, f"无权处置：{user.body} 不是该事件的责任单位 / forbidden: "
                                f"{user.body} is not responsible for {state.id}")  # fmt: skip

    async def record(action: Action, at_given: bool) -> JSONResponse:
        if deps.send is None:
            raise ApiError(503, "本服务不受理处置（未连接消息队列） / this server takes no "
                                "actions (no broker)")  # fmt: skip
        try:
            done = await submit_action(deps.store, action, deps.send, deps.clock(), at_given)
        except ActionRefused as exc:
            raise ApiError(exc.status, str(exc), exc.field) from None
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("action %s archived, not sent: %r", action.id, exc)
            raise ApiError(503, "处置已存档，但暂时无法送达处理队列：请稍后用同一请求重试"
                                "（同一编号不会重复登记）") from None  # fmt: skip
        headers = {"Idempotent-Replay": "true"} if done.duplicate else None
        return JSONResponse(done.as_json(), 200, headers=headers)

    @api.get("/me", summary="The token's user")
    async def me(user: Authed) -> dict[str, Any]:
        return {"name": user.name, "role": user.role.value, "body": user.body}

    @api.get("/incidents", summary="All incidents with grade, bodies, clocks and state")
    async def list_incidents(_: Authed) -> list[dict[str, Any]]:
        rows = await asyncio.to_thread(deps.store.incidents)
        return [incident_summary(r.state) for r in rows]

    @api.get("/incidents/{incident_id}", summary="One incident: clocks, actions, timeline")
    async def get_incident(incident_id: str, user: Authed) -> dict[str, Any]:
        state = await state_of(incident_id)
        return await asyncio.to_thread(_detail, deps, state, user)

    @api.post("/incidents/{incident_id}/actions", summary="Record an answer (idempotent by id)")
    async def act(incident_id: str, body: ActionIn, user: Authed) -> JSONResponse:
        may_act(user, await state_of(incident_id))
        if body.kind in ("merge", "split") and user.role not in (Role.DUTY, Role.ADMIN):
            raise ApiError(403, "合并、拆分事件仅限值班人员 / forbidden: only duty staff merge "
                                "or split incidents")  # fmt: skip
        now = deps.clock()
        action = Action(
            id=body.id or uuid.uuid4().hex, incident_id=incident_id, kind=body.kind,
            by=user.name, at=body.at or now, url=body.url, channel=body.channel,
            place=body.place, grade=Grade(body.grade) if body.grade else None, reason=body.reason,
            target=body.target, post_ids=tuple(body.post_ids),
        )  # fmt: skip
        return await record(action, at_given=body.at is not None)

    @api.get("/incidents/{incident_id}/candidates", summary="Candidate releases, not confirmed")
    async def list_candidates(incident_id: str, _: Authed) -> list[dict[str, Any]]:
        await state_of(incident_id)
        found = await asyncio.to_thread(
            candidates, deps.store, incident_id, deps.evidence, deps.clock()
        )
        return [_candidate_json(c) for c in found]

    @api.post(
        "/incidents/{incident_id}/candidates/{candidate_id}/confirm",
        summary="Confirm a candidate: a release timed at the official post's time",
    )
    async def confirm_candidate(incident_id: str, candidate_id: str, user: Authed) -> JSONResponse:
        may_act(user, await state_of(incident_id))
        found = await asyncio.to_thread(
            candidates, deps.store, incident_id, deps.evidence, deps.clock()
        )
        match = next((c for c in found if c.id == candidate_id), None)
        if match is None:
            raise ApiError(404, f"没有待确认的候选发布 {candidate_id!r} / no open candidate "
                                f"{candidate_id!r} for {incident_id}", "candidate_id")  # fmt: skip
        return await record(confirm(match, by=user.name), at_given=True)

    return api


def _candidate_json(c: Candidate) -> dict[str, Any]:
    return {
        "id": c.id, "incident_id": c.incident_id, "post_id": c.post_id, "kind": c.kind.value,
        "published_at": c.published_at.isoformat(), "url": c.url, "account": c.account,
        "body": c.body, "similarity": c.similarity,
    }  # fmt: skip


def _detail(deps: Deps, state: IncidentState, user: User) -> dict[str, Any]:
    now = deps.clock()
    out = incident_summary(state)
    for c in out["clocks"]:
        left = datetime.fromisoformat(c["deadline"]) - now
        c["seconds_left"] = int(left.total_seconds()) if c["status"] == "running" else None
    out["events"] = deps.store.events_of(state.id)
    out["audit"] = [
        {"at": r["at"], "who": r["who"], "what": r["what"], "detail": r["detail"]}
        for r in deps.store.audit_rows()
        if r["incident_id"] == state.id
    ]
    out["can_act"] = user.role is not Role.LEADER and user.may_act_on(state)
    out["now"] = now.isoformat()
    return out
