"""On a GPU machine: the project's training speed against the PyTorch recipe, one table.

Times one epoch of WikiText-2 at the GPU sizes (2 x 650 LSTM, embedding 650, bptt 35,
batch 64) for: full context in float32 and in mixed_bfloat16, the window mode in
float32, all with Keras on JAX (`KERAS_BACKEND=jax`, the fastest Keras route measured),
and the PyTorch word-language-model recipe at the same size on the same GPU (see
benchmarks/full_context.py). Each row is a child process; the figure is training
tokens per second (median over epochs, validation excluded) and the ratio to PyTorch.

    python -m benchmarks.gpu                 # on a machine with CUDA, JAX with CUDA and torch with CUDA
    python -m benchmarks.gpu --epochs 2      # more epochs: compilation weighs less

Not run yet: no GPU was available to the session that wrote it.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from benchmarks import common
from benchmarks.full_context import GPU_RECIPE, run_ours

VARIANTS = {
    "full context, float32": [],
    "full context, mixed_bfloat16": ["--precision", "mixed_bfloat16"],
    "window (5 words), float32": ["--context", "window", "--batch-size", "256"],
}


def main(argv=None) -> int:
    parser = common.base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=1, help="epochs per row")
    args = parser.parse_args(argv)
    recipe = {**GPU_RECIPE, "epochs": args.epochs}
    rows = []
    child = ["-m", "benchmarks.full_context", "--gpu", "--child", json.dumps(recipe)]
    yardstick = common.run_child(child)
    reference = yardstick.get("tokens_per_second") if yardstick.get("ok") else None
    rows.append({"system": "PyTorch recipe (CUDA)", "tokens/s": reference, "ratio": 1.0 if reference else None,
                 "error": yardstick.get("error")})  # fmt: skip
    with tempfile.TemporaryDirectory() as folder:
        for name, flags in VARIANTS.items():
            result = run_ours(recipe, Path(folder), name.replace(" ", "-").replace(",", ""), {"KERAS_BACKEND": "jax"},
                              extra=flags)  # fmt: skip
            speed = result.get("tokens_per_second")
            rows.append({"system": f"ours, {name}", "tokens/s": speed, "error": result.get("error"),
                         "ratio": speed / reference if speed and reference else None})  # fmt: skip
    common.print_table(rows, ["system", "tokens/s", "ratio", "error"], title=f"GPU, one epoch of WikiText-2, {recipe}")
    common.save_results("gpu", args, {"recipe": recipe, "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
