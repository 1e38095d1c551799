"""gentools presets: the defaults each peer tool uses, as one table, with the source line behind each."""

from __future__ import annotations

import typer
from typing_extensions import Annotated

from gentools.cli._options import Json


def presets(
    sources: Annotated[bool, typer.Option("--sources", help="One line per setting: preset, setting, value, "
                                                            "repository, file, the quoted line, URL.")] = False,
    json_: Json = False,
) -> None:
    """Print what each --preset sets: backbone, resize, FID covariance ddof, IS splits/shuffle, KID subset clamp,
    P&R k, comparison, float16 and backbone.

    Every setting was read in the tool's own source; --sources prints the file and line it comes from.

    Example: gentools presets --sources | grep stylegan
    """
    from gentools import presets as table_of
    from gentools.cli.output import print_json, print_table

    rows = table_of.sources() if sources else table_of.table()
    if json_:
        print_json(rows)
        return
    columns = list(rows[0])
    print_table(columns, ([row[c] for c in columns] for row in rows))
