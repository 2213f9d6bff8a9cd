"""Every error the server answers is a 4xx (or, for a bug, a 500) with one line of JSON:

    {"error": "k: must be at most 50, got 99"}

FastAPI's own validation answer (a list of dicts) is replaced by its first problem on
one line; a body over the cap, or one that arrives too slowly, is refused before any
route reads it (BodyLimit), so no route ever buffers more than the cap.
"""

from __future__ import annotations

import asyncio
import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from word_predictor.server.limits import Limits


def error_response(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": " ".join(str(message).split())}, status_code=status)


def validation_message(error: RequestValidationError) -> tuple[int, str]:
    """(status, one line) for the first problem: 400 for a body that is not JSON, else 422."""
    problems = error.errors()
    first = problems[0] if problems else {"msg": "invalid request", "loc": (), "type": ""}
    if first.get("type") == "json_invalid":
        return 400, json_problem(first.get("ctx", {}).get("error", first["msg"]), first.get("loc", ()), error.body)
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "body")
    message = f"{where}: {first['msg']}" if where else first["msg"]
    if first.get("type") == "model_attributes_type":
        message = "the body must be a JSON object"
    more = len(problems) - 1
    return 422, message + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def json_problem(reason: str, location: tuple, document) -> str:
    """What is wrong with a body that is not JSON, and where: "the body is not valid JSON: extra
    data after the JSON value at byte 13". `location` is FastAPI's ("body", character index
    into `document`, the decoded body)."""
    position = location[-1] if location and isinstance(location[-1], int) else None
    where = ""
    if position is not None and isinstance(document, str):
        where = f" at byte {len(document[:position].encode('utf-8', 'surrogatepass'))}"
    if reason == "Extra data":
        return f"the body is not valid JSON: extra data after the JSON value{where} (send one JSON object)"
    return f"the body is not valid JSON: {reason[:1].lower()}{reason[1:]}{where}"


def unparsed_body_message(cause: BaseException | None) -> str:
    """Why FastAPI could not parse a body (the exception behind its "error parsing the body")."""
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not valid UTF-8 at byte {cause.start} (0x{cause.object[cause.start]:02x})"
    if isinstance(cause, RecursionError):
        return "the body's JSON nests too deep (arrays or objects inside each other)"
    return "the body is not valid JSON in UTF-8"


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError):
        content_type = request.headers.get("content-type", "")
        if request.method == "POST" and content_type.split(";")[0].strip() != "application/json":
            return error_response(415, f"send the body as JSON with Content-Type: application/json, not {content_type!r}")
        return error_response(*validation_message(error))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException):
        if error.status_code == 404 and error.detail == "Not Found":
            return error_response(404, f"no such route: {request.url.path} (the API is under /v1; see /docs)")
        if error.status_code == 400 and error.detail == "There was an error parsing the body":
            return error_response(400, unparsed_body_message(error.__cause__))
        if error.status_code == 405:
            return error_response(405, f"{request.method} is not allowed on {request.url.path} (see /docs)")
        return error_response(error.status_code, error.detail)

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception):  # logged by uvicorn; the client gets one line
        return error_response(500, f"internal error ({type(error).__name__}); the server goes on serving")


class BodyLimit:
    """ASGI middleware: read a request's body (at most `limits.body_bytes`, within
    `limits.body_seconds`) before the app sees it, answering 413 or 408 otherwise."""

    def __init__(self, app, limits: Limits):
        self.app = app
        self.limits = limits

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limits.body_bytes):
            return await self._refuse(send, 413, f"the body is larger than {self.limits.body_bytes:,} bytes")
        try:
            body = await asyncio.wait_for(self._read(receive), self.limits.body_seconds)
        except asyncio.TimeoutError:
            return await self._refuse(send, 408, f"the body did not arrive within {self.limits.body_seconds:g} s")
        except _TooLarge:
            return await self._refuse(send, 413, f"the body is larger than {self.limits.body_bytes:,} bytes")
        except _Gone:
            return None
        delivered = False

        async def replay():
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: only http.disconnect comes

        return await self.app(scope, replay, send)

    async def _read(self, receive) -> bytes:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Gone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    async def _refuse(send, status: int, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]  # fmt: skip
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass
