"""Character level: a long TEXT through `predict`, against the model reading it in one pass.

A character run (the default char settings, weights after a few steps: speed does not
depend on them) answers `predict TEXT` for TEXT the first SIZE bytes of Tiny
Shakespeare. The yardstick, in the same invocation, is the same model reading the same
characters as evaluate's scoring reads a text (one XLA-compiled pass, state carried),
the least any reading of the text can cost here. A third row times that pass as it ran
before docs/benchmarks-log.md, "The inputs projected before the time loop": Keras' own
time loop (each step multiplying its input too) and the whole model in one call per chunk
(no pipeline of its layers).
Several rounds, medians.

    python -m benchmarks.char_predict                    # 1 MB: the goal is predict within 20 s
    python -m benchmarks.char_predict --size 100000 --rounds 3
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

from benchmarks import common


def main() -> None:
    parser = common.base_parser(__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000, help="bytes of text through predict (default: 1 MB)")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each (default: 3)")
    args = parser.parse_args()
    text = common.data_file("tinyshakespeare.txt").read_text(encoding="utf-8")
    text = (text * (args.size // len(text) + 1))[: args.size]
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus"
        corpus.mkdir()
        (corpus / "a.txt").write_text(text[:200_000], encoding="utf-8")
        logdir = Path(folder) / "logs"
        common.train_capped(["--corpus", str(corpus), "--logdir", str(logdir), "--level", "char",
                             "--epochs", "1", "--run-name", "char"], max_steps=5)  # fmt: skip
        rows = _time(logdir / "char", text, args.rounds)
    common.print_table(rows, ["what", "median s", "spread", "ratio"],
                       title=f"{args.size:,} bytes of text through a character run")  # fmt: skip
    common.save_results("char_predict", args, {"rows": rows})


def _time(run_dir: Path, text: str, rounds: int) -> list[dict]:
    from word_predictor import predict
    from word_predictor.corpus.splits import Split
    from word_predictor.predictor.predictor import Predictor
    from word_predictor.rundir import load_run

    from word_predictor.backend import keras
    from word_predictor.model.cells import InputsProjectedFirst

    predictor, before_24 = Predictor.from_run(load_run(run_dir)), Predictor.from_run(load_run(run_dir))
    before_24.reader._pipelines = lambda: False
    ids = predictor.vocabulary.encode(predictor.tokenize(text))
    split = Split(ids, np.array([[0, ids.size]]))
    yardstick, ours, before = [], [], []
    for _ in range(rounds):
        yardstick.append(_scoring_pass(predictor, split))
        with mock.patch.object(InputsProjectedFirst, "inner_loop", keras.layers.RNN.inner_loop):
            before.append(_scoring_pass(before_24, split))
        begin = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            assert predict.main(["--run", str(run_dir), text]) == 0
        ours.append(time.perf_counter() - begin)
    base = common.median(yardstick)
    return [
        {"what": "scoring pass (yardstick)", "median s": f"{base:.2f}", "spread": common.spread(yardstick), "ratio": "1.00x"},
        {"what": "predict TEXT (whole command)", "median s": f"{common.median(ours):.2f}", "spread": common.spread(ours),
         "ratio": f"{common.median(ours) / base:.2f}x"},
        {"what": "scoring pass before section 24", "median s": f"{common.median(before):.2f}",
         "spread": common.spread(before), "ratio": f"{common.median(before) / base:.2f}x"},
    ]  # fmt: skip


def _scoring_pass(predictor, split) -> float:
    begin = time.perf_counter()
    for _logits, _targets in predictor.reader.scored(split, 1024):
        pass
    return time.perf_counter() - begin


if __name__ == "__main__":
    main()
