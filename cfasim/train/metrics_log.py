"""A run's metrics: ``metrics.jsonl`` (the record), ``metrics.csv`` (the same records as a
table) and, when the ``tensorboard`` package is installed, TensorBoard event files under
``tensorboard/``; all in the run folder, all cut back together on resume.

``metrics.csv`` has one row per line of ``metrics.jsonl``, its columns ``step`` and then every
key in the order of its first appearance in the run; a key a record lacks is an empty cell.
A record with a key not seen before rewrites the file with the wider header (that happens
in the first steps only), otherwise rows are appended.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import logging
from pathlib import Path

__all__ = ["MetricsLog", "csv_columns", "csv_text"]

_log = logging.getLogger("cfasim.train")
TENSORBOARD_DIR = "tensorboard"


def csv_columns(records) -> list[str]:
    """``step``, then the keys of ``records`` in the order of their first appearance."""
    columns = ["step"]
    for record in records:
        columns += [k for k in record if k not in columns]
    return columns


def _cell(value) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def csv_text(records, columns=None) -> str:
    """``records`` (dicts) as CSV text with a header; missing keys are empty cells."""
    columns = columns or csv_columns(records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    for record in records:
        writer.writerow([_cell(record.get(c)) for c in columns])
    return buf.getvalue()


class MetricsLog:
    """Writes the metric records of a run (call it on rank 0 only).

    Parameters
    ----------
    out : path
        The run folder (created on the first record).
    tensorboard : bool
        Also write TensorBoard events when the ``tensorboard`` package is installed (else
        say once that TensorBoard logging is off).
    """

    def __init__(self, out, tensorboard: bool = True):
        self.out = Path(out)
        self.jsonl = self.out / "metrics.jsonl"
        self.csv = self.out / "metrics.csv"
        self._columns: list[str] | None = None
        self._tensorboard = tensorboard
        self._writer = None
        self._purge_step: int | None = None

    def append(self, record: dict) -> None:
        """Add one record (a dict with ``step``) to every output."""
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.jsonl, "a") as f:
            f.write(json.dumps(record) + "\n")
        self._append_csv(record)
        self._add_scalars(record)

    def truncate(self, step: int) -> None:
        """Keep only the records of steps <= ``step`` (resuming from a checkpoint of that
        step): ``metrics.jsonl`` cut, ``metrics.csv`` rewritten from what is kept, TensorBoard
        events of later steps purged when its writer opens."""
        self._purge_step = step + 1
        if not self.jsonl.exists():
            return
        lines = self.jsonl.read_text().splitlines()
        keep = [ln for ln in lines if ln.strip() and json.loads(ln)["step"] <= step]
        self.jsonl.write_text("".join(ln + "\n" for ln in keep))
        records = [json.loads(ln) for ln in keep]
        self._columns = csv_columns(records)
        self.csv.write_text(csv_text(records, self._columns))

    def close(self) -> None:
        """Flush and close the TensorBoard writer (the files stay usable before this)."""
        if self._writer not in (None, False):
            self._writer.close()
        self._writer = None

    # -- details --

    def _append_csv(self, record: dict) -> None:
        if self._columns is None:
            self._columns = self._existing_columns()
        new = [k for k in record if k not in self._columns]
        if new or not self.csv.exists():
            self._columns = self._columns + new
            records = [json.loads(ln) for ln in self.jsonl.read_text().splitlines() if ln]
            self.csv.write_text(csv_text(records, self._columns))  # includes this record
            return
        with open(self.csv, "a", newline="") as f:
            csv.writer(f, lineterminator="\n").writerow(
                [_cell(record.get(c)) for c in self._columns]
            )

    def _existing_columns(self) -> list[str]:
        """The header of a ``metrics.csv`` that is there (a run continued), else ``["step"]``."""
        if not self.csv.exists():
            return ["step"]
        with open(self.csv, newline="") as f:
            return next(csv.reader(f), ["step"])

    def _add_scalars(self, record: dict) -> None:
        writer = self._tensorboard_writer()
        if not writer:
            return
        step = int(record["step"])
        for key, value in record.items():
            if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                writer.add_scalar(key, float(value), step)
        writer.flush()

    def _tensorboard_writer(self):
        """The SummaryWriter (opened on first use), or False when TensorBoard is off."""
        if self._writer is not None:
            return self._writer
        if not self._tensorboard:
            self._writer = False
        elif importlib.util.find_spec("tensorboard") is None:
            _log.info("TensorBoard logging is off (pip install tensorboard to turn it on)")
            self._writer = False
        else:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(
                str(self.out / TENSORBOARD_DIR), purge_step=self._purge_step
            )
        return self._writer
