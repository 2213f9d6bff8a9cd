"""python -m word_predictor.serve: suggestions over HTTP, and a page that suggests as you type.

The library it calls is word_predictor.server (the app, the batching, the page).

    python -m word_predictor.serve --run logs/RUN        http://127.0.0.1:8000/ (the page), /docs (the API)

It binds to 127.0.0.1 unless --host says otherwise and does no authentication: put
it behind a reverse proxy that does before letting others reach it.
"""

from __future__ import annotations

import argparse
import errno
import socket
import sys
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.errors import UsageError, UserError


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
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only; 0.0.0.0 is every "
                             "interface: the server has no authentication)")  # fmt: skip
    parser.add_argument("--port", type=cli.non_negative_int, default=8000,
                        help="port to listen on (default: 8000; 0 picks a free one)")
    parser.add_argument("--no-batching", action="store_true",
                        help="one model call per request instead of one per batch of waiting requests (to compare)")
    parser.add_argument("--batch-wait-ms", type=cli.non_negative_float, default=0.0,
                        help="how long a batch waits for more requests before the model call, in ms (default: 0, "
                             "batch what arrived while the model was busy)")  # fmt: skip
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.serve", lambda: _serve(args))


def _serve(args: argparse.Namespace) -> int:
    if args.port > 65535:
        raise UsageError(f"--port must be at most 65535, got {args.port}")
    try:
        import uvicorn

        from word_predictor.server.engine import EngineUnavailable, kind_of, load
    except ImportError as error:
        raise UserError(f"the server needs its extra ({error.name} is missing): pip install -e '.[serve]'") from None
    if args.model is not None and kind_of(args.model) != "model":
        raise UsageError(f"--model {args.model} is not an exported folder (no manifest.json); a run is --run DIR")
    path = args.model if args.model is not None else cli.chosen_run(args.run, args.logdir)
    listener = _listening_socket(args.host, args.port)  # before the model loads: a bad address fails at once
    backend.select(args.backend)  # read only if the folder is a run: an export never loads Keras
    try:
        engine = load(path)
    except EngineUnavailable as error:
        raise UserError(str(error)) from None
    from word_predictor.server.app import make_app

    app = make_app(engine, batching=not args.no_batching, max_wait=args.batch_wait_ms / 1000)
    # log_config=None: uvicorn's warnings go through Python's default handler to whatever stderr
    # is then, not to handlers bound at start-up to the stderr of that moment.
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", access_log=False,
                            log_config=None)  # fmt: skip
    _announcing_server(uvicorn)(config, str(engine.source)).run(sockets=[listener])
    return 0


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


def _announcing_server(uvicorn):
    """uvicorn.Server that prints its URL once bound (with --port 0 the port is known only then)."""

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
