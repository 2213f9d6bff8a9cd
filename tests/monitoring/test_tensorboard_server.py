"""A real `tensorboard --logdir` on a loopback port serves what the runs logged.

Asks TensorBoard's own HTTP data API (the one its dashboards call) for the runs,
scalars, hparams, text and projector data of two tiny runs, then stops it.
"""

from __future__ import annotations

import json
import math
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest

from word_predictor import folder_files, monitoring, rundir
from word_predictor.text.vocabulary import Vocabulary

pytestmark = pytest.mark.backend

HOST = "127.0.0.1"
START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


class TensorBoard:
    def __init__(self, port: int):
        self.base = f"http://{HOST}:{port}"

    def get(self, path: str, **query) -> bytes:
        url = f"{self.base}{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.read()

    def get_json(self, path: str, **query):
        return json.loads(self.get(path, **query))

    def post_json(self, path: str, body: dict):
        request = urllib.request.Request(
            f"{self.base}{path}", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="module")
def tensorboard(monitored_logdir, tmp_path_factory):
    port = free_port()
    log = tmp_path_factory.mktemp("tensorboard") / "tensorboard.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", str(monitored_logdir),
             "--host", HOST, "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.PIPE,
        )  # fmt: skip
    server = TensorBoard(port)
    expected = {"gru/train", "gru/validation", "gru/test", "gru/samples", "gru/projector", "bi/train"}
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if expected <= set(server.get_json("/data/runs")):
                    break
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text()[-3000:]
                pytest.fail(f"TensorBoard did not serve the runs within {START_TIMEOUT_S} s:\n{tail}")
            time.sleep(0.5)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdin.close()  # the data server TensorBoard starts exits when this closes


@pytest.mark.slow
def test_scalars_served_per_epoch(tensorboard, monitored_logdir):
    # Each point: [wall_time, step, value].
    def scalars(run, tag):
        return tensorboard.get_json("/data/plugin/scalars/scalars", run=run, tag=tag)

    loss = scalars("gru/validation", "epoch_loss")
    perplexity = scalars("gru/validation", "epoch_perplexity")
    assert [step for _, step, _ in loss] == [step for _, step, _ in perplexity] == [0, 1]
    for (_, _, l), (_, _, p) in zip(loss, perplexity):
        assert p == pytest.approx(math.exp(l), rel=1e-5)
    metrics = folder_files.read_json(monitored_logdir / "gru" / rundir.METRICS_FILE)
    assert min(value for _, _, value in loss) == pytest.approx(metrics["best_validation_loss"], rel=1e-6)
    rate = scalars("gru/train", "epoch_learning_rate")
    assert [value for _, _, value in rate] == pytest.approx([0.01, 0.01])
    batch = scalars("bi/train", "batch_loss")
    assert batch and all(step % 3 == 0 for _, step, _ in batch)  # bi: --log-every 3


@pytest.mark.slow
def test_hparams_dashboard_sets_the_runs_side_by_side(tensorboard, monitored_logdir):
    experiment = tensorboard.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    assert {info["name"] for info in experiment["hparamInfos"]} == set(monitoring.HPARAMS)
    groups = tensorboard.post_json(
        "/data/plugin/hparams/session_groups",
        {
            "experimentName": "",
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
            "colParams": [],
            "startIndex": 0,
            "sliceSize": 100,
        },
    )["sessionGroups"]
    by_name = {group["name"]: group for group in groups}
    assert set(by_name) == {"gru", "bi"}
    gru, bi = by_name["gru"]["hparams"], by_name["bi"]["hparams"]
    assert gru["cell"] == "gru" and gru["units"] == 8 and gru["bidirectional"] is False
    assert bi["cell"] == "simple_rnn" and bi["bidirectional"] is True and bi["one_hot"] is True
    for name, group in by_name.items():
        test = folder_files.read_json(monitored_logdir / name / rundir.METRICS_FILE)["test"]
        served = {(m["name"]["group"], m["name"]["tag"]): m["value"] for m in group["metricValues"]}
        assert served[("test", "epoch_perplexity")] == pytest.approx(test["perplexity"], rel=1e-6)
        assert served[("test", "epoch_accuracy")] == pytest.approx(test["top1"], rel=1e-6)
        assert math.isfinite(served[("validation", "epoch_perplexity")])


@pytest.mark.slow
def test_text_of_samples_and_model_summary(tensorboard):
    tags = tensorboard.get_json("/data/plugin/text/tags")
    assert tags["gru/samples"] == [monitoring.SAMPLES_TAG]
    assert set(tags["gru"]) == {"model_summary", "configuration"}
    samples = tensorboard.get_json("/data/plugin/text/text", run="gru/samples", tag=monitoring.SAMPLES_TAG)
    assert [sample["step"] for sample in samples] == [0, 1, 2]  # two epochs, then the kept model
    html = samples[1]["text"]  # markdown rendered as an HTML table, under the epoch it comes from
    assert "<strong>kept model</strong>" in samples[2]["text"]
    assert "<strong>epoch 2</strong>" in html and "<table>" in html and "<td>some of them looks like</td>" in html and "<td>the cat sat</td>" in html
    [summary] = tensorboard.get_json("/data/plugin/text/text", run="gru", tag="model_summary")
    assert "<pre><code>" in summary["text"] and "gru_1 (GRU)" in summary["text"]


@pytest.mark.slow
def test_projector_serves_the_embedding_with_its_words(tensorboard, monitored_logdir):
    assert tensorboard.get_json("/data/plugin/projector/runs") == ["gru/projector"]
    info = tensorboard.get_json("/data/plugin/projector/info", run="gru/projector")
    [embedding] = info["embeddings"]
    vocabulary = Vocabulary.load(monitored_logdir / "gru" / rundir.VOCABULARY_FILE)
    assert embedding["tensorShape"] == [len(vocabulary), 4]
    name = embedding["tensorName"]
    served = tensorboard.get("/data/plugin/projector/tensor", run="gru/projector", name=name)
    table = np.frombuffer(served, "<f4").reshape(len(vocabulary), 4)  # little-endian float32, row by row
    model = rundir.load_model(monitored_logdir / "gru" / rundir.MODEL_FILE)
    np.testing.assert_allclose(table, model.get_layer("embedding").get_weights()[0])
    metadata = tensorboard.get("/data/plugin/projector/metadata", run="gru/projector", name=name).decode()
    assert metadata.splitlines() == list(vocabulary.tokens)
