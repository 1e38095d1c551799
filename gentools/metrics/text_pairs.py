"""Reference-paired text metrics: each generated text against its own references (one or more).

BLEU (Papineni et al. 2002), chrF (Popović 2015; chrF++ with word bigrams, 2017) and TER (Snover et al. 2006)
call sacrebleu itself (Post 2018): the corpus score is ``METRIC(...).corpus_score(hypotheses, references)``
and each item's ``sentence_score`` (for BLEU with ``effective_order=True``, as ``sacrebleu.sentence_bleu``).
ROUGE (Lin 2004) calls rouge-score's ``RougeScorer.score(target, prediction)`` (``score_multi``, the best
F-measure, with several references). Each function takes ``hypotheses`` (n strings) and ``references``
(n lists of one or more strings) and returns ``(corpus values, per-item columns, settings)``.
"""

from __future__ import annotations

import numpy as np

ROUGE_TYPES = ("rouge1", "rouge2", "rougeL", "rougeLsum")


def _streams(references: list) -> list:
    """sacrebleu's layout: one stream per reference position, ``None`` where an item has fewer references (its
    variable-reference convention, ``nrefs:var`` in the signature)."""
    most = max(len(refs) for refs in references)
    return [[refs[k] if k < len(refs) else None for refs in references] for k in range(most)]


def sacrebleu_metric(name: str, hypotheses: list, references: list, **options) -> tuple[dict, dict, dict]:
    """``name`` (bleu, chrf, ter) through sacrebleu: ``{name: corpus score}``, ``{name: sentence scores}``
    and ``{"signature": ...}``; ``options`` are the metric class's keywords."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    kind = {"bleu": BLEU, "chrf": CHRF, "ter": TER}[name]
    metric = kind(**options)
    corpus = metric.corpus_score(hypotheses, _streams(references))  # then the signature knows the count of refs
    sentence = kind(**options, **({"effective_order": True} if name == "bleu" else {}))
    per_item = np.array([sentence.sentence_score(h, refs).score for h, refs in zip(hypotheses, references)])
    return {name: float(corpus.score)}, {name: per_item}, {"signature": str(metric.get_signature())}


def rouge(hypotheses: list, references: list, use_stemmer: bool = False) -> tuple[dict, dict, dict]:
    """rouge1, rouge2, rougeL and rougeLsum F-measures per item (``RougeScorer(types, use_stemmer).score``;
    with several references ``score_multi``, the best), and their means."""
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=use_stemmer)
    columns = {name: np.empty(len(hypotheses)) for name in ROUGE_TYPES}
    for i, (hypothesis, refs) in enumerate(zip(hypotheses, references)):
        scores = scorer.score(refs[0], hypothesis) if len(refs) == 1 else scorer.score_multi(refs, hypothesis)
        for name in ROUGE_TYPES:
            columns[name][i] = scores[name].fmeasure
    return {name: float(values.mean()) for name, values in columns.items()}, columns, {}


def meteor(hypotheses: list, references: list, wordnet) -> tuple[dict, dict, dict]:
    """METEOR per item (nltk's ``meteor_score(references, hypothesis, wordnet=...)`` over whitespace tokens;
    the best over several references), and the mean."""
    from nltk.translate.meteor_score import meteor_score

    values = np.array([meteor_score([r.split() for r in refs], h.split(), wordnet=wordnet)
                       for h, refs in zip(hypotheses, references)])
    return {"meteor": float(values.mean())}, {"meteor": values}, {}


def bertscore(hypotheses: list, references: list, model: str, num_layers: int, idf: bool = False,
              rescale: bool = False, lang: str | None = None, baseline: str | None = None, batch_size: int = 64,
              device: str = "cpu") -> tuple[dict, dict, dict]:
    """BERTScore (Zhang et al. 2020) through ``bert_score.score(cands, refs, model_type, num_layers, idf, ...)``:
    per item P, R, F1 (the best over several references, as bert-score picks), and their means. idf, when on,
    is bert-score's over every reference passed (the whole set). What bert-score prints on stderr comes back in
    ``settings["messages"]``."""
    import contextlib
    import io

    import bert_score
    from transformers.utils import logging as hf_logging

    refs = [r[0] for r in references] if all(len(r) == 1 for r in references) else references
    printed = io.StringIO()
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()  # transformers' loading bars are not bert-score's messages
    hf_logging.set_verbosity_error()
    try:
        with contextlib.redirect_stderr(printed), contextlib.redirect_stdout(printed):
            precision, recall, f1 = bert_score.score(list(hypotheses), refs, model_type=model, num_layers=num_layers,
                                                     idf=idf, device=device, batch_size=batch_size, nthreads=0,
                                                     lang=lang, rescale_with_baseline=rescale, baseline_path=baseline)
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
    columns = {"bertscore_precision": precision.double().numpy(), "bertscore_recall": recall.double().numpy(),
               "bertscore_f1": f1.double().numpy()}
    messages = [line for line in printed.getvalue().splitlines() if line.strip()]
    return {name: float(values.mean()) for name, values in columns.items()}, columns, {"messages": messages}
