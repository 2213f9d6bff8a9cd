"""The routes: make_app(engine) -> a FastAPI app (its schema at /docs and /openapi.json).

    GET  /                the page (static/index.html)
    GET  /docs            the API's Swagger UI, its files served from here (no network needed)
    GET  /v1/health       {"status": "ok", ...}
    GET  /v1/model        level, context, vocabulary size, which folder, the limits
    POST /v1/suggest      {"text", "k"} -> the k likeliest next tokens      (micro-batched)
    POST /v1/complete     {"text", "k"} -> the words that finish the last one (micro-batched)
    POST /v1/generate     {"text", "words", "temperature", ...} -> NDJSON, one line per token
    POST /v1/score        {"text"} -> perplexity, bits per token, accuracies
    GET  /v1/sessions/{id}     the words a session learned (404: none kept)
    DELETE /v1/sessions/{id}   forget a session at once (204; 404: none kept)

Suggest and complete go through a MicroBatcher each, both on one model thread;
generate and score (long calls) run on a second thread so they never hold up typing.
With a "session", suggest, complete and score send their answer first, then hand the text
to the learning thread (server/sessions.py), so learning never delays an answer.
"""

# No `from __future__ import annotations`: the request models are made per app (with its limits), and
# FastAPI must see the classes themselves, not their names, in the route signatures.
import asyncio
import contextlib
import gc
import json
import random
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fastapi import BackgroundTasks, FastAPI, Path as PathParameter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException
from swagger_ui_bundle import swagger_ui_path

from word_predictor.scoring.sampling import check_settings
from word_predictor.server.batching import DEFAULT_MAX_WAIT, MicroBatcher
from word_predictor.server.engine import Engine, score_text
from word_predictor.server.errors import BodyLimit, error_response, install_handlers
from word_predictor.server.hosts import LOOPBACK_NAMES, HostCheck
from word_predictor.server.limits import DEFAULT_LIMITS, Limits
from word_predictor.server.model_calls import by_session, complete_batch, suggest_batch, warm_up, warm_up_learning
from word_predictor.server.schemas import (
    SESSION_ID_PATTERN, CompleteAnswer, HealthAnswer, ModelAnswer, ScoreAnswer, SessionAnswer, SessionsInfo,
    SuggestAnswer, request_models,
)  # fmt: skip
from word_predictor.server.sessions import SessionRefused, Sessions, counted

STATIC = Path(__file__).parent / "static"
API_VERSION = "v1"


def make_app(
    engine: Engine, limits: Limits = DEFAULT_LIMITS, *, batching: bool = True, max_wait: float = DEFAULT_MAX_WAIT,
    hosts: Iterable[str] = LOOPBACK_NAMES,
) -> FastAPI:
    """The app over `engine`; it answers only requests whose Host is one of `hosts` or the
    address the connection arrived at (word_predictor/server/hosts.py says why)."""
    warm_up(engine.predictor)  # the model's first calls build its functions, once, before two threads can race
    sessions = Sessions(engine.predictor, limits)
    if not sessions.unavailable:
        warm_up_learning(sessions.open("warm-up").learner)
        sessions.forget("warm-up")
    model_thread = ThreadPoolExecutor(1, thread_name_prefix="model")
    long_thread = ThreadPoolExecutor(1, thread_name_prefix="generate")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        expiring = asyncio.get_running_loop().create_task(_expire_now_and_then(sessions))
        yield
        expiring.cancel()
        sessions.close()
        for thread in (model_thread, long_thread):
            thread.shutdown(wait=False, cancel_futures=True)

    # FastAPI's own /docs and /redoc load their scripts from a CDN, blank offline: /docs is served below
    app = FastAPI(title="word_predictor", version=API_VERSION, lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Next-word suggestions, completions, generation and scores from one trained model.")  # fmt: skip
    install_handlers(app)

    @app.exception_handler(SessionRefused)
    async def refused(request: Request, error: SessionRefused):
        return error_response(error.status, str(error))

    app.add_middleware(BodyLimit, limits=limits)
    app.add_middleware(HostCheck, names=hosts)  # added last: it runs first, before a body is read
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _add_docs(app)

    @app.get("/", include_in_schema=False)
    async def page():
        return FileResponse(STATIC / "index.html")

    models = request_models(limits)
    settings = {"max_wait": max_wait, "enabled": batching, "executor": model_thread}
    _add_typing_routes(app, engine, limits, models, settings, sessions)
    _add_long_routes(app, engine.predictor, limits, models, long_thread, sessions)
    _add_session_routes(app, sessions)
    return app


async def _learn_later(sessions: Sessions, session, text: str, whole: bool = False) -> None:
    """sessions.learn_later as a background task on the event loop (Starlette runs a plain
    function's in a thread of its own, a hop for nothing)."""
    sessions.learn_later(session, text, whole)


async def _expire_now_and_then(sessions: Sessions) -> None:
    """Forget idle sessions even when no request comes to do it (each request does too)."""
    while True:
        await asyncio.sleep(min(60.0, sessions.limits.session_idle_seconds / 2))
        sessions.expire()


def _add_docs(app: FastAPI) -> None:
    """/docs: Swagger UI from the files of the swagger-ui-bundle-v2 package (the serve extra)."""
    app.mount("/docs/assets", StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs():
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} API",
                                   swagger_js_url="/docs/assets/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/assets/swagger-ui.css",
                                   swagger_favicon_url="/docs/assets/favicon-32x32.png")  # fmt: skip


def freeze_what_is_loaded() -> None:
    """Put every object alive now (Keras, the model, the app: they live as long as the server)
    out of the garbage collector's reach. A full collection otherwise walks them all, a pause
    of hundreds of milliseconds on a Keras run that every request waiting then shares
    (the p99 at concurrency 64, docs/benchmarks.md, "Server"); requests' own objects are
    still collected."""
    gc.collect()
    gc.freeze()


def _add_typing_routes(app: FastAPI, engine: Engine, limits: Limits, models: dict, settings: dict,
                       sessions: Sessions) -> None:  # fmt: skip
    """suggest and complete (each through a MicroBatcher on the model thread; with a session,
    another, whose answers are its learner's), health, model."""
    predictor = engine.predictor
    suggesting = MicroBatcher(lambda items: suggest_batch(predictor, items), **settings)
    completing = MicroBatcher(lambda items: complete_batch(predictor, items), **settings)
    session_suggesting = MicroBatcher(by_session(suggest_batch), **settings)
    session_completing = MicroBatcher(by_session(complete_batch), **settings)

    async def answer(request, plain: MicroBatcher, learning: MicroBatcher, after: BackgroundTasks):
        if request.session is None:
            return await plain.submit(request)
        session = sessions.open(request.session)
        found = await learning.submit((request, session))
        # once the answer is sent (learning meanwhile would slow its sending); a refused request never gets here
        after.add_task(_learn_later, sessions, session, request.text)
        return found

    batchers = (suggesting, completing, session_suggesting, session_completing)
    SuggestRequest, CompleteRequest = models["suggest"], models["complete"]

    @app.get("/v1/health", response_model=HealthAnswer)
    async def health():
        return HealthAnswer(status="ok", requests=sum(batcher.answered for batcher in batchers),
                            model_calls=sum(batcher.calls for batcher in batchers))  # fmt: skip

    @app.get("/v1/model", response_model=ModelAnswer)
    async def model():
        return model_answer(engine, limits, settings["enabled"], sessions)

    @app.post("/v1/suggest", response_model=SuggestAnswer)
    async def suggest(request: SuggestRequest, after: BackgroundTasks):
        return await answer(request, suggesting, session_suggesting, after)

    @app.post("/v1/complete", response_model=CompleteAnswer)
    async def complete(request: CompleteRequest, after: BackgroundTasks):
        return await answer(request, completing, session_completing, after)


def _add_long_routes(app: FastAPI, predictor, limits: Limits, models: dict, long_thread: ThreadPoolExecutor,
                     sessions: Sessions) -> None:  # fmt: skip
    """generate (streamed) and score, on their own thread so they never hold up typing."""
    GenerateRequest, ScoreRequest = models["generate"], models["score"]

    @app.post("/v1/generate", responses={200: {"content": {"application/x-ndjson": {}},
              "description": 'one JSON object a line: {"token", "text"} per token, then {"done": true, ...}'}})  # fmt: skip
    async def generate(request: GenerateRequest):
        try:
            check_settings(request.temperature, request.top_k, request.top_p)
        except ValueError as error:
            raise HTTPException(422, str(error)) from None
        stream = generation_lines(predictor, request, limits, long_thread)
        return StreamingResponse(stream, media_type="application/x-ndjson")

    @app.post("/v1/score", response_model=ScoreAnswer)
    async def score(request: ScoreRequest, after: BackgroundTasks):
        loop = asyncio.get_running_loop()
        session = sessions.open(request.session) if request.session is not None else None
        try:
            scores = await loop.run_in_executor(long_thread, score_text, predictor, request.text)
        except ValueError as error:  # too short to score: nothing learned
            raise HTTPException(422, str(error)) from None
        if session is not None:
            after.add_task(_learn_later, sessions, session, request.text, whole=True)
        return ScoreAnswer(**{key: value for key, value in scores.items() if key in ScoreAnswer.model_fields})


def _add_session_routes(app: FastAPI, sessions: Sessions) -> None:
    """What a session learned, and forgetting it (server/sessions.py keeps them)."""
    name = PathParameter(min_length=1, max_length=sessions.limits.session_id_chars, pattern=SESSION_ID_PATTERN)

    @app.get("/v1/sessions/{session}", response_model=SessionAnswer, responses={404: {"description": "none kept"}})
    async def learned(session: str = name):
        found = sessions.find(session)
        if found is None:
            raise HTTPException(404, f"no session {session!r} is kept (never used, forgotten, or idle too long)")
        words, positions = await asyncio.wrap_future(sessions.learned(found))  # after the learning queued before
        return SessionAnswer(session=session, words=counted(words), positions=positions)

    @app.delete("/v1/sessions/{session}", status_code=204, responses={404: {"description": "none kept"}})
    async def forget(session: str = name):
        if not sessions.forget(session):
            raise HTTPException(404, f"no session {session!r} is kept (never used, forgotten, or idle too long)")
        return Response(status_code=204)


def model_answer(engine: Engine, limits: Limits, batching: bool, sessions: Sessions) -> ModelAnswer:
    config = engine.predictor.config
    return ModelAnswer(
        engine=engine.kind, source=str(engine.source), level=config.level, context=config.context,
        window_size=engine.predictor.context.longest_context,
        vocabulary_size=len(engine.predictor.vocabulary), cell=config.cell, layers=config.layers,
        units=config.units, batching=batching, limits=vars(limits),
        sessions=SessionsInfo(available=sessions.unavailable is None, reason=sessions.unavailable),
    )  # fmt: skip


class _Stopped(Exception):
    """Raised inside the generation thread to end it: the client left, or time ran out."""


async def generation_lines(predictor, request, limits: Limits, thread: ThreadPoolExecutor):
    """NDJSON lines: {"token", "text"} for each token as it is drawn ("text" is what to append
    to what is shown: a space before a word), then {"done", "stopped", "tokens", "seed"}.

    The model runs in `thread`; if the client leaves, this generator is closed and the
    thread stops at its next token. Generation ends after `limits.generate_seconds`."""
    loop = asyncio.get_running_loop()
    tokens: asyncio.Queue = asyncio.Queue()
    left = threading.Event()
    deadline = time.monotonic() + limits.generate_seconds
    seed = request.seed if request.seed is not None else random.SystemRandom().randrange(2**32)

    def on_token(sample: int, token: str) -> None:
        if left.is_set():
            raise _Stopped("client")
        loop.call_soon_threadsafe(tokens.put_nowait, token)
        if time.monotonic() > deadline:
            raise _Stopped("time")

    def write() -> str:
        try:
            generation = predictor.generate(request.text, request.words, temperature=request.temperature,
                                            top_k=request.top_k, top_p=request.top_p, seed=seed, on_token=on_token)  # fmt: skip
        except _Stopped as stop:
            return str(stop)
        except ValueError as error:  # settings the checks above let through: said on the last line
            return f"error: {error}"
        return "stop" if generation.samples[0].stopped else "length"

    finished = loop.run_in_executor(thread, write)
    finished.add_done_callback(lambda _: tokens.put_nowait(None))
    started = bool(predictor.tokenize(request.text))
    written = 0
    try:
        while (token := await tokens.get()) is not None:
            piece = predictor.join(["", token]) if started else token
            started, written = True, written + 1
            yield json.dumps({"token": token, "text": piece}) + "\n"
        reason = await finished
        yield json.dumps({"done": True, "stopped": reason, "tokens": written, "seed": seed}) + "\n"
    finally:
        left.set()
