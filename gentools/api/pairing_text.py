"""Text pairs for the reference-paired text metrics (``bleu``, ``chrf``, ``ter``, ``rouge``, ``meteor``): both
sets read as texts with ids (:mod:`gentools.features.texts`), each generated text matched with the references
that carry its id (several where the id repeats in REF), scored as one corpus, and reported as every paired
command reports (the per-item file, the counts, the bootstrap interval of a mean)."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from gentools.api._common import Result
from gentools.api.pairing import Scorer, _bootstrap, _first, match, read_pairs_file
from gentools.errors import InputError, warn
from gentools.text import escape


@dataclass(frozen=True)
class TextSide:
    """One set of texts: ``ids`` in first-seen order, ``texts[id]`` (one or more), ``label`` for messages."""

    ids: list
    texts: dict
    label: str
    source: str


def text_side(value, what: str, text_field: str, id_field: str, lines: bool, stdin=None) -> TextSide:
    """A path (``-``: stdin with ``lines``), or in memory: a list of strings (ids their positions), a list of
    lists of strings (several references), or a ``{id: text or [texts]}`` mapping."""
    from gentools.features.texts import checked_references, grouped, read_texts

    if isinstance(value, bytes):  # the command's '-' with --lines: stdin's bytes
        import io

        value, stdin = "-", io.BytesIO(value)
    if isinstance(value, (str, os.PathLike)):
        found, source = read_texts(value, text_field, id_field, lines, stdin)
        ids, texts = grouped(found)
        return TextSide(ids, texts, escape(os.fspath(value)), source)
    if isinstance(value, dict):
        items = [(str(key), texts) for key, texts in value.items()]
    elif isinstance(value, (list, tuple)):
        items = [(str(i), texts) for i, texts in enumerate(value)]
    else:
        raise InputError(f"{what}: expected a path, a list of texts or a dict of id -> text, got "
                         f"{escape(type(value).__name__)}")
    texts = {key: checked_references(entry, f"{what}[{escape(key)}]") for key, entry in items}
    return TextSide(list(texts), texts, f"{what} texts", f"{what} texts")


def score_texts(metric: str, gen, ref, scorer: Scorer, *, text_field: str, id_field: str, lines: bool,
                pairs, allow_unmatched: bool, per_item, bootstrap: int = 0, seed: int = 0) -> Result:
    """Read and match both sets, ``scorer.texts(hypotheses, references) -> (values, per-item columns,
    settings)`` over the matched pairs (in GEN's order), write ``per_item``, and return the values, the counts
    and (``bootstrap``: for the metrics that are means over pairs) the bootstrap interval of each mean."""
    a = text_side(gen, "gen", text_field, id_field, lines)
    b = text_side(ref, "ref", text_field, id_field, lines)
    several = [key for key in a.ids if len(a.texts[key]) > 1]
    if several:
        raise InputError(f"{a.label}: {len(several)} ids hold several texts: {_first(several)} (each generated "
                         f"text needs its own id; several texts with one id are references)")
    listed = read_pairs_file(pairs) if pairs is not None else None
    matched, unmatched_gen, unmatched_ref = match(a.ids, b.ids, listed, allow_unmatched, (a.label, b.label))
    hypotheses = [a.texts[a.ids[i]][0] for i, _ in matched]
    references = [b.texts[b.ids[j]] for _, j in matched]
    values, columns, settings = scorer.texts(hypotheses, references)
    for message in settings.pop("messages", []):
        warn(f"{metric}: {escape(message)}")
    if per_item is not None:
        _write_columns(per_item, [(a.ids[i], b.ids[j]) for i, j in matched], columns)
    result = dict(values, **({"signature": settings.pop("signature")} if "signature" in settings else {}),
                  pairs_scored=len(matched), pairs_failed=0)
    if allow_unmatched:
        result.update({"unmatched_gen": unmatched_gen, "unmatched_ref": unmatched_ref})
    if bootstrap:
        for name, column in columns.items():
            result.update(_bootstrap(name, column, bootstrap, seed))
    counts = sorted({len(refs) for refs in references})
    inputs = [{"path": side.source, "kind": "paired", "n": len(side.ids)} for side in (a, b)]
    return Result(result, inputs, dict(scorer.params, **settings, pairs=len(matched), references=counts,
                                       bootstrap=bootstrap, seed=seed if bootstrap else None))


def _write_columns(path, ids: list, columns: dict) -> None:
    from gentools.files import atomic_path

    with atomic_path(os.fspath(path)) as tmp, open(tmp, "w", encoding="utf-8") as out:
        out.write("\t".join(["id", "ref_id", *columns, "reason"]) + "\n")
        for k, (gen_id, ref_id) in enumerate(ids):
            cells = ["nan" if math.isnan(c[k]) else repr(float(c[k])) for c in columns.values()]
            out.write("\t".join([escape(gen_id), escape(ref_id), *cells, ""]) + "\n")


__all__ = ["TextSide", "score_texts", "text_side"]
