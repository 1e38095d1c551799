"""gentools info: what a gentools file holds and where it came from."""

from __future__ import annotations

from typing import List

import typer
from typing_extensions import Annotated

from gentools.cli import _console
from gentools.cli._options import Json, NoStdin, Quiet


def info(
    inputs: Annotated[List[str], typer.Argument(metavar="FILE...", help="Features or stats files; '-' is stdin.")],
    json_: Json = False,
    skipped: Annotated[bool, typer.Option("--skipped", help="Print the ids of the inputs the extraction skipped, "
                                          "one per line, instead.")] = False,
    quiet: Quiet = False,
    no_stdin: NoStdin = False,
) -> None:
    """Print a file's kind, shapes and provenance as name<TAB>value lines (like `samtools view -H`).

    Several files are separated by a blank line; --json prints one object per line.

    Example: gentools info gen.h5
    """
    from gentools.cli._inputs import sources
    from gentools.cli.output import print_json, print_lines
    from gentools.inputs import load

    _console.set_quiet(quiet)
    for index, source in enumerate(sources(inputs, no_stdin)):
        item = load(source, allow_incomplete=True, allow_sets=True)
        if skipped:
            from gentools.text import escape

            for skipped_id in (item.skipped if item.kind == "features" else []):
                print(escape(skipped_id))
            continue
        record = {"path": item.label}
        if item.kind == "stats-set":
            record.update(kind="edm2-stats", n=item.n)
            record.update({f"dim.{name}": len(entry.mu) for name, entry in item.entries.items()})
        elif item.kind == "features":
            record.update(kind="features", n=item.n, dim=item.dim, skipped=len(item.skipped))
            record.update({f"shape.{k}": "x".join(map(str, v)) for k, v in item.shapes().items()})
            if item.labels is not None:
                record["classes"] = len(set(item.labels))
        else:
            record.update(kind="stats", n=item.n, dim=len(item.mu), spatial=item.spatial is not None)
        record.update(item.provenance)
        if json_:
            print_json(record)
            continue
        if index:
            print()
        print_lines(record.items())
