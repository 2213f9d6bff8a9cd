"""The learned word embedding for TensorBoard's projector, in files read without TensorFlow.

    RUN/projector/  projector_config.pbtxt   tensor "embedding" -> embedding.tsv, its shape,
                                             and its labels -> metadata.tsv
                    embedding.tsv            the (vocabulary, embedding_dim) table: one row per
                                             word, values separated by tabs
                    metadata.tsv             one word per line, in id order
                    events.out.tfevents.*    a one-line text summary: TensorBoard looks for
                                             projector configs only in runs, folders with events

The config is the projector plugin's own protobuf message, written in its text format.
A TSV tensor needs no TensorFlow checkpoint (whose reader the plugin has only with
TensorFlow installed) and, unlike the raw .bytes format, is never mistaken for text.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from google.protobuf import text_format
from tensorboard.plugins.projector.metadata import PROJECTOR_FILENAME
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from word_predictor import rundir
from word_predictor.backend import keras
from word_predictor.monitoring.writer import EventWriter
from word_predictor.text.vocabulary import Vocabulary

FOLDER = "projector"
TENSOR_NAME = "embedding"
TENSOR_FILE = "embedding.tsv"
METADATA_FILE = "metadata.tsv"
EMBEDDING_LAYER = "embedding"


def label(token: str) -> str:
    """A token as one line of metadata.tsv: tabs, newlines and other unprintable characters
    (character-level vocabularies have them) escaped, a lone space shown as U+2423."""
    if not token.isprintable():
        token = token.encode("unicode_escape").decode("ascii")
    return token.replace(" ", "\u2423") if not token.strip() else token


def write_projector(run_dir: Path, model: keras.Model, vocabulary: Vocabulary) -> bool:
    """Write RUN/projector for `model`'s embedding; False (and nothing written) for a
    model without one (--one-hot)."""
    try:
        embedding = model.get_layer(EMBEDDING_LAYER)
    except ValueError:
        return False
    table = keras.ops.convert_to_numpy(embedding.embeddings).astype(np.float32)  # (vocabulary, dim)
    folder = Path(run_dir) / FOLDER
    folder.mkdir(exist_ok=True)
    rows = io.StringIO()
    np.savetxt(rows, table, fmt="%.9g", delimiter="\t")  # 9 significant digits: float32 read back exactly
    rundir.write_atomic(folder / TENSOR_FILE, rows.getvalue())
    rundir.write_atomic(folder / METADATA_FILE, "".join(label(token) + "\n" for token in vocabulary.tokens))
    config = ProjectorConfig()
    entry = config.embeddings.add()
    entry.tensor_name = TENSOR_NAME
    entry.tensor_path = TENSOR_FILE
    entry.tensor_shape.extend(table.shape)
    entry.metadata_path = METADATA_FILE
    rundir.write_atomic(folder / PROJECTOR_FILENAME, text_format.MessageToString(config))
    with EventWriter(folder) as writer:
        writer.text(
            "embedding",
            f"{table.shape[0]} words x {table.shape[1]} dimensions, from the kept model; "
            "open the Projector tab to explore them.",
            step=0,
        )
    return True
