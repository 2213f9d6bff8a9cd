"""The learned embedding for TensorBoard's projector.
"""

from __future__ import annotations

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from tests.helpers import values
from word_predictor import rundir
from word_predictor.text.vocabulary import Vocabulary


pytestmark = pytest.mark.backend


# --- projector ---------------------------------------------------------------------------


@pytest.mark.slow
def test_projector_points_at_a_tensor_file_of_the_learned_embedding(trained_run):
    folder = trained_run / "projector"
    config = text_format.Parse((folder / "projector_config.pbtxt").read_text(), ProjectorConfig())
    [entry] = config.embeddings
    vocabulary = Vocabulary.load(trained_run / rundir.VOCABULARY_FILE)
    assert (folder / entry.metadata_path).read_text(encoding="utf-8").splitlines() == list(vocabulary.tokens)
    assert not config.model_checkpoint_path and not list(folder.glob("*.ckpt*"))  # no TensorFlow checkpoint
    table = np.loadtxt(folder / entry.tensor_path, delimiter="\t", dtype=np.float32)
    assert list(entry.tensor_shape) == list(table.shape) == [len(vocabulary), 4]
    model = rundir.load_model(trained_run / rundir.MODEL_FILE)
    np.testing.assert_array_equal(table, model.get_layer("embedding").get_weights()[0])
    # An event file makes the folder a run, the only places TensorBoard's projector looks.
    assert values(folder, "embedding")[0][1].startswith(f"{len(vocabulary)} words x 4 dimensions")


def test_projector_labels_stay_one_per_line():
    from word_predictor.monitoring.projector import label

    assert [label(t) for t in ("cat", "\n", "\t", " ", "é")] == ["cat", "\\n", "\\t", "\u2423", "é"]


@pytest.mark.slow
def test_one_hot_run_has_no_projector(monitored_logdir):
    assert not (monitored_logdir / "bi" / "projector").exists()
    assert (monitored_logdir / "gru" / "projector" / "projector_config.pbtxt").is_file()

