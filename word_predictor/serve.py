"""python -m word_predictor.serve: suggestions over HTTP, and a page that suggests as you type.

The library it calls is word_predictor.server (the app, the batching, the page).

    python -m word_predictor.serve --run logs/RUN        http://127.0.0.1:8000/ (the page), /docs (the API)

It binds to 127.0.0.1 unless --host says otherwise and does no authentication: put
it behind a reverse proxy that does before letting others reach it. It answers only
requests addressed to localhost, 127.0.0.1, [::1] or --host (more with --allow-host),
and bounds what one connection may hold (word_predictor/server/connections.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import errno
import socket
import sys
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.errors import UsageError, UserError
from word_predictor.server.limits import DEFAULT_LIMITS


def _at_most(parse, most: float, what: str):
    """`parse` (a cli number type, which sets the lower end) with an upper end, `what` saying both."""

    def checked(text: str):
        value = parse(text)
        if value > most:
            raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
        return value

    checked.__name__ = what
    return checked


port_number = _at_most(cli.non_negative_int, 65535, "a port from 0 to 65535")
# A wait is added to every suggestion: past a second the page no longer suggests as one types.
batch_wait_ms = _at_most(cli.non_negative_float, 1000, "from 0 to 1000 (ms)")
head_seconds = _at_most(cli.positive_float, 300, "more than 0 and at most 300 (seconds)")
connection_count = _at_most(cli.positive_int, 10_000, "from 1 to 10000")
# Sessions live in memory: each holds up to --session-positions x units float32 numbers.
session_count = _at_most(cli.non_negative_int, 100_000, "from 0 to 100000")
position_count = _at_most(cli.positive_int, 100_000, "from 1 to 100000")
idle_seconds = _at_most(cli.positive_float, 7 * 86_400, "more than 0 and at most 604800 (a week, in seconds)")


def allowed_host(text: str) -> str:
    from word_predictor.server.hosts import allowed_name

    try:
        return allowed_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.serve",
        description="Serve a trained run over HTTP: a JSON API (/docs) and a page that suggests words as you type (/).",
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run", type=Path, help="run folder to serve (default: the newest complete run)")
    source.add_argument("--model", type=Path, metavar="EXPORTED_DIR",
                        help="an exported ONNX folder (python -m word_predictor.export --format onnx), served by "
                             "ONNX Runtime without Keras; --run takes one too")  # fmt: skip
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    backend.add_backend_argument(parser)
    cli.add_engine_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 is every "
                             "interface: the server has no authentication)")  # fmt: skip
    parser.add_argument("--port", type=port_number, default=8000,
                        help="port to listen on (default: 8000; 0 picks a free one)")
    parser.add_argument("--allow-host", type=allowed_host, action="append", default=[], metavar="NAME",
                        help="a host name the server also answers for (repeatable); by default it answers only "
                             "requests addressed to localhost, 127.0.0.1, [::1] or --host, so that a web page "
                             "cannot reach it through DNS rebinding")  # fmt: skip
    parser.add_argument("--no-batching", action="store_true",
                        help="one model call per request instead of one per batch of waiting requests (to compare)")
    parser.add_argument("--batch-wait-ms", type=batch_wait_ms, default=0.0, metavar="MS",
                        help="how long a batch waits for more requests before the model call, in ms, at most 1000 "
                             "(default: 0, batch what arrived while the model was busy)")  # fmt: skip
    parser.add_argument("--head-seconds", type=head_seconds, default=DEFAULT_LIMITS.head_seconds, metavar="SECONDS",
                        help="time a client has to send a request's line and headers before the connection is "
                             f"closed, at most 300 (default: {DEFAULT_LIMITS.head_seconds:g})")  # fmt: skip
    parser.add_argument("--max-connections", type=connection_count, default=DEFAULT_LIMITS.connections, metavar="N",
                        help="connections open at once; one more is answered 503 and closed "
                             f"(default: {DEFAULT_LIMITS.connections})")  # fmt: skip
    _add_session_arguments(parser)
    return parser


def _add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """The bounds on the sessions that learn from what their users type (docs/serving.md, "Sessions")."""
    parser.add_argument("--max-sessions", type=session_count, default=DEFAULT_LIMITS.sessions, metavar="N",
                        help="sessions kept in memory at once, the least recently used forgotten to make room, at "
                             f"most 100000 (default: {DEFAULT_LIMITS.sessions}; 0: requests naming a session are "
                             "refused)")  # fmt: skip
    parser.add_argument("--session-positions", type=position_count, default=DEFAULT_LIMITS.session_positions,
                        metavar="N", help="words a session remembers, the oldest forgotten first, at most 100000 "
                                          f"(default: {DEFAULT_LIMITS.session_positions})")  # fmt: skip
    parser.add_argument("--session-idle-seconds", type=idle_seconds, default=DEFAULT_LIMITS.session_idle_seconds,
                        metavar="SECONDS", help="a session unused this long is forgotten, at most 604800 "
                                                f"(default: {DEFAULT_LIMITS.session_idle_seconds:g})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.serve", lambda: _serve(args))


def _serve(args: argparse.Namespace) -> int:
    try:
        import uvicorn  # noqa: F401  (used by server_config and _announcing_server)

        from word_predictor.server.app import make_app
        from word_predictor.server.connections import server_config
        from word_predictor.server.engine import Engine, kind_of
    except ImportError as error:
        raise UserError(f"the server needs its extra ({error.name} is missing): {_install_hint()}") from None
    if args.model is not None and kind_of(args.model) != "model":
        raise UsageError(f"--model {args.model} is not an exported folder (no manifest.json); a run is --run DIR")
    path = args.model if args.model is not None else cli.chosen_run(args.run, args.logdir)
    listener = _listening_socket(args.host, args.port)  # before the model loads: a bad address fails at once
    # word_predictor.engines picks ONNX Runtime or Keras (then on --backend) for the folder
    from word_predictor import engines

    # Not `adapts`: a run whose ONNX model predates the hidden output is still answered by the
    # runtime (a Keras-free install has no other), its sessions refused with the reason.
    answering, predictor = engines.load_named(path, args.engine, args.backend, verbose=args.verbose)
    engine = Engine(predictor, answering, Path(path))
    from word_predictor.server.hosts import served_names

    limits = dataclasses.replace(DEFAULT_LIMITS, head_seconds=args.head_seconds, connections=args.max_connections,
                                 sessions=args.max_sessions, session_positions=args.session_positions,
                                 session_idle_seconds=args.session_idle_seconds)  # fmt: skip
    app = make_app(engine, limits, batching=not args.no_batching, max_wait=args.batch_wait_ms / 1000,
                   hosts=served_names(args.host, args.allow_host))  # fmt: skip
    # log_config=None: uvicorn's warnings go through Python's default handler to whatever stderr
    # is then, not to handlers bound at start-up to the stderr of that moment.
    config = server_config(app, limits, host=args.host, port=args.port, log_level="warning", access_log=False,
                           log_config=None)  # fmt: skip
    _announcing_server()(config, str(engine.source)).run(sockets=[listener])
    return 0


def _install_hint() -> str:
    """The install that adds the server: its extra, Keras-free as the package's own
    dependencies are (Keras comes with the tensorflow, jax or train extras)."""
    return "pip install -e '.[serve]'"


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to host:port (a name, an IPv4 or an IPv6 address), or one line saying
    why not. Bound here rather than by uvicorn, which logs the error and exits: the reason
    (a name that does not resolve, a port in use, one that needs privileges) is the line."""
    try:
        family, kind, protocol, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                                flags=socket.AI_PASSIVE)[0]  # fmt: skip
        listener = socket.socket(family, kind, protocol)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
    except OSError as error:
        hint = " (try --port 0, a free one)" if error.errno == errno.EADDRINUSE else ""
        raise UserError(f"could not listen on {host}:{port}: {error.strerror or error}{hint}") from None
    return listener


def _announcing_server():
    """uvicorn.Server that prints its URL once bound (with --port 0 the port is known only then)."""
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        def __init__(self, config, source: str):
            super().__init__(config)
            self.source = source

        async def startup(self, sockets=None):
            await super().startup(sockets)
            from word_predictor.server.app import freeze_what_is_loaded

            freeze_what_is_loaded()  # everything is loaded and warmed up by now
            for listener in self.servers:
                for bound in listener.sockets:
                    host, port = bound.getsockname()[:2]
                    shown = f"[{host}]" if ":" in host else host
                    print(f"serving {self.source} on http://{shown}:{port}/ (the API: http://{shown}:{port}/docs); "
                          "Ctrl-C stops", flush=True)  # fmt: skip

    return AnnouncingServer


if __name__ == "__main__":
    sys.exit(main())
