"""Exceptions a user can act on.

Library code raises these with a message naming the file/row and what to do;
the CLI catches them once (``gentools.cli.main``) and prints
``gentools: error: <message>`` with exit code 1 (2 for ``UsageError``).
"""


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


class GentoolsWarning(UserWarning):
    """Printed by the CLI as ``gentools: warning: ...`` unless ``-q``."""


class Interrupted(GentoolsError):
    """SIGINT/SIGTERM: the work done so far was kept; exit 130 or 143."""

    def __init__(self, message: str, exit_code: int):
        super().__init__(message)
        self.exit_code = exit_code


class GentoolsNotice(GentoolsWarning):
    """Progress news that is not a problem (resuming, already complete): printed as ``gentools: ...``."""
