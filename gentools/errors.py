"""Exceptions a user can act on, and the spelling of options in their messages.

Library code raises these with a message naming the file/row and what to do;
the CLI catches them once (``gentools.cli.main``) and prints
``gentools: error: <message>`` with exit code 1 (2 for ``UsageError``).
A message names an option as its caller wrote it (:func:`option`):
``subset_size=1000`` from Python, ``--subset-size 1000`` from the command line.
"""

import contextvars
import sys
import warnings

# "python" (the library's callers) or "cli" (set by gentools.cli.run for the command it runs).
SPELLING: contextvars.ContextVar = contextvars.ContextVar("gentools_spelling", default="python")
_NO_VALUE = object()


def option(name: str, value=_NO_VALUE, flag: str = "") -> str:
    """``name`` as the caller spells it, with ``value``: ``subset_size=1000`` or ``--subset-size 1000``
    (``flag``: the command line's spelling where it is not ``--`` + name with dashes). A true boolean is
    ``exact=True`` or ``--exact``."""
    if SPELLING.get() == "cli":
        text = flag or "--" + name.replace("_", "-")
        if value is _NO_VALUE or value is True:
            return text
        return f"{text} {value}"
    if value is _NO_VALUE:
        return f"{name}="
    return f"{name}={value!r}" if isinstance(value, str) else f"{name}={value}"


class GentoolsError(Exception):
    """Base class: a data or runtime problem the user can fix. Exit code 1."""

    exit_code = 1

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message


class InputError(GentoolsError):
    """An input file is missing, unreadable, empty or holds bad values."""


class FormatError(InputError):
    """A file is not of the kind or schema version expected."""


class ProvenanceError(GentoolsError):
    """Two inputs were made with different backbones, weights, resize or layer."""


class NumericalError(GentoolsError):
    """A computation cannot give a trustworthy number (e.g. NaN)."""


class UsageError(GentoolsError):
    """Options that contradict each other or do not fit the inputs. Exit code 2."""

    exit_code = 2


class MetricsError(GentoolsError):
    """Some metrics of one ``compute()`` could not run; ``partial`` holds the values of those that did and
    ``failures`` each failed metric's error."""

    def __init__(self, message: str, partial: dict, failures: dict):
        super().__init__(message)
        self.partial = partial
        self.failures = failures
        self.exit_code = max(error.exit_code for error in failures.values())


class GentoolsWarning(UserWarning):
    """Printed by the CLI as ``gentools: warning: ...`` unless ``-q``."""


class Interrupted(GentoolsError):
    """SIGINT/SIGTERM: the work done so far was kept; exit 130 or 143."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class GentoolsNotice(GentoolsWarning):
    """Progress news that is not a problem (resuming, already complete): printed as ``gentools: ...``."""


def warn(message: str, category: type = None) -> None:
    """``warnings.warn(message, category)`` attributed to the first frame outside gentools, the line its caller
    wrote (as Python 3.12's ``skip_file_prefixes``), not to whichever gentools module noticed; default
    category :class:`GentoolsWarning`."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "gentools":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category or GentoolsWarning, stacklevel=level)
