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
    import json

    from gentools import presets as table_of

    rows = table_of.sources() if sources else table_of.table()
    if json_:
        print(json.dumps(rows))
        return
    columns = list(rows[0])
    print("\t".join(columns))
    for row in rows:
        print("\t".join(str(row[c]).lower() if isinstance(row[c], bool) else str(row[c]) for c in columns))
