"""The one place that writes results to stdout: TSV lines, JSON, JSONL append, files."""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from typing import Callable, Optional

from gentools.errors import InputError, UsageError
from gentools.text import escape


def parse_tags(tags: Optional[list[str]]) -> dict:
    """``["step=100", "run=a"]`` -> ``{"step": 100, "run": "a"}`` (numbers parsed)."""
    parsed = {}
    for tag in tags or []:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            raise UsageError(f"--tag expects KEY=VALUE, got '{tag}'")
        try:
            parsed[key] = json.loads(value)
        except ValueError:
            parsed[key] = value
    return parsed


def format_value(value) -> str:
    """Full precision (shortest round-trip repr) so ``cut -f2`` loses nothing."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else str(value).lower()
    return escape(str(value))


def tsv_line(*fields) -> str:
    """One TSV line; text from files is escaped, so the line has exactly these fields."""
    return "\t".join(escape(field) if isinstance(field, str) else format_value(field) for field in fields)


def print_json(obj) -> None:
    """One strict JSON object on one line (non-finite numbers as null)."""
    from gentools.api.log import to_json

    print(to_json(obj))


def print_lines(pairs) -> None:
    """``name<TAB>value`` lines, full precision."""
    for key, value in pairs:
        print(tsv_line(key, format_value(value)))


def print_table(columns: list, rows) -> None:
    """A TSV table: the header, then one line per row of values (full precision, ``true``/``false``)."""
    print(tsv_line(*columns))
    for row in rows:
        print(tsv_line(*[format_value(value) for value in row]))


class Reporter:
    """Collects a command's context and prints its result in the chosen form."""

    def __init__(self, command: str, as_json: bool = False, append: Optional[os.PathLike] = None,
                 tags: Optional[list[str]] = None):
        self.command = command
        self.as_json = as_json
        self.append = append
        self.tags = parse_tags(tags)
        self.started = time.perf_counter()

    def envelope(self, values: dict, inputs: list[dict], params: dict) -> dict:
        from gentools.api.log import envelope

        return envelope(self.command, values, inputs, params, self.tags, time.perf_counter() - self.started)

    def report(self, result) -> None:
        """Print an API :class:`~gentools.api._common.Result` with its inputs and parameters."""
        self.emit(dict(result), result.inputs, result.params)

    def emit(self, values: dict, inputs: list[dict], params: dict) -> None:
        from gentools.api.log import append_jsonl, to_json

        obj = self.envelope(values, inputs, params)
        failed = None
        if self.append is not None:
            try:
                append_jsonl(self.append, obj)
            except OSError as exc:  # the values are printed all the same, then the command fails
                failed = InputError(f"cannot append to {self.append} ({exc.strerror or exc}); the values were "
                                    f"printed but not logged")
        if self.as_json:
            print(to_json(obj))
        else:
            print_lines(values.items())
        sys.stdout.flush()
        if failed is not None:
            raise failed


def write_file_output(output: Optional[os.PathLike], write: Callable[[str], None], suffix: str) -> None:
    """Writer convention: write to ``output`` and print its path; or stream bytes to stdout.

    With no ``-o`` (or ``-o -``) the file goes to stdout, which must not be a terminal.
    """
    if output is not None and str(output) != "-":
        write(str(output))
        print(os.fspath(output), flush=True)
        return
    refuse_terminal_stdout()
    with tempfile.TemporaryDirectory(prefix="gentools-") as tmp:
        path = os.path.join(tmp, "out" + suffix)
        write(path)
        stream_file(path)


def refuse_terminal_stdout() -> None:
    """Binary output without -o: stdout must not be a terminal."""
    if sys.stdout.isatty():
        raise UsageError("refusing to write a binary file to the terminal", hint="give -o FILE")


def stream_file(path: str) -> None:
    """Copy a finished file's bytes to stdout (the writer convention without -o)."""
    sys.stdout.flush()
    with open(path, "rb") as fh:
        shutil.copyfileobj(fh, sys.stdout.buffer)
    sys.stdout.buffer.flush()
