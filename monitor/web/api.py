"""The HTTP API (FastAPI, OpenAPI at /docs): incidents, their timeline, and answers to them.

Every answer goes through monitor.runtime.actions.submit_action, the path `monitor act` takes,
so the API and the CLI refuse, archive, audit and send alike. Who acts is the token's user,
never a field of the request.

No `from __future__ import annotations` here: FastAPI reads the dependency annotations
(`Authed`, local to `router`) at definition time.
"""

import asyncio
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CollectorRegistry, Counter
from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from sse_starlette import EventSourceResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Scope

from monitor.domain.evidence import Candidate, EvidencePolicy, confirm
from monitor.domain.model import Grade
from monitor.domain.permissions import RULES, authorize, evidence_refusal
from monitor.domain.policy import FUTURE_SKEW_S
from monitor.domain.state import Action, ActionKind, IncidentState
from monitor.notify.outbox import Outbox
from monitor.notify.report import delivery_views
from monitor.runtime.actions import ActionRefused, Send, submit_action
from monitor.runtime.evidence import candidates
from monitor.runtime.views import by_urgency, incident_summary, totals
from monitor.store import Store
from monitor.store.users import Shares
from monitor.web import posts, reports
from monitor.web.auth import User, Users
from monitor.web.cache import ReadModel
from monitor.web.live import Feed, stream
from monitor.web.messages import in_chinese
from monitor.web.meta import Meta
from monitor.web.posts import MAX_PAGE
from monitor.web.reports import ReportRefused
from monitor.web.timeline import timeline

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
        message = "请求无效：" + "; ".join(problems)
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

_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_text(value: object) -> object:
    """Only an ISO 8601 text is a time here: pydantic would read 12345 (or "12345") as seconds
    since 1970, and an answer dated then is a typo, not an answer."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        raise ValueError(
            f"时间须为带时区的 ISO 8601 格式，例如 2026-11-25T14:30:00+08:00（expected an ISO "
            f"8601 time with a zone, got {value!r}）"
        )
    return value


IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_text)]


class ActionIn(BaseModel):
    """An answer. `id` makes it idempotent (send the same id when retrying); `at` is when it
    happened (a release's publication time), default now. Field lengths are the domain's
    (monitor.domain.state.Action), checked before anything is archived."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, min_length=1)
    kind: ActionKind
    at: IsoTime | None = None
    url: str | None = None
    channel: str | None = None
    place: str | None = None
    grade: Grade | None = None
    reason: str | None = None
    target: str | None = Field(None, description="merge: the incident that survives")
    post_ids: list[str] = Field(default_factory=list, description="split: posts to move out")

    @model_validator(mode="after")
    def _evidence(self) -> "ActionIn":
        # what each kind needs is monitor.domain.permissions', asked here to answer early
        refusal = evidence_refusal(self.kind, self.model_dump())
        if refusal is not None:
            raise ValueError(f"{refusal.zh}（{refusal.en}）")
        return self


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=120, description="a body from the city config")


@dataclass
class Deps:
    store: Store
    users: Users
    send: Send | None
    clock: Clock
    evidence: EvidencePolicy
    meta: Meta
    feed: Feed
    model: ReadModel
    skew_s: int = FUTURE_SKEW_S  # IncidentParams.future_skew_s from the city config
    outbox: Outbox | None = None  # the notifier's, for each incident's deliveries


_bearer = HTTPBearer(auto_error=False)


def _source(request: Request) -> str | None:
    return request.client.host if request.client else None


def router(deps: Deps) -> APIRouter:
    shares = Shares(deps.store)

    def current_user(
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> User:
        if creds is None:
            raise ApiError(401, "未登录：请提供访问令牌（Authorization: Bearer <令牌>）")
        user = deps.users.find(creds.credentials)
        if user is None:
            raise ApiError(401, "令牌无效或已被吊销，请向管理员重新申请")
        return user

    Authed = Annotated[User, Depends(current_user)]
    api = APIRouter(prefix="/api")

    def readable(user: User, state: IncidentState) -> bool:
        if user.reads_all:
            return True
        return user.may_read(state, shares.bodies(state.id))

    def _state_for(incident_id: str, user: User) -> IncidentState:
        state = deps.model.state(incident_id)
        if state is None:
            raise ApiError(404, f"事件不存在：{incident_id}", "incident_id")
        if not readable(user, state):
            raise ApiError(403, f"无权查看：{user.body} 不是事件 {incident_id} 的责任单位，"
                                "值班室也未共享给本单位")  # fmt: skip
        return state

    async def state_of(incident_id: str, user: User) -> IncidentState:
        return await asyncio.to_thread(_state_for, incident_id, user)

    def may_act(user: User, state: IncidentState, kind: ActionKind) -> None:
        refusal = authorize(user.role, user.body, kind, state)
        if refusal is not None:
            raise ApiError(403, refusal.zh)

    async def record(action: Action, at_given: bool, source: str | None) -> JSONResponse:
        if deps.send is None:
            raise ApiError(503, "本服务只读，不受理处置（未连接消息队列）")
        try:
            done = await submit_action(
                deps.store,
                action,
                deps.send,
                deps.clock(),
                at_given,
                source=source,
                skew_s=deps.skew_s,
            )
        except ActionRefused as exc:
            raise ApiError(exc.status, in_chinese(str(exc), exc.field), exc.field) from None
        except (KafkaError, OSError, TimeoutError) as exc:
            log.warning("action %s archived, not sent: %r", action.id, exc)
            raise ApiError(503, "处置已存档，但暂时无法送达处理队列：请稍后用同一请求重试"
                                "（同一编号不会重复登记）") from None  # fmt: skip
        headers = {"Idempotent-Replay": "true"} if done.duplicate else None
        return JSONResponse(done.as_json(), 200, headers=headers)

    @api.get("/me", summary="The token's user")
    async def me(user: Authed) -> Response:
        return reply({"name": user.name, "role": user.role.value, "body": user.body,
                      "role_label": user.role.label, "writes": user.writes,
                      "duty": user.duty})  # fmt: skip

    @api.get("/meta", summary="Labels and lists the dashboard needs: categories, bodies, grades")
    async def meta(_: Authed) -> Response:
        return reply(deps.meta.as_json())

    def _visible_states(user: User) -> list[IncidentState]:
        states = deps.model.states()
        if user.reads_all:
            return states
        shared = Shares(deps.store).incidents(user.body or "")
        return [s for s in states if user.may_read(s, [user.body or ""] if s.id in shared else [])]

    @api.get("/incidents", summary="The incidents this user may see, most urgent first")
    async def list_incidents(user: Authed) -> Response:
        def read() -> bytes:
            states = _visible_states(user)
            return _json.encode([incident_summary(s) for s in by_urgency(states)])

        return raw(await asyncio.to_thread(read))

    @api.get("/totals", summary="Counts for the top of the dashboard")
    async def list_totals(user: Authed) -> Response:
        states = await asyncio.to_thread(_visible_states, user)
        return reply(totals(states, deps.clock()))

    @api.get("/incidents/{incident_id}", summary="One incident: facts, clocks, timeline")
    async def get_incident(incident_id: str, user: Authed) -> Response:
        state = await state_of(incident_id, user)
        return reply(await asyncio.to_thread(_detail, deps, state, user))

    @api.get("/incidents/{incident_id}/posts", summary="The incident's posts, newest first")
    async def list_posts(
        incident_id: str, user: Authed,
        page: Annotated[int, Query(ge=1, le=100_000)] = 1,
        size: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    ) -> Response:  # fmt: skip
        state = await state_of(incident_id, user)

        def read() -> dict[str, Any]:
            n = posts.page_size(size)
            total, chosen = deps.model.page(state.id, state.merged_from, page, n)
            return posts.page(deps.store, total, chosen, page, n)

        return reply(await asyncio.to_thread(read))

    @api.post("/incidents/{incident_id}/actions", summary="Record an answer (idempotent by id)")
    async def act(incident_id: str, body: ActionIn, user: Authed, request: Request) -> JSONResponse:
        may_act(user, await state_of(incident_id, user), body.kind)
        now = deps.clock()
        action = Action(
            id=body.id or uuid.uuid4().hex, incident_id=incident_id, kind=body.kind,
            by=user.name, at=body.at or now, url=body.url, channel=body.channel,
            place=body.place, grade=body.grade, reason=body.reason,
            target=body.target, post_ids=tuple(body.post_ids),
        )  # fmt: skip
        return await record(action, at_given=body.at is not None, source=_source(request))

    @api.post("/incidents/{incident_id}/shares", summary="Duty staff: let a body read it")
    async def share(
        incident_id: str, body: ShareIn, user: Authed, request: Request
    ) -> dict[str, Any]:
        state = await state_of(incident_id, user)
        if not user.duty:
            raise ApiError(403, "只有值班人员可以共享事件")
        if body.body not in deps.meta.bodies:
            raise ApiError(422, f"未知单位：{body.body}", "body")
        if body.body in state.responsible.bodies:
            raise ApiError(409, f"{body.body} 已是该事件的责任单位，无需共享", "body")
        now = deps.clock()

        def write() -> bool:
            new = shares.add(incident_id, body.body, user.name, now)
            if new:
                detail = {"body": body.body, "source": _source(request)}
                deps.store.audit(user.name, "share", incident_id, detail, now=now)
            return new

        new = await asyncio.to_thread(write)
        return {"incident_id": incident_id, "shared_with": shares.bodies(incident_id), "new": new}

    @api.delete("/incidents/{incident_id}/shares/{body}", summary="Duty staff: stop sharing")
    async def unshare(
        incident_id: str, body: str, user: Authed, request: Request
    ) -> dict[str, Any]:
        await state_of(incident_id, user)
        if not user.duty:
            raise ApiError(403, "只有值班人员可以取消共享")
        now = deps.clock()

        def write() -> bool:
            gone = shares.remove(incident_id, body)
            if gone:
                detail = {"body": body, "source": _source(request)}
                deps.store.audit(user.name, "unshare", incident_id, detail, now=now)
            return gone

        if not await asyncio.to_thread(write):
            raise ApiError(404, f"该事件未共享给 {body}", "body")
        return {"incident_id": incident_id, "shared_with": shares.bodies(incident_id)}

    @api.get("/incidents/{incident_id}/candidates", summary="Candidate releases, not confirmed")
    async def list_candidates(incident_id: str, user: Authed) -> list[dict[str, Any]]:
        await state_of(incident_id, user)
        found = await asyncio.to_thread(
            candidates, deps.store, incident_id, deps.evidence, deps.clock()
        )
        return [_candidate_json(c) for c in found]

    @api.post(
        "/incidents/{incident_id}/candidates/{candidate_id}/confirm",
        summary="Confirm a candidate: a release timed at the official post's time",
    )
    async def confirm_candidate(
        incident_id: str, candidate_id: str, user: Authed, request: Request
    ) -> JSONResponse:
        # before the lookup: no probing for outsiders (release and follow_up share one rule)
        may_act(user, await state_of(incident_id, user), ActionKind.RELEASE)
        found = await asyncio.to_thread(
            candidates, deps.store, incident_id, deps.evidence, deps.clock()
        )
        match = next((c for c in found if c.id == candidate_id), None)
        if match is None:
            raise ApiError(404, f"没有待确认的候选发布：{candidate_id}", "candidate_id")
        return await record(confirm(match, by=user.name), at_given=True, source=_source(request))

    @api.get(
        "/reports/compliance",
        summary="Response compliance per department and county (the leaders' view, read-only)",
        description="The figures of `monitor report`, over the last `days` days (default 30) "
        "or `from`–`to` (days, Beijing time, `to` included). A department reads only its own.",
    )
    async def compliance_report(
        user: Authed,
        days: Annotated[int | None, Query(ge=1, le=3660)] = None,
        start: Annotated[str | None, Query(alias="from", max_length=40)] = None,
        end: Annotated[str | None, Query(alias="to", max_length=40)] = None,
        body: Annotated[str | None, Query(max_length=120)] = None,
        format: Literal["json", "csv", "html"] = "json",
    ) -> Response:
        now = deps.clock()
        try:
            period = reports.period_of(now, days, start, end)
            scoped = reports.scope(user.role, user.body, body, list(deps.meta.bodies))
        except ReportRefused as exc:
            raise ApiError(exc.status, str(exc), exc.field) from None

        def read() -> Any:
            states = deps.model.states()
            return reports.build(deps.store, states, period, now, scoped)

        content, media = reports.rendered(await asyncio.to_thread(read), format)
        if isinstance(content, dict):
            return reply(content)
        return Response(content, media_type=media)

    @api.get(
        "/stream", summary="Live push (Server-Sent Events); send Last-Event-ID to resume",
        response_class=EventSourceResponse,
    )  # fmt: skip
    async def live(
        user: Authed,
        creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> EventSourceResponse:
        token = creds.credentials if creds else ""
        resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else None

        def still_valid() -> bool:
            return deps.users.find(token) is not None

        events = stream(deps.feed, deps.store, user, resume, still_valid)
        return EventSourceResponse(events, ping=15, headers={"Cache-Control": "no-store"})

    return api


_json = msgspec.json.Encoder()


def _mark_backdated(actions: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
    """When the action was recorded, and whether it was entered after the fact, where the
    worker's `action_recorded` event says so."""
    recorded = {
        (e.get("data") or {}).get("action_id"): e.get("data") or {}
        for e in events if e["kind"] == "action_recorded"
    }  # fmt: skip
    for a in actions:
        data = recorded.get(a["id"], {})
        if "recorded_at" in data:
            a["recorded_at"] = data["recorded_at"]
            a["backdated"] = bool(data.get("backdated"))


def raw(body: bytes) -> Response:
    return Response(body, media_type="application/json")


def reply(data: Any) -> Response:
    """JSON by msgspec: FastAPI's own encoder walked every nested value of an incident list
    on each request, which cost more than building the list."""
    return raw(_json.encode(data))


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
    events = deps.model.log(state.id).events
    audit = deps.store.audit_of(state.id)
    members = deps.model.tally(state.id, state.merged_from)
    labels = {r.name: r.label for r in state.policy.rules}
    out["timeline"] = timeline(events, audit, labels)
    _mark_backdated(out["actions"], events)
    out["facts"] = members.facts
    out["heat"] = members.heat()
    out["posts_total"] = members.count
    out["shared_with"] = Shares(deps.store).bodies(state.id)
    out["notifications"] = (
        delivery_views(deps.outbox.for_incident(state.id), now) if deps.outbox else []
    )
    out["can_act"] = user.may_act_on(state)
    # the kinds this user may record here, as authorize() decides: the page keeps no copy
    out["allowed_kinds"] = [
        k.value for k in RULES if authorize(user.role, user.body, k, state) is None
    ]
    out["duty"] = user.duty
    out["now"] = now.isoformat()
    return out
