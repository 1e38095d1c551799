"""The metric commands, built from the registry: one typer command per registered metric.

Each command's signature comes from its registration (inputs as arguments or
options, every option with the registry's default and help), plus the output
options every command shares (``--json``, ``--append``, ``--tag``, ``-q``,
``--no-stdin``). The body resolves the inputs by the pipe rule, calls the API
function with the options as given and prints its Result.
"""

from __future__ import annotations

import inspect
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _options

OUTPUT_OPTIONS = {"json_": _options.Json, "append": _options.Append, "tag": _options.Tag, "quiet": _options.Quiet,
                  "no_stdin": _options.NoStdin}
SHARED = {"preset": _options.PresetOption, "force": _options.Force}


def command_for(metric):
    """A typer command function for ``metric`` (a :class:`gentools.api.registry.Metric`)."""
    positional = [i for i in metric.inputs if not i.flag]
    params = [_param("inputs", Annotated[List[str], typer.Argument(
        metavar=metric.metavar, help=_inputs_help(positional))], inspect.Parameter.empty)]
    for item in metric.inputs:
        if item.flag:
            kind = Optional[str] if item.optional else str
            params.append(_param(item.name, Annotated[kind, typer.Option(item.flag, help=item.help,
                                                                         show_default=False)],
                                 None if item.optional else inspect.Parameter.empty))
    for opt in metric.options:
        if opt.cli:
            params.append(_option_param(opt))
    if metric.per_class_means is not None:
        params.append(_param("per_class", _options.PerClass, False))
    params += [_param(name, annotation, None if name in ("append", "tag") else False)
               for name, annotation in OUTPUT_OPTIONS.items()]

    def command(**given):
        _run(metric, given)

    command.__name__ = metric.name.replace("-", "_")
    command.__doc__ = metric.summary
    command.__signature__ = inspect.Signature(params)
    command.__annotations__ = {p.name: p.annotation for p in params}
    return command


def _param(name: str, annotation, default) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)


def _inputs_help(positional) -> str:
    texts = [i.help or i.name for i in positional]
    if len(texts) == 1:
        return f"{texts[0]}; '-' is stdin."
    return f"{texts[0]} first, {texts[1][:1].lower() + texts[1][1:]} second; '-' is stdin."


def _option_param(opt) -> inspect.Parameter:
    if opt.name in SHARED and not opt.choices:  # a metric's own choices (ssim's window conventions)
        return _param(opt.name, SHARED[opt.name], opt.default)
    kind = opt.kind
    help_text = opt.help + (f" [default: {opt.default_text}]" if opt.default_text else "")
    show_default = not opt.default_text and opt.default is not None and kind is not list
    extra = {k: v for k, v in (("min", opt.min), ("max", opt.max)) if v is not None}
    if opt.metavar:
        extra["metavar"] = opt.metavar
    if kind is list:
        annotation = Optional[List[opt.item]]
    elif opt.default is None or opt.input:
        annotation = Optional[kind]
    else:
        annotation = kind
    flags = opt.flags or (opt.flag,)
    if kind is bool and opt.negative:
        flags = (f"{flags[-1]}/{opt.negative}",)
    return _param(opt.name, Annotated[annotation, typer.Option(*flags, help=help_text, show_default=show_default,
                                                               **extra)], opt.default)


def _run(metric, given: dict) -> None:
    """Resolve the inputs (the pipe rule, ``-`` as stdin), call the API function, print its Result."""
    from gentools.cli import _console
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(given.pop("quiet"))
    reporter = Reporter(metric.name, given.pop("json_"), given.pop("append"), given.pop("tag"))
    no_stdin = given.pop("no_stdin")
    args = given.pop("inputs")
    positional = [i for i in metric.inputs if not i.flag]
    named = [i for i in metric.inputs if i.flag and given.get(i.name) is not None]
    if len(args) != len(positional):
        sources(args, no_stdin, metric.name, len(positional))  # the usage error naming the count
    if given.get("lines") and "-" in args:  # the text metrics' --lines: '-' is stdin's texts, one per line
        import sys

        args = [sys.stdin.buffer.read() if arg == "-" else arg for arg in args]
    resolved = sources(args + [given.pop(i.name) for i in named], no_stdin)
    inputs = dict(zip([i.name for i in positional + named], resolved))
    for item in metric.inputs:
        given.pop(item.name, None)
    for opt in metric.options:
        if opt.input and given.get(opt.name) is not None:
            given[opt.name] = sources([given[opt.name]], True)[0]
    if metric.progress:
        given["progress"] = _console.progress
    reporter.report(metric(**inputs, **given))
