"""What ``gentools.Evaluator`` checks when it is built, before any sampling: the metrics and their options, the
datasets the backbone can feed, and the provenance guard against the reference."""

from __future__ import annotations

from typing import Mapping

from gentools.api import registry
from gentools.errors import UsageError, warn
from gentools.inputs import guard


def chosen(metrics) -> dict:
    """``{name: (Metric, options)}`` from a name, names or a mapping; unknown names and options refused."""
    if isinstance(metrics, str):
        metrics = [metrics]
    pairs = list(metrics.items()) if isinstance(metrics, Mapping) else [(m, {}) for m in metrics]
    if not pairs:
        raise UsageError(f"Evaluator: no metrics; expected some of {', '.join(evaluable())}")
    chosen = {}
    for name, options in pairs:
        if not isinstance(name, str):
            raise UsageError(f"Evaluator: metric names are strings, got {name!r}")
        try:
            metric = registry.get(name)
        except UsageError:
            raise UsageError(f"Evaluator: unknown metric {name!r}; expected some of {', '.join(evaluable())}") \
                from None
        if not metric.evaluator:
            raise UsageError(f"Evaluator: {metric.name} is not computed in training (it reads "
                             f"{', '.join(i.name for i in metric.inputs)}); use gentools.{metric.api_name} on "
                             f"stored features")
        if not isinstance(options, Mapping):
            raise UsageError(f"Evaluator: the options of {name} must be a dict, got {type(options).__name__}")
        if metric.paired:
            _paired_options(metric, options)
        metric.check_options(dict(options), f"Evaluator metrics[{name!r}]")
        chosen[metric.name] = (metric, dict(options))
    return chosen


def _paired_options(metric, options: Mapping) -> None:
    """A paired metric takes its scorer's options in training (the reading, pairing and output ones are its
    command's)."""
    from gentools.api.evaluator_pairs import scorer_options

    allowed = scorer_options(metric)
    for name in options:
        if name not in allowed:
            hint = " (the Evaluator's pixel_range applies)" if name == "pixel_range" else ""
            raise UsageError(f"Evaluator: {metric.name} takes {', '.join(allowed) or 'no options'} in training; "
                             f"{name!r} is an option of its command{hint}")


def evaluable() -> list:
    return [name for name, metric in registry.metrics().items() if metric.evaluator]


def datasets(metric, options: dict) -> list:
    return list(metric.datasets) + (["spatial"] if options.get("spatial") else [])


def probe(net) -> list:
    """The datasets the backbone produces."""
    from gentools import kinds

    return kinds.of_net(net).probe(net)


def reference_guard(provenance: dict, reference, force: bool) -> None:
    """The provenance guard between the network and the reference file."""
    if not reference.provenance.get("backbone"):
        warn(f"no provenance in {reference.label}: cannot check that it comes from the same network and "
             "preprocessing")
        return
    guard(provenance, "the evaluator's network", reference.provenance, reference.label, force,
          what="the network and the reference", override="force=True")
