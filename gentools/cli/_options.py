"""Options shared by every command, spelled once (docs/conventions.md)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from typing_extensions import Annotated

from gentools.presets import DEFAULT, PRESETS

DEFAULT_SEED = DEFAULT.seed  # the one defaults table (presets.PRESETS["gentools"]): torch-fidelity's 2020

Output = Annotated[Optional[Path], typer.Option(
    "-o", "--output", help="Write the file here (prints its path when done). Without -o and with stdout "
                           "not a terminal, the file's bytes go to stdout.", show_default=False)]
Seed = Annotated[int, typer.Option("--seed", help="Seed of every random choice; same seed, same numbers.")]
Json = Annotated[bool, typer.Option("--json", help="Print one JSON object (values, inputs, provenance, "
                                                   "parameters, version) instead of name<TAB>value lines.")]
Append = Annotated[Optional[Path], typer.Option(
    "--append", metavar="FILE.jsonl", help="Also append the JSON object as one line to this file "
                                           "(e.g. one line per training checkpoint).", show_default=False)]
Tag = Annotated[Optional[List[str]], typer.Option(
    "--tag", metavar="KEY=VALUE", help="Add KEY=VALUE to the JSON object's tags (repeatable), "
                                       "e.g. --tag step=10000.", show_default=False)]
Quiet = Annotated[bool, typer.Option("-q", "--quiet", help="Print nothing on stderr but errors.")]
DownloadTimeout = Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=1,
                                                help="The whole download must end within this.")]
DOWNLOAD_DEADLINE = 6 * 3600.0
NoStdin = Annotated[bool, typer.Option(
    "--no-stdin", envvar="GENTOOLS_NO_STDIN",
    help="Do not wait for a still-running upstream command on a stdin pipe (the pipe rule).")]
Force = Annotated[bool, typer.Option(
    "--force", help="Proceed even if the inputs' backbone, weights, resize or layer differ.")]
PerClass = Annotated[bool, typer.Option(
    "--per-class", help="Group rows by their labels: one METRIC.LABEL line per class, then the mean over classes "
                        "(both inputs need labels: extract --labels / --classes).")]
PresetOption = Annotated[Optional[str], typer.Option(
    "--preset", help=f"Use every default of another tool: {', '.join(name for name in PRESETS if name != 'gentools')} "
                     "(`gentools presets` shows them). Explicit options still win.", show_default=False)]
