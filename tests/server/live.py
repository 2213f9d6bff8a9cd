"""What the server's tests share: a test client on an app, and a real uvicorn server on a free
loopback port in a thread, for the tests that need sockets."""

from __future__ import annotations

import contextlib
import threading
import time


@contextlib.contextmanager
def live_server(app, limits=None, protocol=None):
    """Serve `app` on 127.0.0.1 (a free port) until the block ends, with the connection bounds
    of `limits` (default: the server's) as the command serves, on uvicorn's HTTP `protocol`
    class (default: the command's); yields its base URL."""
    import uvicorn

    from word_predictor.server.connections import server_config
    from word_predictor.server.limits import DEFAULT_LIMITS

    config = server_config(app, limits or DEFAULT_LIMITS, protocol, host="127.0.0.1", port=0, log_level="warning",
                           access_log=False)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def client_of(engine, **settings):
    """A test client on a fresh app over `engine` (errors answered as a client sees them)."""
    from fastapi.testclient import TestClient

    from word_predictor.server.app import make_app

    return TestClient(make_app(engine, **settings), raise_server_exceptions=False)
