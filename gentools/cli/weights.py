"""gentools weights: seeded random weights in a backbone's published layout, for testing a pipeline offline."""

from __future__ import annotations

from pathlib import Path

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, Quiet, Seed

app = typer.Typer(name="weights", no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="Network weights. random: seeded random weights in a backbone's published layout (inception, "
                       "vggish, i3d400), to run a whole pipeline offline.\n\n"
                       "Example: gentools weights random i3d400 -o w.pth && gentools extract clips/ -b i3d400 "
                       "--weights w.pth -o f.h5")


@app.command("random")
def random(
    name: Annotated[str, typer.Argument(metavar="NAME", help="inception, vggish or i3d400.")],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE", help="Where to write the state dict.")],
    seed: Seed = DEFAULT_SEED,
    quiet: Quiet = False,
) -> None:
    """Write seeded random weights with the published file's keys and shapes; pass them with --weights. Their
    numbers rank inputs but compare with nothing published. Prints the file's path.

    Example: gentools weights random inception -o random_inception.pth --seed 0
    """
    from gentools.api.weights import weights_random

    _console.set_quiet(quiet)
    print(weights_random(name, str(output), seed), flush=True)
