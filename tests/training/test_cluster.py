"""Process 0's address, checked without JAX (word_predictor.training.cluster); the wait
itself needs JAX and is tested in test_distribute.py."""

from __future__ import annotations

import pytest

from word_predictor import train
from word_predictor.training import cluster


@pytest.mark.parametrize("text, address", [
    ("10.0.0.1:1234", "10.0.0.1:1234"), ("node-7.cluster.local:65535", "node-7.cluster.local:65535"),
    ("localhost:1", "localhost:1"), ("[::1]:8476", "[::1]:8476"), ("host:0080", "host:80"), ("auto", "auto"),
])  # fmt: skip
def test_an_address_is_a_host_and_a_port(text, address):
    assert cluster.coordinator_address(text) == address


@pytest.mark.parametrize("text, says", [
    ("not an address", "expected HOST:PORT"), (":", "expected HOST:PORT"), ("10.0.0.1", "expected HOST:PORT"),
    (":1234", "expected HOST:PORT"), ("127.0.0.1:99999", "from 1 to 65535"), ("127.0.0.1:0", "from 1 to 65535"),
    ("127.0.0.1:", "from 1 to 65535"), ("127.0.0.1:-5", "from 1 to 65535"), ("127.0.0.1:８０", "from 1 to 65535"),
    ("::1:80", "in brackets"), ("[fe80::zz]:80", "not an IPv6 address"), ("a b:80", "not a host name"),
    ("-host:80", "not a host name"), ("host..x:80", "not a host name"),
])  # fmt: skip
def test_anything_else_is_refused_saying_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=says):
        cluster.coordinator_address(text)


@pytest.mark.parametrize("flags, says", [
    (["--coordinator", "not an address", "--num-processes", "2", "--process-id", "0"], "expected HOST:PORT"),
    (["--coordinator", "127.0.0.1:99999", "--num-processes", "2", "--process-id", "0"], "from 1 to 65535"),
    (["--coordinator", ":", "--num-processes", "2", "--process-id", "0"], "expected HOST:PORT"),
    (["--coordinator", "127.0.0.1:1234", "--num-processes", "2", "--process-id", "0", "--coordinator-timeout", "0"],
     "argument --coordinator-timeout"),
    (["--coordinator-timeout", "5"], "--coordinator-timeout goes with --coordinator"),
])  # fmt: skip
def test_train_refuses_a_bad_address_before_anything_starts(flags, says, tmp_path, capsys):
    logdir = tmp_path / "logs"
    try:
        code = train.main(["--corpus", str(tmp_path / "missing"), "--logdir", str(logdir), "--backend", "jax", *flags])
    except SystemExit as exit_:
        code = exit_.code
    error = capsys.readouterr().err
    assert code == 2 and len(error.strip().splitlines()) == 1 and says in error, error
    assert error.startswith("word_predictor.train: error: ") and not logdir.exists()


def test_leaving_is_a_no_op_when_no_join_was_abandoned():
    cluster.leave_if_stuck(3)  # still here: nothing to leave behind
