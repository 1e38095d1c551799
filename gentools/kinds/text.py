"""Text: documents and lines with their ids (features/texts.py), one row per text through an ``hf-text:``
backbone; in training, lists of strings."""

from __future__ import annotations

import os

from gentools.errors import InputError, UsageError, option, warn
from gentools.kinds.base import InputKind, Job, Request, no_clip_options
from gentools.text import escape


class TextKind(InputKind):
    name = "text"
    noun = "texts"
    takes = frozenset({"text"})
    guarded_keys = ("pooling", "max_tokens")

    def check(self, request: Request, parity) -> None:
        from gentools.features.backbones.hf_text import POOLINGS

        super().check(request, parity)
        if request.generator:
            raise UsageError(f"--generator: {request.backbone} takes texts; write the generated texts to files "
                             f"(.txt, .jsonl) and extract those")
        if request.pooling is not None and request.pooling not in POOLINGS:
            raise UsageError(f"--pooling {request.pooling}: expected one of {', '.join(POOLINGS)}")
        if request.max_tokens is not None and request.max_tokens < 1:
            raise UsageError(f"{option('max_tokens', request.max_tokens)}: expected a positive number of tokens")

    def in_memory_refusal(self, backbone: str) -> str:
        return f"{backbone} takes texts: pass text files (.txt, .jsonl, .tsv), or lists of strings to Evaluator.update"

    def settings(self, request: Request, parity):
        from gentools.features.backbones.hf_text import TextLoading

        return TextLoading(request.pooling or parity.text_pooling or "last-token",
                           request.max_tokens or parity.text_max_tokens or 0)

    def list(self, request: Request) -> tuple:
        from gentools.features.items import Item
        from gentools.features.texts import checked, read_texts

        if request.listed is not None:  # extract -: stdin's lines, each a text
            found = [(str(n), checked(line, "-", n)) for n, line in enumerate(request.listed, 1)]
            return [Item(key, "text", "-", text) for key, text in found], "stdin"
        items, sources = [], []
        for value in request.inputs:
            found, source = read_texts(value, request.text_field, request.id_field, request.lines)
            items += [Item(key, "text", str(value), text) for key, text in found]
            sources.append(source)
        if not items:
            raise InputError(f"{';'.join(map(str, request.inputs))}: no texts found")
        seen: set = set()
        for item in items:
            if item.id in seen:
                raise InputError(f"{item.path}: two texts have the id {item.id!r}; each row needs its own id",
                                 hint="several texts with one id are references for the paired metrics, not rows")
            seen.add(item.id)
        return items, ";".join(sources)

    def prepare(self, net, parity) -> None:
        from gentools.features.backbones.hf_text import TextLoading

        net.loading = TextLoading(parity.text_pooling or "last-token", parity.text_max_tokens or net.tokens_limit)

    def job(self, items, chosen: list, net, request: Request, settings) -> Job:
        from dataclasses import replace

        net.loading = replace(settings, max_tokens=settings.max_tokens or net.tokens_limit)  # as provenance says
        chosen_items = [items[i] for i in chosen]  # tokenized in this process: --workers does not apply

        def make_batches(positions):
            return text_batches([chosen_items[p] for p in positions], net, request.batch_size, positions,
                                request.skip_bad)

        return Job([item.id for item in chosen_items], make_batches)

    def provenance(self, request: Request, parity) -> dict:
        """How the texts were read, so that ``nn-grid --table`` can read them again by id."""
        return {"text_field": request.text_field, "id_field": request.id_field, "lines": bool(request.lines)}

    def row_texts(self, item, wanted: set) -> dict:
        """``{id: text}`` for the ``wanted`` ids of a text features file, read again from the files it was extracted
        from (its ``source``, with the recorded ``text_field``, ``id_field`` and ``lines``), as every text input is
        read and checked; a source that cannot be read leaves its texts out, with one warning."""
        from gentools.features.texts import read_texts

        record = item.provenance
        found: dict = {}
        missing = []
        for source in str(record.get("source", "")).split(";"):
            if not source or source == "stdin" or not os.path.exists(source):
                missing.append(source or "(none)")
                continue
            try:
                texts, _ = read_texts(source, str(record.get("text_field", "text")),
                                      str(record.get("id_field", "id")), bool(record.get("lines", False)))
            except InputError as exc:
                missing.append(f"{source} ({exc.message})")
                continue
            for key, text in texts:
                if key in wanted:
                    found.setdefault(key, text)
        if missing or len(found) < len(wanted):
            warn(f"nn-grid: {len(wanted) - len(found)} of {len(wanted)} texts of {item.label} could not be read "
                 f"again (from {escape(missing[0]) if missing else 'its source'}); their text cells are empty")
        return found

    def adapter(self, net, parity, pixel_range, frames, subsample):
        no_clip_options(self, net, frames, subsample)
        if tuple(pixel_range) != (-1, 1):
            raise UsageError(f"Evaluator: pixel_range applies to images and videos; {net.name} takes texts")
        return TextBatches(self, net)

    def probe(self, net) -> list:
        return ["features"]


def text_batches(items: list, net, batch_size: int, positions: list, skip_bad: bool):
    """:class:`~gentools.features.pipeline.Rows` of ``batch_size`` texts each, in order; a text that gives no
    tokens (an empty one, for GPT-2) is an error, or skipped with ``skip_bad`` (mauve drops empty texts)."""
    from gentools.features.backbones.hf_text import features_of
    from gentools.features.pipeline import Rows

    truncated = 0
    for start in range(0, len(items), batch_size):
        batch = items[start:start + batch_size]
        at = positions[start:start + batch_size]
        ids, cut = net.tokenize([item.member for item in batch])  # once: the rows come from these ids
        truncated += cut
        keep = [k for k, tokens in enumerate(ids) if tokens]
        if len(keep) < len(batch) and not skip_bad:
            bad = batch[next(k for k in range(len(batch)) if k not in keep)]
            raise InputError(f"{bad.path}: the text {bad.id!r} gives no tokens (an empty text)",
                             hint="--skip-bad skips such texts and lists them in the file (mauve drops them)")
        rows = {"features": features_of(net, [ids[k] for k in keep])} if keep else {}
        skipped = [k for k in range(len(batch)) if k not in keep]
        yield Rows([batch[k].id for k in keep], rows, skipped=[batch[k].id for k in skipped],
                   positions=[at[k] for k in keep], skipped_positions=[at[k] for k in skipped], inputs=len(batch))
    if truncated:
        warn(f"{truncated} of {len(items)} texts are longer than {net.loading.max_tokens} tokens and were "
             f"truncated to them")


class TextBatches:
    """``Evaluator.update(texts)``: a list of strings, each checked as text files are, one row per text."""

    noun = "texts"

    def __init__(self, kind: TextKind, net):
        self.kind, self.net = kind, net

    def rows(self, texts, sample_rate, start: int):
        from gentools.features.backbones.hf_text import pooled_rows
        from gentools.features.pipeline import Rows
        from gentools.features.texts import checked_list

        if sample_rate is not None:
            raise UsageError(f"update(sample_rate=...) applies to audio backbones; {self.net.name} takes texts")
        texts = checked_list(texts, "update()")
        ids = [f"text:{start + i}" for i in range(len(texts))]
        if not texts:
            return Rows([], {}, inputs=0)
        try:
            features, truncated = pooled_rows(self.net, list(texts))
        except ValueError as exc:
            raise InputError(f"update(): {exc} (an empty text)") from None
        if truncated:
            warn(f"update(): {truncated} of {len(texts)} texts were truncated to {self.net.loading.max_tokens} "
                 f"tokens")
        return Rows(ids, {"features": features}, positions=list(range(len(texts))), inputs=len(texts))


KIND = TextKind()
