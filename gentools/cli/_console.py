"""Everything the CLI writes to stderr: warnings and progress bars (TTY only)."""

from __future__ import annotations

import contextlib
import sys
import warnings
from typing import Callable, Iterator, Optional

_quiet = False


def set_quiet(quiet: bool) -> None:
    global _quiet
    _quiet = quiet


def quiet() -> bool:
    return _quiet


def warn(message: str) -> None:
    from gentools.text import escape

    if not _quiet:
        print(f"gentools: warning: {escape(message)}", file=sys.stderr)


def info(message: str) -> None:
    from gentools.text import escape

    if not _quiet:
        print(f"gentools: {escape(message)}", file=sys.stderr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    from gentools.errors import GentoolsNotice

    (info if issubclass(category, GentoolsNotice) else warn)(str(message))


def install_warning_printer() -> None:
    """Route Python warnings (from gentools and libraries) to one-line stderr messages; gentools' own are
    shown every time (the library warns once per event, not once per source line)."""
    from gentools.errors import GentoolsWarning

    warnings.showwarning = _show_warning
    warnings.simplefilter("always", GentoolsWarning)


@contextlib.contextmanager
def progress(description: str, total: int) -> Iterator[Optional[Callable[[int], None]]]:
    """A rich progress bar on stderr, only when stderr is a terminal and not ``-q``."""
    if _quiet or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda k: bar.advance(task, k)
