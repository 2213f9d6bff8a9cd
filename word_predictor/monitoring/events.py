"""Event files read back and rewritten record by record, without TensorFlow: what a resume needs.

An event file is a run of records, each framed as

    length (8 bytes) | CRC of length (4) | data: one serialized Event | CRC of data (4)

A trainer killed while writing leaves the last record cut short. TensorBoard's
loader stops before such a record, so `read_records` returns the whole ones and says
whether anything was left over; a rewrite keeps only the whole ones.
"""

from __future__ import annotations

import io
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto import event_pb2
from tensorboard.summary.writer.record_writer import RecordWriter

from word_predictor import rundir

RECORD_FRAMING = 16  # bytes around each record's data: length 8, two CRCs 4 each
EVENT_FILES = "events.out.tfevents.*"
# Tags logged against the global training step; every other tag's step is the epoch.
GLOBAL_STEP_PREFIXES = ("batch_",)
# Sub-folders that hold the final scoring, which a resumed run always does again.
REDONE_FOLDERS = ("test", "projector")


def read_records(path: Path) -> tuple[list[bytes], bool]:
    """The whole records of one event file, and whether they are all the file holds."""
    records = list(RawEventFileLoader(str(path)).Load())
    whole = sum(len(record) + RECORD_FRAMING for record in records) == Path(path).stat().st_size
    return records, whole


def read_events(path: Path) -> list[event_pb2.Event]:
    """The events of one file, a record cut short left out."""
    return [event_pb2.Event.FromString(record) for record in read_records(path)[0]]


def write_records(path: Path, records: list[bytes]) -> None:
    """Replace `path` with these records, atomically."""
    framed = io.BytesIO()
    writer = RecordWriter(framed)
    for record in records:
        writer.write(record)
    rundir.write_atomic(path, framed.getvalue())


def truncate_events(run_dir: Path, epochs_completed: int, global_step: int) -> None:
    """Before a resume: drop events written after the checkpoint being resumed from.

    An interrupted epoch may have logged batch steps (and even epoch figures) that the
    resumed run will log again; rewriting each event file without them keeps every
    step exactly once. Summaries at an epoch step stay up to `epochs_completed - 1`,
    those at a global step (batch_loss) up to `global_step`, and the final scoring's
    folders are emptied. Events without summaries (each file's version header) stay.
    """
    run_dir = Path(run_dir)
    for stray in run_dir.rglob(f".{EVENT_FILES}.partial"):  # a resume killed while rewriting
        stray.unlink()
    for path in sorted(run_dir.rglob(EVENT_FILES)):
        redone = path.parent.relative_to(run_dir).as_posix() in REDONE_FOLDERS
        records, whole = read_records(path)
        kept = [r for r in records if not _after_checkpoint(r, epochs_completed, global_step, redone)]
        if len(kept) < len(records) or not whole:
            write_records(path, kept)


def _after_checkpoint(record: bytes, epochs_completed: int, global_step: int, redone: bool) -> bool:
    event = event_pb2.Event.FromString(record)
    if not (event.HasField("summary") and event.summary.value):
        return False
    if redone:
        return True
    on_global_step = any(value.tag.startswith(GLOBAL_STEP_PREFIXES) for value in event.summary.value)
    return event.step > (global_step if on_global_step else epochs_completed - 1)
