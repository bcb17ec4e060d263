"""The operator API (/api/v1/operator/...) and the public status (/api/v1/status, /status).

Operators authenticate with HTTP Basic against node.yaml `operators:` (the console's scrypt
hashes; no operators configured → every operator call is refused). Each call runs one
Procedure operation through `db.run` (a worker thread), then e-mails the notices it stored.
Errors are JSON `{"error": "..."}`: 400 bad input, 401 no login, 404 unknown, 409 refused by the law.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from twisted.internet import defer, threads
from twisted.logger import Logger
from twisted.web import resource, server

from node.conntest.plan import Step, TestCase
from node.context import NodeContext
from node.lifecycle.incidents import incident_to_dict
from node.lifecycle.notices import deliver_pending
from node.lifecycle.reasons import SuspensionCause, TerminationReason
from node.lifecycle.service import LifecycleError, Procedure, lifecycle_event_to_dict
from node.lifecycle.states import IllegalTransition
from node.lifecycle.status import public_status, render_status_html
from node.store.lifecycle_models import MinutesImmutable

__all__ = ["OperatorApi", "StatusPage", "mount"]

log = Logger()
MAX_BODY = 64 * 1024


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Call:
    operator: str
    params: dict[str, str]
    body: dict[str, Any]

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self.body.get(key, default)
        if not isinstance(value, str) or (required and not value.strip()):
            raise ApiError(400, f"/{key}: a non-empty string is required")
        return value


Handler = Callable[["OperatorApi", Call], Awaitable[Any]]


def _time(call: Call, key: str, *, required: bool = True) -> Any:
    from datetime import datetime

    value = call.body.get(key)
    if value is None and not required:
        return None
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise ApiError(400, f"/{key}: an ISO time with zone is required") from None
    if moment.tzinfo is None:
        raise ApiError(400, f"/{key}: the time needs a zone")
    return moment


class OperatorApi(resource.Resource):
    """/api/v1/operator/...: a leaf resource routing on the remaining path."""

    isLeaf = True

    def __init__(self, ctx: NodeContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.procedure = Procedure(ctx.config, clock=ctx.clock, audit=ctx.audit, form="api")
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = [
            ("GET", re.compile(r"partners/(?P<partner>[^/]+)"), OperatorApi.partner),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/conntest/plan"), OperatorApi.plan),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/conntest/cases"), OperatorApi.add_case),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/conntest/minutes"), OperatorApi.minutes),
            ("GET", re.compile(r"partners/(?P<partner>[^/]+)/conntest/minutes"), OperatorApi.show_minutes),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/conntest/confirm"), OperatorApi.confirm),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/conntest/runs"), OperatorApi.start_run),
            ("GET", re.compile(r"conntest/runs/(?P<run>\d+)"), OperatorApi.run_progress),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/golive"), OperatorApi.golive),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/suspend"), OperatorApi.suspend),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/resume"), OperatorApi.resume),
            ("POST", re.compile(r"partners/(?P<partner>[^/]+)/terminate"), OperatorApi.terminate),
            ("POST", re.compile(r"suspend"), OperatorApi.suspend),
            ("POST", re.compile(r"resume"), OperatorApi.resume),
            ("POST", re.compile(r"incidents"), OperatorApi.open_incident),
            ("GET", re.compile(r"incidents/(?P<incident>\d+)"), OperatorApi.incident),
            ("POST", re.compile(r"incidents/(?P<incident>\d+)/close"), OperatorApi.close_incident),
        ]

    # -- plumbing ------------------------------------------------------------------------------

    def render(self, request: server.Request) -> Any:
        d = defer.ensureDeferred(self._answer(request))
        d.addErrback(
            lambda f: log.failure("operator API", f) or self._send(request, 500, {"error": "internal"})
        )
        return server.NOT_DONE_YET

    def _send(self, request: server.Request, status: int, body: Any) -> None:
        if request.finished or getattr(request, "_disconnected", False):
            return
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"application/json")
        request.setHeader(b"Cache-Control", b"no-store")
        request.write(json.dumps(body, default=str).encode("utf-8"))
        request.finish()

    def _operator(self, header: str) -> str:
        """The operator behind an Authorization header (scrypt check: run it in a thread)."""
        if not header.lower().startswith("basic "):
            raise ApiError(401, "operator login required (HTTP Basic, node.yaml operators:)")
        try:
            user, _, password = base64.b64decode(header[6:]).decode("utf-8").partition(":")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(401, "malformed credentials") from None
        try:
            from node.console.operators import parse_operators
            from node.console.passwords import verify_password
        except ImportError:
            raise ApiError(401, "no operator accounts on this node") from None
        operators = parse_operators(self.ctx.config.section("operators"))
        operator = operators.get(user)
        if operator is None or operator.disabled or not verify_password(password, operator.password_hash):
            raise ApiError(401, "unknown operator or wrong password")
        return f"operator:{user}"

    async def _answer(self, request: server.Request) -> None:
        try:
            method = request.method.decode("ascii")
            path = "/".join(s.decode("utf-8") for s in request.postpath).strip("/")
            found = [
                (handler, match)
                for route_method, pattern, handler in self.routes
                if route_method == method and (match := pattern.fullmatch(path)) is not None
            ]
            if not found:
                raise ApiError(404, f"no operator route {method} /{path}")
            handler, match = found[0]
            header = (request.getHeader(b"authorization") or b"").decode("latin-1")
            operator = await threads.deferToThread(self._operator, header)
            body: dict[str, Any] = {}
            if method == "POST":
                raw = request.content.read(MAX_BODY + 1) if request.content else b""
                if len(raw) > MAX_BODY:
                    raise ApiError(413, "request body too large")
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    raise ApiError(400, "the body is not JSON") from None
                if not isinstance(body, dict):
                    raise ApiError(400, "the body must be a JSON object")
            result = await handler(self, Call(operator, match.groupdict(), body))
            self._send(request, 201 if method == "POST" else 200, result)
        except ApiError as exc:
            self._send(request, exc.status, {"error": str(exc)})
        except (LifecycleError, IllegalTransition, MinutesImmutable) as exc:
            self._send(request, 409, {"error": str(exc)})

    async def _run(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        result = await self.ctx.db.run(lambda session: fn(session, *args, **kwargs))
        await threads.deferToThread(deliver_pending, self.ctx.db.session, self.ctx.config, self.ctx.clock)
        return result

    # -- routes ----------------------------------------------------------------------------

    async def partner(self, call: Call) -> Any:
        partner_id = call.params["partner"]
        procedure = self.procedure

        def read(session: Any) -> dict[str, Any]:
            state = procedure.state(session, partner_id)
            history = [lifecycle_event_to_dict(e) for e in procedure.history(session, partner_id)]
            out: dict[str, Any] = {"partner": partner_id, "state": state.value, "history": history}
            try:
                _, plan = procedure.current_plan(session, partner_id)
                out["plan"] = plan.to_dict()
                out["results"] = [r.to_dict() for r in procedure.results(session, partner_id)]
            except LifecycleError:
                out["plan"] = None
            return out

        return await self.ctx.db.run(read)

    async def plan(self, call: Call) -> Any:
        foreign = bool(call.body.get("foreign", True))
        plan = await self._run(
            self.procedure.draw_up_plan, call.operator, call.params["partner"], foreign=foreign
        )
        return plan.to_dict()

    async def add_case(self, call: Call) -> Any:
        try:
            case = TestCase(
                id=call.text("id"),
                step=Step(call.body.get("step", "foreign")),
                purpose=call.text("purpose"),
                steps=tuple(str(s) for s in call.body.get("steps", ())),
                expected=call.text("expected"),
            )
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
        plan = await self._run(self.procedure.add_case, call.operator, call.params["partner"], case)
        return plan.to_dict()

    async def minutes(self, call: Call) -> Any:
        partner_id = call.params["partner"]
        await self._run(self.procedure.draw_up_minutes, call.operator, partner_id)
        return await self.ctx.db.run(self.procedure.minutes_document, partner_id)

    async def show_minutes(self, call: Call) -> Any:
        return await self.ctx.db.run(self.procedure.minutes_document, call.params["partner"])

    async def confirm(self, call: Call) -> Any:
        partner_id = call.params["partner"]
        await self._run(
            self.procedure.confirm,
            call.operator,
            partner_id,
            role=call.text("role"),
            name=call.text("name"),
            organisation=call.text("organisation", required=False),
            position=call.text("position", required=False),
            email=call.text("email", required=False),
            digest=call.body.get("digest"),
        )
        return await self.ctx.db.run(self.procedure.minutes_document, partner_id)

    async def start_run(self, call: Call) -> Any:
        from node.conntest.runner import start

        try:
            step = Step(call.body.get("step", "foreign"))
        except ValueError:
            raise ApiError(400, "/step: domestic or foreign") from None
        run_id, finished = await start(
            self.ctx, actor=call.operator, partner_id=call.params["partner"], step=step, form="api"
        )
        finished.addErrback(lambda f: log.failure("test run {run} failed", f, run=run_id))
        return {"run_id": run_id, "progress": f"/api/v1/operator/conntest/runs/{run_id}"}

    async def run_progress(self, call: Call) -> Any:
        return await self.ctx.db.run(self.procedure.progress, int(call.params["run"]))

    async def golive(self, call: Call) -> Any:
        at = _time(call, "at")
        row = await self._run(self.procedure.golive, call.operator, call.params["partner"], at)
        return {"partner": row.partner_id, "go_live_at": row.go_live_at.isoformat(), "status": row.status}

    async def suspend(self, call: Call) -> Any:
        partner_id = call.params.get("partner")
        default = SuspensionCause.VIOLATION if partner_id else SuspensionCause.MAINTENANCE
        try:
            cause = SuspensionCause(call.body.get("cause", default))
        except ValueError:
            raise ApiError(400, f"/cause: one of {', '.join(c.value for c in SuspensionCause)}") from None
        steps = call.body.get("restore_steps", [])
        if not isinstance(steps, list) or not all(isinstance(s, str) for s in steps):
            raise ApiError(400, "/restore_steps: a list of strings")
        row = await self._run(
            self.procedure.suspend,
            call.operator,
            partner_id,
            cause=cause,
            reason=call.text("reason"),
            starts_at=_time(call, "start", required=False),
            restore_at=_time(call, "restore", required=False),
            restore_steps=tuple(steps),
        )
        return {"suspension_id": row.id, "starts_at": row.starts_at.isoformat(), "notice_id": row.notice_id}

    async def resume(self, call: Call) -> Any:
        await self._run(
            self.procedure.resume, call.operator, call.params.get("partner"), evidence=call.text("evidence")
        )
        return {"restored": call.params.get("partner") or "all"}

    async def terminate(self, call: Call) -> Any:
        try:
            reason = TerminationReason(call.body.get("reason"))
        except ValueError:
            raise ApiError(400, f"/reason: one of {', '.join(r.value for r in TerminationReason)}") from None
        note = call.text("note", required=False)
        await self._run(
            self.procedure.terminate, call.operator, call.params["partner"], reason=reason, note=note
        )
        return {"terminated": call.params["partner"], "reason": reason.value}

    async def open_incident(self, call: Call) -> Any:
        partners = call.body.get("partners", [])
        if not isinstance(partners, list) or not all(isinstance(p, str) for p in partners):
            raise ApiError(400, "/partners: a list of partner ids ([] for all)")
        row = await self._run(
            self.procedure.open_incident,
            call.operator,
            title=call.text("title"),
            partners=tuple(partners),
            description=call.text("description", required=False),
        )
        return incident_to_dict(row)

    async def incident(self, call: Call) -> Any:
        return await self.ctx.db.run(self.procedure.incident_report, int(call.params["incident"]))

    async def close_incident(self, call: Call) -> Any:
        return await self._run(
            self.procedure.close_incident,
            call.operator,
            int(call.params["incident"]),
            repair_note=call.text("repair"),
        )


class StatusPage(resource.Resource):
    """Public: the status as JSON (`/api/v1/status`) or HTML (`/status`)."""

    isLeaf = True

    def __init__(self, ctx: NodeContext, *, html: bool) -> None:
        super().__init__()
        self.ctx = ctx
        self.html = html

    def render_GET(self, request: server.Request) -> Any:
        ctx = self.ctx

        def read(session: Any) -> dict[str, Any]:
            return public_status(session, ctx.clock(), party_id=ctx.config.party_id)

        def done(status: dict[str, Any]) -> None:
            if self.html:
                request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
                request.write(render_status_html(status).encode("utf-8"))
            else:
                request.setHeader(b"Content-Type", b"application/json")
                request.write(json.dumps(status).encode("utf-8"))
            request.finish()

        def failed(failure: Any) -> None:
            log.failure("status page", failure)
            request.setResponseCode(500)
            request.finish()

        ctx.db.read(read).addCallbacks(done, failed)
        return server.NOT_DONE_YET


class _ApiV1(resource.Resource):
    """/api/v1 with `operator` and `status` ours; every other path goes to the ministry API's leaf."""

    def __init__(self, ctx: NodeContext, ministry_api: resource.Resource | None) -> None:
        super().__init__()
        self.ministry_api = ministry_api
        self.putChild(b"operator", OperatorApi(ctx))
        self.putChild(b"status", StatusPage(ctx, html=False))

    def getChild(self, path: bytes, request: server.Request) -> resource.Resource:
        if self.ministry_api is None:
            return resource.NoResource()
        # Hand the segment back: the ministry API is a leaf that routes on request.postpath.
        request.postpath.insert(0, request.prepath.pop())
        return self.ministry_api

    def render(self, request: server.Request) -> Any:
        if self.ministry_api is not None:
            return self.ministry_api.render(request)
        return resource.NoResource().render(request)


def mount(ctx: NodeContext, root: resource.Resource) -> None:
    """Mount /api/v1/operator, /api/v1/status and /status beside what is already on `root`."""
    api = root.children.get(b"api")
    if api is None:
        api = resource.Resource()
        root.putChild(b"api", api)
    existing = api.children.get(b"v1")
    if isinstance(existing, _ApiV1):
        return
    api.putChild(b"v1", _ApiV1(ctx, existing))
    if b"status" not in root.children:
        root.putChild(b"status", StatusPage(ctx, html=True))
