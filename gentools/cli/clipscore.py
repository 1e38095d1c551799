"""gentools clipscore: image-caption agreement of a features file with caption embeddings."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Append, Json, NoStdin, Quiet, Tag


def clipscore(
    inputs: Annotated[List[str], typer.Argument(metavar="FEATURES", help="Features with text_features (extract "
                                                "--backbone clip:MODEL --captions FILE.tsv).")],
    json_: Json = False,
    append: Append = None,
    tag: Tag = None,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """CLIP score (Hessel et al. 2021): mean over rows of max(100 · cos(image, caption), 0), as torchmetrics.

    Captions longer than the model's context were truncated at extraction (with a warning giving the count).

    Example: gentools extract imgs/ -b clip:ViT-L-14 --captions caps.tsv -o f.h5; gentools clipscore f.h5
    """
    from gentools.api.metrics import clipscore as run
    from gentools.cli._inputs import sources
    from gentools.cli.output import Reporter

    _console.set_quiet(quiet)
    reporter = Reporter("clipscore", json_, append, tag)
    (source,) = sources(inputs, no_stdin, "clipscore", 1)
    reporter.report(run(source))
