"""gentools weights: seeded random weights in a backbone's published layout, for testing a pipeline offline."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import DEFAULT_SEED, DOWNLOAD_DEADLINE, DownloadTimeout, Json, Quiet, Seed

app = typer.Typer(name="weights", invoke_without_command=True,
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Network weights: with no subcommand, each backbone's published file, its sha256, its URL, "
                       "and where it is looked for (here: yes or no). pull: fetch one, verified, into torch hub's "
                       "checkpoint folder (a login node filling the cache for offline nodes). random: seeded random "
                       "weights in a backbone's published layout, to run a whole pipeline offline.\n\n"
                       "Example: gentools weights pull inception && gentools weights")

COLUMNS = ("backbone", "file", "sha256", "here", "path", "url")


@app.callback()
def list_(context: typer.Context, json_: Json = False) -> None:
    """Each backbone's published weights file: backbone, file, sha256 (published prefix), here, path, url."""
    if context.invoked_subcommand is not None:
        return
    from gentools.api.weights import weights_list
    from gentools.cli.output import print_json, print_table

    rows = weights_list()
    if json_:
        print_json({"command": "weights", "entries": rows})
        return
    print_table(list(COLUMNS), ([("yes" if row[c] else "no") if c == "here" else row[c] for c in COLUMNS]
                                for row in rows))


@app.command("pull")
def pull(
    name: Annotated[str, typer.Argument(metavar="BACKBONE", help="A backbone of `gentools weights`.")],
    sha256: Annotated[Optional[str], typer.Option("--sha256", metavar="HEX", help="The file's expected sha256 (where "
                                                  "none is published, the only check).", show_default=False)] = None,
    mirror: Annotated[Optional[str], typer.Option("--mirror", metavar="URL", help="Replace the URL's origin with "
                                                  "this mirror (the path is kept).", show_default=False)] = None,
    max_size: Annotated[str, typer.Option("--max-size", metavar="SIZE", help="The most bytes the file may "
                                          "have.")] = "8G",
    timeout: DownloadTimeout = DOWNLOAD_DEADLINE,
    quiet: Quiet = False,
) -> None:
    """Download a backbone's published weights into torch hub's checkpoint folder ($TORCH_HOME/hub/checkpoints),
    where every backbone looks: through a .partial file a rerun resumes, kept only when its sha256 is the
    published one (and --sha256's). Prints the file's path.

    Example: gentools weights pull vggish
    """
    from gentools.api.weights import weights_pull
    from gentools.memory import parse_size

    _console.set_quiet(quiet)
    record = weights_pull(name, sha256=sha256, mirror=mirror, progress=_console.progress,
                          max_size=parse_size(max_size, "--max-size"), timeout=timeout)
    if record["already"]:
        _console.info(f"{record['backbone']}: already here, sha256 {record['sha256']}")
    print(record["path"], flush=True)


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
