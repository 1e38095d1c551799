"""gentools ref: the catalogue of published reference statistics, the cache they are pulled into, your own."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import (DEFAULT_SEED, DOWNLOAD_DEADLINE, DownloadTimeout, Force, Json, NoStdin,
                                   PresetOption, Quiet, Seed)

app = typer.Typer(name="ref", no_args_is_help=True, context_settings={"help_option_names": ["-h", "--help"]},
                  help="Reference statistics: list the catalogue, pull a reference into the cache (verified), "
                       "make and verify your own. `ref:NAME` then works wherever an input file does.\n\n"
                       "Example: gentools ref pull adm/imagenet256 && gentools fid gen.h5 ref:adm/imagenet256")

COLUMNS = ("name", "dataset", "split", "resolution", "n", "preset", "format", "size", "sha256", "pulled")


@app.command("list")
def list_(json_: Json = False) -> None:
    """The catalogue: name, dataset, split, resolution, n, the preset that made it, format, size, sha256
    (unknown where no source publishes one), and whether it is in the cache; --json adds URL and source lines.

    Example: gentools ref list | grep imagenet
    """
    from gentools.api.ref import ref_list
    from gentools.cli.output import print_json, print_table

    rows = ref_list()
    if json_:
        print_json({"command": "ref list", "entries": rows})
        return
    print_table(list(COLUMNS), ([row[c] for c in COLUMNS] for row in rows))


@app.command("pull")
def pull(
    spec: Annotated[str, typer.Argument(metavar="NAME|URL", help="A catalogue name (gentools ref list) or a URL.")],
    sha256: Annotated[Optional[str], typer.Option("--sha256", metavar="HEX", help="The file's expected sha256 "
                                                  "(else the catalogue's, else the one refs.lock recorded on "
                                                  "first use).", show_default=False)] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Name a URL's file (default: its file name "
                                                "without the extension); then ref:NAME.",
                                                show_default=False)] = None,
    mirror: Annotated[Optional[str], typer.Option("--mirror", metavar="URL", envvar="GENTOOLS_REF_MIRROR",
                                                  help="Replace the URL's origin with this mirror (the path is "
                                                       "kept), e.g. an air-gapped cluster's web server.",
                                                  show_default=False)] = None,
    from_file: Annotated[Optional[Path], typer.Option("--from", metavar="FILE", help="Import a copy brought in "
                                                      "by hand, verified the same way.", show_default=False)] = None,
    max_size: Annotated[str, typer.Option("--max-size", metavar="SIZE", help="The most bytes a download may "
                                          "have when the catalogue gives no size (4G, 512M).")] = "16G",
    timeout: DownloadTimeout = DOWNLOAD_DEADLINE,
    quiet: Quiet = False,
) -> None:
    """Download a reference into the cache ($GENTOOLS_CACHE/refs): through a .partial file that a rerun resumes,
    checked against its sha256 before it takes its name. Prints the cached file's path.

    Example: gentools ref pull clean-fid/cifar10-train-32-legacy_tensorflow
    """
    from gentools.api.ref import ref_pull

    _console.set_quiet(quiet)
    from gentools.memory import parse_size

    record = ref_pull(spec, sha256=sha256, name=name, mirror=mirror, from_file=str(from_file) if from_file else None,
                      progress=_console.progress, max_size=parse_size(max_size, "--max-size"), timeout=timeout)
    if record.get("already"):
        _console.info(f"{record['name']}: already in the cache, sha256 {record['sha256']}")
    print(record["path"], flush=True)


@app.command("make")
def make(
    inputs: Annotated[List[str], typer.Argument(metavar="INPUT...", help="Features files (pooled) or stats files "
                                                                          "(merged exactly); '-' is stdin.")],
    name: Annotated[str, typer.Option("--name", help="The reference's name (ref:NAME).")],
    preset: PresetOption = None,
    rows: Annotated[int, typer.Option("--rows", metavar="N", help="Also keep N feature rows (a seeded uniform "
                                                                 "subset) for KID/PRDC: ref:NAME:rows.")] = 0,
    output: Annotated[Optional[Path], typer.Option("-o", "--output", metavar="DIR", help="Write the files into "
                                                   "this folder (to publish) instead of the cache.",
                                                   show_default=False)] = None,
    seed: Seed = DEFAULT_SEED,
    force: Force = False,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Publish your own reference: stats.h5, optionally rows.h5, and manifest.json (name, n, dim, provenance,
    gentools version, each file's sha256). Prints the manifest's path.

    Example: gentools ref make ffhq.h5 --name lab/ffhq256 --rows 10000
    """
    from gentools.api.ref import ref_make
    from gentools.cli._inputs import sources

    _console.set_quiet(quiet)
    record = ref_make(sources(inputs, no_stdin), name=name, preset=preset, rows=rows, seed=seed,
                      output=str(output) if output else None, force=force)
    print(record["manifest"], flush=True)


@app.command("verify")
def verify(
    target: Annotated[str, typer.Argument(metavar="NAME|FILE", help="A cached reference, or a manifest.json "
                                                                   "(or its folder).")],
    json_: Json = False,
) -> None:
    """Re-hash a reference's files against its manifest (or a pulled file against its record and refs.lock):
    one line per file; a mismatch is an error (exit 1).

    Example: gentools ref verify adm/imagenet256
    """
    from gentools.api.ref import ref_verify
    from gentools.cli.output import print_json, print_table

    rows = ref_verify(target)
    if json_:
        print_json({"command": "ref verify", "files": rows})
        return
    print_table(["file", "sha256", "size", "status"], ([r["file"], r["sha256"], r["size"], r["status"]]
                                                       for r in rows))
