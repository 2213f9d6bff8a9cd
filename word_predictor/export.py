"""python -m word_predictor.export --format onnx|litert|saved_model [--out DIR]: a trained run
as a folder another program can use without this project's training code (see
word_predictor.exporter, the library this command calls).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from word_predictor import backend, cli
from word_predictor.exporter.folder import FORMATS


def build_parser() -> argparse.ArgumentParser:
    parser = cli.Parser(
        prog="python -m word_predictor.export",
        description="Export a trained run as a stateless step model (ONNX, LiteRT or a TensorFlow SavedModel) "
        "with its vocabulary and a manifest.",
    )
    backend.add_backend_argument(parser)
    parser.add_argument("--run", type=Path, help="run folder to export (default: the newest complete run)")
    parser.add_argument("--logdir", type=Path, default=Path("logs"), help="where runs live (default: logs)")
    parser.add_argument("--format", choices=FORMATS, default="onnx",
                        help="onnx (ONNX Runtime; needs pip install -e .[export]), litert (on-device, "
                             "TensorFlow only) or saved_model (TensorFlow only) (default: onnx)")  # fmt: skip
    parser.add_argument(
        "--out",
        type=Path,
        help="the folder to create; it must not exist yet (written whole, or not at all) (default: RUN/export-FORMAT, "
        "inside the run folder, so an export is never left in the working copy)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return cli.run_cli("word_predictor.export", lambda: _export(args))


def _export(args: argparse.Namespace) -> int:
    from word_predictor.exporter.folder import export_run, format_writer

    backend.select(args.backend)  # before a format's module imports Keras
    format_writer(args.format)  # a missing extra is named before a run is loaded
    from word_predictor.rundir import load_run

    run = load_run(cli.chosen_run(args.run, args.logdir))
    out = args.out or run.path / f"export-{args.format}"
    manifest = export_run(run, args.format, out)
    sizes = manifest["sizes"]
    print(
        f"exported {run.path} as {args.format} to {out} ({manifest['model_file']}, "
        f"{sizes['parameters']:,} parameters, {manifest['context']} context, {manifest['level']} level)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
