"""Joining the processes that train together: process 0's address, checked before anything
starts, and a wait for the others that a time limit, Ctrl-C and SIGTERM all end.

JAX's own wait (jax.distributed.initialize) runs in C++: it blocks the main thread, so
Python's signal handlers do not run until it returns, and when its `initialization_timeout`
runs out it aborts the whole process (SIGABRT and a C++ stack trace). So the join runs in
a helper thread, given JAX a longer limit than ours, while the main thread waits for it:
that wait ends at our limit with one line, or at once on Ctrl-C or SIGTERM (the command
turns SIGTERM into Ctrl-C). The helper thread, still inside JAX, cannot be stopped; the
command then leaves without Python's exit handlers (`leave_if_stuck`), which would shut
down the half-joined cluster and log or abort from C++.

Only the standard library here: the address is checked without JAX or Keras loaded.
"""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import threading

AUTO = "auto"  # --coordinator auto: JAX reads the cluster scheduler's environment (SLURM, Open MPI, ...)
DEFAULT_TIMEOUT = 300  # seconds: JAX's own default, time for machines started by hand minutes apart
# JAX's limit is ours plus this, so that ours (one line) always ends the wait before JAX aborts.
JAX_MARGIN = 60
# A host name's labels (RFC 1123) or an IPv4 address; an IPv6 address goes in brackets.
_HOST_NAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?")

_stuck: list[threading.Thread] = []  # joins abandoned while JAX still waits in C++


class JoinError(Exception):
    """The cluster could not be joined (JAX refused; the message is its first line)."""


class JoinTimeout(JoinError):
    """The coordinator or another process did not answer within the time allowed."""


def coordinator_address(text: str) -> str:
    """`text` as HOST:PORT (a host name, an IPv4 address or [IPv6], a port 1-65535), or
    "auto". Raises ValueError saying what is wrong."""
    if text == AUTO:
        return text
    host, separator, port = text.rpartition(":")
    if not separator or not host:
        raise ValueError(f"expected HOST:PORT, process 0's address (such as 10.0.0.1:1234), or auto; got {text!r}")
    if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
        raise ValueError(f"the port must be a whole number from 1 to 65535, got {port!r} in {text!r}")
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{host} is not an IPv6 address, in {text!r}") from None
    elif not _HOST_NAME.fullmatch(host):
        hint = " (put an IPv6 address in brackets: [::1]:1234)" if ":" in host else ""
        raise ValueError(f"{host!r} is not a host name or an IP address{hint}, in {text!r}")
    return f"{host}:{int(port)}"


def join(address: str, num_processes: int | None, process_id: int | None, timeout: float) -> None:
    """Join the cluster whose process 0 listens at `address` ("auto": the scheduler's),
    waiting at most `timeout` seconds for it and for every other process. Raises
    JoinTimeout, KeyboardInterrupt (Ctrl-C, or SIGTERM as the command turns it), or
    JoinError with JAX's message when JAX refuses."""
    import jax

    failure: list[BaseException] = []

    def connect() -> None:
        try:
            jax.distributed.initialize(None if address == AUTO else address, num_processes, process_id,
                                       initialization_timeout=int(timeout) + JAX_MARGIN)  # fmt: skip
            # The rest of keras.distribution.initialize (which cannot take a time limit): one
            # random seed for every process, so that weights made before the run's seed is set
            # (a resumed model's, before its checkpoint loads) are the same everywhere.
            from keras.src.backend.jax.distribution_lib import initialize_rng

            initialize_rng()
        except Exception as error:  # noqa: BLE001 - handed to the waiting thread, which raises it
            failure.append(error)

    helper = threading.Thread(target=connect, name="join the cluster", daemon=True)
    helper.start()
    try:
        helper.join(timeout)  # Ctrl-C and SIGTERM interrupt this wait, unlike JAX's
    except BaseException:
        _stuck.append(helper)
        raise
    if helper.is_alive():
        _stuck.append(helper)
        raise JoinTimeout(f"the coordinator at {address} or another of the {num_processes or 'expected'} processes "
                          f"did not answer within {timeout:g} s")  # fmt: skip
    if failure:
        raise JoinError(str(failure[0]).strip().splitlines()[0] if str(failure[0]).strip() else
                        type(failure[0]).__name__)  # fmt: skip


def leave_if_stuck(code: int) -> None:
    """Exit with `code` now, skipping Python's exit handlers, if a join was abandoned
    (see the module docstring); else return. Even a join that has ended since left a
    half-made cluster that JAX's handlers would shut down, logging from C++."""
    if _stuck:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError, AttributeError):
                pass
        os._exit(code)
