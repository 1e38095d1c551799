"""``gentools.kde``: Parzen-window log-likelihood (Goodfellow et al. 2014 protocol)."""

from __future__ import annotations

from gentools.api._common import Result
from gentools.api.registry import FORCE, Input, Option, register_metric
from gentools.errors import InputError
from gentools.inputs import check_compatible, describe, load, require_features


@register_metric(
    "kde", inputs=(Input("gen", "Generated samples' features (the KDE's centres)"),
                   Input("valid", "Validation set: chooses sigma.", flag="--valid"),
                   Input("test", "Test set: scored with the chosen sigma.", flag="--test")),
    metavar="SAMPLES", renamed={"sigmas": "sigma", "samples": "gen"},
    summary="Parzen-window (Gaussian KDE) log-likelihood of TEST under SAMPLES, sigma chosen on VALID.\n\n"
            "log p(x) = logsumexp_i(-|x - s_i|²/(2σ²)) - log n - (d/2) log(2πσ²), equal to sklearn's "
            "KernelDensity. Chunked: 10k samples x 10k test x 784 dims runs in bounded memory. Warning: "
            "unreliable in high dimensions (Theis et al. 2016) — use it on pixels or small features, and to "
            "compare models, not absolutely.\n\n"
            "Example: gentools kde gen_pixels.h5 --valid valid.h5 --test test.h5 --plot sigma.png",
    options=(Option("sigma", None, "Candidate sigma (repeatable). Default: 20 values log-spaced over [0.05, 2] x "
                    "the median nearest-neighbour distance of SAMPLES.", type=list),
             Option("plot", None, "PNG of validation log-likelihood against sigma.", type=str, metavar="PATH"),
             FORCE))
def kde(gen, valid, test, *, sigma, plot, force) -> Result:
    """Parzen-window (Gaussian KDE) log-likelihood of ``test`` under the samples ``gen``, sigma chosen on
    ``valid`` among ``sigma`` (a list; default 20 values log-spaced over [0.05, 2] x the median
    nearest-neighbour distance of ``gen``) (Goodfellow et al. 2014):
    ``log p(x) = logsumexp_i(-|x - s_i|²/(2σ²)) - log n - (d/2) log(2πσ²)``, equal to sklearn's
    ``KernelDensity``. ``plot``: PNG of the validation curve."""
    from gentools.metrics.kde import parzen

    items = require_features([load(gen), load(valid), load(test)], "kde")
    check_compatible(items, force)
    if items[0].n < 2:
        raise InputError(f"the KDE needs at least 2 samples, have {items[0].n} ({items[0].label})")
    result = parzen(items[0].array(), items[1].array(), items[2].array(), sigma)
    if plot is not None:
        from gentools import render

        render.save_atomic(str(plot), lambda path: render.sigma_curve(result["sigmas"], result["valid_curve"],
                                                                       result["sigma"], path))
    values = {k: result[k] for k in ("log_likelihood_mean", "log_likelihood_sem", "sigma", "bits_per_dim")}
    return Result(values, [describe(i) for i in items], {"sigmas": [float(s) for s in result["sigmas"]],
                                                         "dim": items[0].dim})


