"""gentools presets: the defaults each peer tool uses, as one table."""

from __future__ import annotations

from gentools.cli._options import Json


def presets(json_: Json = False) -> None:
    """Print what each --preset sets: resize, IS logits/splits/shuffle, KID subset clamp, P&R k and comparison.

    Example: gentools presets; gentools extract imgs/ --preset adm -o f.h5; gentools is f.h5 --preset adm
    """
    import json

    from gentools.presets import table

    rows = table()
    if json_:
        print(json.dumps(rows))
        return
    columns = list(rows[0])
    print("\t".join(columns))
    for row in rows:
        print("\t".join(str(row[c]).lower() if isinstance(row[c], bool) else str(row[c]) for c in columns))
