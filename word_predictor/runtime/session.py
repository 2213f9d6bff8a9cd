"""An exported ONNX folder -> a Predictor, with NumPy and ONNX Runtime alone (no Keras,
TensorFlow or JAX): the readers below give ONNX Runtime's logits through the reader
interface that word_predictor.batches describes, so suggest, complete, generate and
evaluate's scoring are word_predictor.predictor's own, reading text with the
vocabulary's own tokenizer (word_predictor.text), as training did.

    window folder   readers.WindowReader (the Keras runs' own) over OnnxStep
    full folder     OnnxStreamReader: the state rows carried explicitly, a step per token

The continuous cache (word_predictor.predictor.adaptive) reads the same readers over the
same session, asked for the graph's "hidden" output too (OnnxStep.with_hidden): their logits
are then the logits with the hidden state appended, as the Keras hidden view gives them
(word_predictor.adaptation.hidden). A plain reader asks for the logits alone; the hidden
output is a tensor they are computed from anyway, so nothing more is done for them.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np

from word_predictor.batches.kinds import kind_of
from word_predictor.errors import AdaptationUnavailable
from word_predictor.exporter.manifest import MANIFEST_FILE, ExportError, check_and_load
from word_predictor.predictor import Predictor
from word_predictor.scoring.reading import WindowReader, pair_counts

INSTALL = "pip install -r requirements-runtime.txt (or pip install -e .[runtime])"


class OnnxStep:
    """One ONNX Runtime session of the exported step graph.

    `threads` (0: ONNX Runtime's choice, one per core) caps the threads of one call.
    """

    def __init__(self, model_path: Path, state_specs: list[dict], threads: int = 0):
        try:
            import onnxruntime
        except ImportError:
            raise ExportError(f"running an exported model needs onnxruntime: {INSTALL}") from None
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that wait for work sleep instead of spinning: on cores shared with other work,
        # spinning threads take the CPU from the ones with work (docs/benchmarks.md, "Export and the runtime")
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
        # ONNX Runtime's own log (a red line on stderr for a failed call) says nothing the
        # one-line error does not; only its fatal messages are left.
        onnxruntime.set_default_logger_severity(4)
        try:
            self.session = onnxruntime.InferenceSession(
                str(model_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own kinds for a file it cannot use
            raise ExportError(
                f"ONNX Runtime cannot load {model_path}: {str(error).splitlines()[0][:300]}"
            ) from None
        self.state_inputs = [spec["name"] for spec in state_specs]
        self.state_outputs = [spec["output"] for spec in state_specs]
        self.units = [int(spec["shape"][-1]) for spec in state_specs]
        self.outputs = ["logits"]  # what a call asks for: the logits, then the hidden output if joined

    def with_hidden(self, name: str) -> OnnxStep:
        """This session, each call giving the logits with output `name` appended along the
        last axis: (.., vocabulary + width), the layout of the Keras hidden view."""
        joined = copy.copy(self)
        joined.outputs = ["logits", name]
        return joined

    def _scores(self, values: list[np.ndarray]) -> np.ndarray:
        return values[0] if len(values) == 1 else np.concatenate(values, axis=-1)

    def predict_on_batch(self, inputs):
        """As a Keras inference view: (batch, time) ids -> (batch, vocabulary) logits, a window
        model's step; [ids, *state] -> [logits (batch, time, vocabulary), *state], a full one's."""
        if isinstance(inputs, (list, tuple)):
            logits, state = self.step(inputs[0], list(inputs[1:]))
            return [logits, *state]
        return self._scores(self.session.run(self.outputs, {"tokens": np.asarray(inputs, np.int32)}))

    def step(self, tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(batch, time) ids from `state` -> (logits (batch, time, vocabulary), new state)."""
        feeds = {"tokens": np.asarray(tokens, np.int32), **dict(zip(self.state_inputs, state))}
        values = self.session.run([*self.outputs, *self.state_outputs], feeds)
        return self._scores(values[: len(self.outputs)]), values[len(self.outputs) :]

    def zero_state(self, batch: int) -> list[np.ndarray]:
        return [np.zeros((batch, units), np.float32) for units in self.units]


class OnnxStreamReader:
    """A full-context folder's reader: the whole context read, the state carried by the caller."""

    def __init__(self, model: OnnxStep, chunk: int = 256):
        self.model = model  # the exported step graph (the server's "engine" is the kind of folder, not this)
        self.chunk = chunk  # tokens per call when reading a long context

    def read(self, tokens: np.ndarray, state: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """(batch, time) tokens in chunks -> (logits of the last position (batch, vocabulary), state)."""
        for begin in range(0, tokens.shape[1], self.chunk):
            logits, state = self.model.step(tokens[:, begin : begin + self.chunk], state)
        return logits[:, -1], state

    def start(self, contexts: list[np.ndarray]) -> tuple[np.ndarray, list[np.ndarray]]:
        """Non-empty contexts of ids -> (logits (batch, vocabulary), state); contexts of one
        length are read together."""
        lengths = np.array([c.size for c in contexts])
        state = self.model.zero_state(len(contexts))
        result = None
        for length in np.unique(lengths):
            rows = np.flatnonzero(lengths == length)
            logits, part = self.read(np.stack([contexts[i] for i in rows]), self.model.zero_state(len(rows)))
            if result is None:
                result = np.empty((len(contexts), logits.shape[-1]), np.float32)
            result[rows] = logits
            for whole, rows_state in zip(state, part):
                whole[rows] = rows_state
        return result, state

    @staticmethod
    def select(state: list[np.ndarray], rows: np.ndarray) -> list[np.ndarray]:
        """The state of contexts `rows` (repeats allowed), as a beam keeps its best rows."""
        return [s[rows] for s in state]

    def advance(self, state: list[np.ndarray], next_ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        logits, state = self.model.step(np.asarray(next_ids, np.int32).reshape(-1, 1), state)
        return logits[:, -1], state

    def scored(self, split, batch_size: int = 1024):
        """(logits (n, vocabulary), targets (n,)) for every token after the first of each
        segment, each predicted from all the text before it in its segment: each segment is
        read from a zero state in chunks of `batch_size` tokens (the figures of the Keras
        reader, which runs segments side by side, are those of this single-lane pass)."""
        for (start, _), pairs in zip(np.asarray(split.bounds, np.int64).reshape(-1, 2), pair_counts(split)):
            state = self.model.zero_state(1)
            for begin in range(0, int(pairs), batch_size):
                end = min(begin + batch_size, int(pairs))
                tokens = split.ids[start + begin : start + end][None]  # (1, time)
                logits, state = self.model.step(tokens, state)
                yield logits[0], split.ids[start + begin + 1 : start + end + 1]


def load(folder: Path, threads: int = 0) -> Predictor:
    """An exported ONNX folder, its hashes and format checked, ready to answer."""
    manifest, config, vocabulary = check_and_load(folder)
    if manifest.get("model_format") != "onnx":
        raise ExportError(
            f"{folder} holds a {manifest.get('model_format')} export; the runtime reads ONNX exports "
            "(python -m word_predictor.export --format onnx)"
        )
    model = OnnxStep(Path(folder) / manifest["model_file"], manifest["states"], threads)
    check_model(model, manifest, len(vocabulary), Path(folder) / manifest["model_file"])

    def reader_of(step: OnnxStep):
        return OnnxStreamReader(step) if kind_of(config).explicit_states else WindowReader(step, config)

    def hidden():
        if manifest.get("hidden") is None:
            raise AdaptationUnavailable(f"{folder} was exported before exported models gave out the hidden state "
                                        "that learning from the text needs; export the run again")  # fmt: skip
        return reader_of(model.with_hidden(manifest["hidden"]["name"]))

    return Predictor(reader_of(model), config, vocabulary, hidden)


def check_model(model: OnnxStep, manifest: dict, vocabulary_size: int, path: Path) -> None:
    """The model's own inputs and outputs are those the manifest describes: the tokens and each
    state in, the logits over the vocabulary, the hidden state at its width (where the manifest
    records one) and each state out (ExportError otherwise)."""
    inputs = {node.name: node.shape for node in model.session.get_inputs()}
    outputs = {node.name: node.shape for node in model.session.get_outputs()}
    states = manifest["states"]
    expected_inputs = ["tokens", *(spec["name"] for spec in states)]
    if sorted(inputs) != sorted(expected_inputs) or not {"logits", *(spec["output"] for spec in states)} <= set(
            outputs):  # fmt: skip
        raise ExportError(f"{path} takes {', '.join(sorted(inputs))} and gives {', '.join(sorted(outputs))}, not "
                          f"what {MANIFEST_FILE} describes ({', '.join(expected_inputs)}); export the run again")
    sizes = [(outputs["logits"][-1], vocabulary_size, "scores")]
    if hidden := manifest.get("hidden"):  # an older export has none: it answers, but learns nothing
        if hidden["name"] not in outputs:
            raise ExportError(f"{path} gives no {hidden['name']!r} output, which {MANIFEST_FILE} describes; "
                              "export the run again")  # fmt: skip
        sizes.append((outputs[hidden["name"]][-1], hidden["shape"][-1], f"values in {hidden['name']}"))
    sizes += [(inputs[spec["name"]][-1], spec["shape"][-1], f"units in {spec['name']}") for spec in states]
    for found, expected, what in sizes:
        if isinstance(found, int) and found != expected:
            raise ExportError(f"{path} gives {found} {what} where the vocabulary and {MANIFEST_FILE} say {expected}; "
                              "it comes from another export: export the run again")
