"""The gentools command line: one typer app, one error boundary (``main``)."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import sys
import traceback
import warnings

import typer

from gentools._version import __version__
from gentools.cli import _console

app = typer.Typer(
    name="gentools",
    help="Evaluate generative models: extract features once, then compute metrics as cheap commands.\n\n"
         "Two-set commands take the generated (evaluated) set first and the reference set second.\n\n"
         "Example: gentools fid gen.h5 ref.h5",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"gentools {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    debug: bool = typer.Option(False, "--debug", help="Show Python tracebacks (also GENTOOLS_DEBUG=1); "
                                                      "accepted anywhere on the line."),
    max_memory: str = typer.Option("", "--max-memory", metavar="SIZE", show_default=False,
                                   help="Memory budget, e.g. 8G (also GENTOOLS_MAX_MEMORY; default: the memory "
                                        "available less 1 GB): work that needs more stops before it starts. "
                                        "Accepted anywhere on the line."),
) -> None:
    """Evaluate generative models from the command line."""


def _register() -> None:
    """The file commands, then one command per registered metric (gentools.api.registry), then the rest."""
    from gentools.api.registry import metrics
    from gentools.cli import _metrics, extract, info, interp, merge, presets, ref, report, stats, weights

    app.command("extract")(extract.extract)
    app.command("stats")(stats.stats)
    app.command("merge")(merge.merge)
    app.command("info")(info.info)
    for name, metric in metrics().items():
        command = _metrics.command_for(metric)
        if name == metric.name:
            app.command(name)(command)
        else:
            app.command(name, help=f"Alias of `gentools {metric.name}` (same lines).\n\nExample: gentools {name} "
                                   f"gen.h5")(command)
    app.command("interp")(interp.interp)
    app.command("report")(report.report)
    app.command("presets")(presets.presets)
    app.add_typer(ref.app, name="ref")
    app.add_typer(weights.app, name="weights")


_register()


_COMMAND: list = []


def _command():
    """The click command typer builds from the app, built once: typer's ``app()`` rebuilds it on every call
    (0.14 s of signature parsing, which in-process callers such as the fuzz suite pay per run) and sets
    ``sys.excepthook``."""
    if not _COMMAND:
        from typer.main import get_command

        _COMMAND.append(get_command(app))
    return _COMMAND[0]


def _click_exceptions():
    """The click exception classes: vendored inside typer >= 0.2x, else click itself."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions
    return exceptions


def _abort_class() -> type:
    """typer >= 0.2x defines its own Abort; older ones use click's."""
    try:
        from typer.exceptions import Abort
    except ImportError:
        from click.exceptions import Abort
    return Abort


def _fail(message: str, code: int) -> int:
    from gentools.text import escape

    print(f"gentools: error: {escape(message)}", file=sys.stderr)
    return code


def run(argv: list[str]) -> int:
    """Run the app on ``argv``; return the exit code. Tracebacks only with debug."""
    from gentools.errors import GentoolsError

    debug = os.environ.get("GENTOOLS_DEBUG", "") not in ("", "0") or "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    with _put_back():
        try:
            argv = _take_max_memory(argv)
        except GentoolsError as exc:
            return _fail(str(exc), exc.exit_code)
        _console.install_warning_printer()
        if not debug:  # third-party log lines (open_clip, timm) would break the one-line error rule
            logging.getLogger().addHandler(logging.NullHandler())
        from gentools.errors import SPELLING
        from gentools.store import set_invocation

        set_invocation(shlex.join(["gentools", *argv]))
        spelling = SPELLING.set("cli")  # messages name options as --flags
        try:
            return _invoke(argv, debug)
        finally:
            SPELLING.reset(spelling)


@contextlib.contextmanager
def _put_back():
    """What a run sets for its process (memory budget, -q, the recorded command line, the warning printer,
    log handlers), put back afterwards, so that in-process callers (tests, the fuzz suite) see each run
    start as a fresh process would."""
    from gentools import memory
    from gentools.store import invocation, set_invocation

    budget, quiet, argv = memory.budget_setting(), _console.quiet(), invocation()
    handlers = list(logging.getLogger().handlers)
    try:
        with warnings.catch_warnings():
            yield
    finally:
        logging.getLogger().handlers[:] = handlers
        memory.set_budget(budget)
        _console.set_quiet(quiet)
        set_invocation(argv)


def _invoke(argv: list[str], debug: bool) -> int:
    """The command on ``argv`` inside the one error boundary."""
    from gentools.errors import GentoolsError

    click = _click_exceptions()
    try:
        result = _command()(args=argv, prog_name="gentools", standalone_mode=False)
        if result == 130:  # typer turns KeyboardInterrupt into exit code 130
            return _fail("interrupted", 130)
        return result if isinstance(result, int) else 0
    except GentoolsError as exc:
        if debug:
            traceback.print_exc()
        return _fail(str(exc), exc.exit_code)
    except click.NoArgsIsHelpError as exc:
        print(exc.ctx.get_help())
        return 0
    except click.ClickException as exc:
        where = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) else ""
        return _fail(exc.format_message() + where, 2 if isinstance(exc, click.UsageError) else 1)
    except (KeyboardInterrupt, _abort_class()):
        return _fail("interrupted", 130)
    except BrokenPipeError:
        # Downstream closed early (e.g. `| head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except OSError as exc:  # disk full, permission, vanished folder: name the file and the reason
        if debug:
            traceback.print_exc()
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return _fail(f"{exc.strerror or exc}{where}", 1)
    except MemoryError:
        return _fail("out of memory; try smaller inputs or chunk options", 1)
    except Exception as exc:  # noqa: BLE001 - the one boundary
        if debug:
            traceback.print_exc()
        return _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)", 1)


def _take_max_memory(argv: list[str]) -> list[str]:
    """Set the memory budget from ``--max-memory SIZE`` (or ``=SIZE``) wherever it stands; the rest of argv."""
    from gentools import memory

    rest, index = [], 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            rest += argv[index:]
            break
        if arg == "--max-memory" or arg.startswith("--max-memory="):
            if "=" in arg:
                value = arg.split("=", 1)[1]
            elif index + 1 < len(argv):
                index += 1
                value = argv[index]
            else:
                from gentools.errors import UsageError

                raise UsageError("--max-memory needs a SIZE, e.g. 8G")
            memory.set_budget(memory.parse_size(value))
        else:
            rest.append(arg)
        index += 1
    return rest


def main() -> None:
    sys.exit(run(sys.argv[1:]))
