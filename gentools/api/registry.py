"""The metric registry: one registration per metric, from which everything else is derived.

The model is stylegan2-ada's ``metrics/metric_main.py`` (``@register_metric``
over one short function per metric). A registration states the metric's name,
its inputs (one set or two, whether stats will do, which datasets of the rows
it reads), its options with their defaults and help, whether ``per_class``
applies and how the Evaluator can keep its state. A ``paired`` registration
(``gentools.api.paired``) reads items, not features: each generated item is
scored against the reference with its id. From it come:

- the API function ``gentools.NAME`` (its keyword defaults are the table's);
- the command ``gentools NAME`` (``gentools.cli._metrics`` builds its signature, help and ``--json``
  parameters from the same options);
- ``Evaluator(metrics=...)``, which checks names, options and types at construction;
- per-class dispatch (``per_class=True``: the metric per class, then the means).

Adding a metric is one pure function in ``gentools/metrics/``, one registered
function (in ``api/metrics.py`` or a module of :data:`MODULES`) and its tests.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import numbers
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from gentools.errors import SPELLING, UsageError, option, warn

# The modules whose functions carry registrations, imported on first use of the registry.
MODULES = ("gentools.api.fid", "gentools.api.metrics", "gentools.api.diversity", "gentools.api.twosample",
           "gentools.api.kde", "gentools.api.nn_grid", "gentools.api.audio", "gentools.api.paired",
           "gentools.api.paired_text", "gentools.api.mauve")


@dataclass(frozen=True)
class Option:
    """One keyword of a metric: the API name, its one default, its help. ``flags``: the command line's
    spelling (default ``--name-with-dashes``); ``type``: ``int``, ``float``, ``bool``, ``str`` or ``list``
    (of ``float``), default the default's; ``choices`` for a str; ``input``: the value names an input file (the
    CLI resolves it as it resolves GEN and REF); ``per_class``: may be combined with ``per_class=True``."""

    name: str
    default: Any
    help: str
    type: Any = None
    flags: tuple = ()
    min: Optional[float] = None
    max: Optional[float] = None
    metavar: str = ""
    default_text: str = ""  # the help's "[default: ...]" when the value comes from a preset
    choices: tuple = ()
    input: bool = False
    per_class: bool = True
    cli: bool = True
    negative: str = ""  # a --x/--no-x pair (an Optional[bool] whose None means "the preset's")
    item: Any = float  # the element type of a list option

    @property
    def kind(self):
        return self.type if self.type is not None else type(self.default)

    @property
    def flag(self) -> str:
        return self.flags[-1] if self.flags else "--" + self.name.replace("_", "-")

    def check(self, value, metric: str) -> None:
        """A one-line usage error when ``value`` is not of this option's type or range."""
        kind = self.kind
        if value is None and (self.default is None or self.input):
            return
        ok = {bool: lambda v: isinstance(v, bool),
              int: lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool),
              float: lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool),
              str: lambda v: isinstance(v, str),
              list: lambda v: isinstance(v, (list, tuple))}.get(kind, lambda v: True)(value)
        if not ok and not self.input:
            raise UsageError(f"{metric}: {option(self.name, value, self.flag)} is not {_KIND_TEXT.get(kind, kind)}")
        if self.choices and value not in self.choices:
            raise UsageError(f"{metric}: {option(self.name, value, self.flag)}: expected one of "
                             f"{', '.join(self.choices)}")
        if isinstance(value, numbers.Real) and not isinstance(value, bool):
            if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
                bounds = f"at least {self.min}" if self.max is None else f"in [{self.min}, {self.max}]"
                raise UsageError(f"{metric}: {option(self.name, value, self.flag)} must be {bounds}")


_KIND_TEXT = {bool: "True or False", int: "an integer", float: "a number", str: "a string",
              list: "a list of numbers"}


@dataclass(frozen=True)
class Input:
    """A set the metric reads: ``name`` (the API's positional parameter), and on the command line either a
    positional argument (``flag`` empty) or an option; ``optional`` inputs may be left out."""

    name: str
    help: str = ""
    flag: str = ""
    optional: bool = False
    rows: bool = True  # per-row features are needed (stats will not do)


@dataclass(frozen=True)
class Metric:
    """A registration. ``evaluator``: how :class:`gentools.Evaluator` feeds it (``"stats"``: running mean and
    covariance, ``"rows"``: the kept rows, ``""``: it cannot); ``datasets``: what it reads of the generated
    rows; ``per_class_means``: ``None`` when ``per_class`` does not apply, else the names of the per-class
    means (``{"fid": "intra_fid"}``); ``check_reference(options, reference, preset)`` refuses at construction
    what the reference cannot feed."""

    name: str
    function: Callable
    inputs: tuple
    options: tuple
    metavar: str
    summary: str
    datasets: tuple = ("features",)
    per_class_means: Optional[dict] = None
    evaluator: str = ""
    progress: bool = False
    aliases: tuple = ()
    check_reference: Optional[Callable] = None
    renamed: dict = field(default_factory=dict)  # an earlier keyword -> today's
    paired: Optional[Callable] = None  # GEN and REF are items scored pair by pair (matched by id), not feature
    # sets: the factory of the metric's Scorer (gentools.api.pairing), whose keywords the Evaluator takes

    @property
    def api_name(self) -> str:
        return self.function.__name__

    @property
    def keywords(self) -> tuple:
        """Every keyword of the API function, per_class included where it applies."""
        names = tuple(o.name for o in self.options)
        return names + (("per_class",) if self.per_class_means is not None else ())

    def option(self, name: str) -> Option:
        return next(o for o in self.options if o.name == name)

    def check_options(self, options: dict, where: str = "") -> None:
        """Names and types of ``options``, one usage error listing the valid ones for an unknown name."""
        valid = list(self.keywords)
        for name, value in options.items():
            if name not in valid:
                near = f" (did you mean {name.replace('-', '_')}?)" if name.replace("-", "_") in valid else ""
                raise UsageError(f"{where or self.name}: unknown option {name!r}{near}; expected some of "
                                 f"{', '.join(valid)}")
            if name == "per_class":
                if not isinstance(value, bool):
                    raise UsageError(f"{where or self.name}: {option('per_class', value)} is not True or False")
                continue
            self.option(name).check(value, where or self.name)

    def __call__(self, *args, **kwargs):
        """The API function with the table's defaults, per-class dispatch and earlier keywords."""
        for old, new in self.renamed.items():
            if old in kwargs:
                warn(f"gentools.{self.api_name}({old}=...) is now {new}=")
                kwargs[new] = kwargs.pop(old)
        per_class = kwargs.pop("per_class", False) if self.per_class_means is not None else False
        inputs = {i.name for i in self.inputs}
        where = self.name if SPELLING.get() == "cli" else f"gentools.{self.api_name}"
        self.check_options({k: v for k, v in kwargs.items() if k not in inputs and k != "progress"}, where)
        if not per_class:
            return self.function(*args, **kwargs)
        bound = inspect.signature(self.function).bind(*args, **kwargs)
        bound.apply_defaults()
        given = dict(bound.arguments)
        for opt in self.options:
            if not opt.per_class and given.get(opt.name) not in (opt.default, None, False, 0):
                raise UsageError(f"{option(opt.name, given[opt.name], opt.flag)} does not combine with "
                                 f"{option('per_class', True)}")
        from gentools.api.per_class import by_class

        gen, ref = (given.pop(i.name) for i in self.inputs[:2])
        given.pop("progress", None)
        return by_class(self.function, gen, ref, self.per_class_means, **given)


_REGISTRY: dict = {}


def register_metric(name: str, *, inputs: Sequence[Input], options: Sequence[Option], metavar: str, summary: str,
                    datasets: Sequence[str] = ("features",), per_class_means: Optional[dict] = None,
                    evaluator: str = "", progress: bool = False, aliases: Sequence[str] = (),
                    check_reference: Optional[Callable] = None, renamed: Optional[dict] = None,
                    paired: Optional[Callable] = None):
    """Register the API function below it as metric ``name``.

    The function declares its inputs as positional parameters and every option
    as a keyword-only parameter *without* a default: the defaults are the
    registration's (set here as its ``__kwdefaults__``, so ``help()`` and
    ``inspect.signature`` show them). A function whose keywords differ from
    ``options`` is refused when the module is imported, so the table cannot drift.
    """
    def decorate(function: Callable) -> Callable:
        signature = inspect.signature(function)
        keywords = [p.name for p in signature.parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY]
        expected = [o.name for o in options] + (["progress"] if progress else [])
        if keywords != expected:
            raise TypeError(f"{function.__name__}: keyword-only parameters {keywords} differ from the "
                            f"registration's options {expected}")
        positional = [p.name for p in signature.parameters.values() if p.kind is not inspect.Parameter.KEYWORD_ONLY]
        if positional != [i.name for i in inputs]:
            raise TypeError(f"{function.__name__}: positional parameters {positional} differ from the inputs")
        function.__kwdefaults__ = {**{o.name: o.default for o in options}, **({"progress": None} if progress else {})}
        metric = Metric(name, function, tuple(inputs), tuple(options), metavar, summary, tuple(datasets),
                        per_class_means, evaluator, progress, tuple(aliases), check_reference, dict(renamed or {}),
                        paired)

        @functools.wraps(function)
        def api(*args, **kwargs):
            return metric(*args, **kwargs)

        if per_class_means is not None:
            signature = inspect.signature(function)  # now with the defaults
            params = list(signature.parameters.values())
            at = len(params) - (1 if progress else 0)
            params.insert(at, inspect.Parameter("per_class", inspect.Parameter.KEYWORD_ONLY, default=False))
            api.__signature__ = signature.replace(parameters=params)
        api.metric = metric
        for key in (name, *aliases):
            _REGISTRY[key] = metric
        return api

    return decorate


def metrics() -> dict:
    """Every registered metric by command name (aliases included), in registration order."""
    if not _REGISTRY or not all(m in _loaded for m in MODULES):
        for module in MODULES:
            importlib.import_module(module)
            _loaded.add(module)
    return dict(_REGISTRY)


_loaded: set = set()


def get(name: str) -> Metric:
    """The metric registered as ``name`` (a command name or an API name); a usage error lists the valid ones."""
    found = metrics()
    if name in found:
        return found[name]
    for metric in found.values():
        if metric.api_name == name:
            return metric
    raise UsageError(f"unknown metric {name!r}: expected one of {', '.join(found)}")


def api_functions() -> dict:
    """``{api name: the registered API function}``, each alias under its own name too (``vendi``)."""
    out = {}
    for key, metric in metrics().items():
        module = importlib.import_module(metric.function.__module__)
        function = getattr(module, metric.api_name)
        out[metric.api_name] = function
        if key != metric.name:
            out[key.replace("-", "_")] = function
    return out


# Options many metrics share, spelled once.
PRESET = Option("preset", None, "Use every default of another tool: pytorch-fid, torch-fidelity, clean-fid, adm, "
                "stylegan, edm2, fadtk (`gentools presets` shows them). Explicit options still win.", type=str)
SEED = Option("seed", None, "Seed of every random choice; same seed, same numbers.", type=int,
              default_text="the preset's, 2020")
FORCE = Option("force", False, "Proceed even if the inputs' backbone, weights, resize or layer differ.")
GEN = Input("gen", "Generated set")
