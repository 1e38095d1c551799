"""The reference-paired text metrics: ``gentools bleu``, ``chrf``, ``ter``, ``rouge`` and ``meteor`` (and
``gentools.bleu``, ...), each generated text against the references with its id.

GEN and REF are folders or archives of ``.txt`` documents, ``.jsonl`` records, ``.tsv``/``.csv`` columns,
files of one text per line (``--lines``; ``-`` is stdin), or lists and ``{id: text}`` mappings from Python
(:mod:`gentools.features.texts`). An id that repeats in REF (or a list in a JSONL field) gives that item
several references. The scores are the packages' own (:mod:`gentools.metrics.text_pairs`).
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import Optional

from gentools.api._common import Result
from gentools.api.paired import ALLOW_UNMATCHED, BOOTSTRAP, PAIR_SEED, PAIRED, PAIRS, _require
from gentools.api.pairing import Scorer
from gentools.api.pairing_text import score_texts
from gentools.api.registry import Option, register_metric
from gentools.errors import InputError, UsageError, warn
from gentools.text import escape

TEXT_FIELD = Option("text_field", "text", "The JSONL field or TSV/CSV column holding the text.", type=str)
ID_FIELD = Option("id_field", "id", "The JSONL field or TSV/CSV column holding the id (absent: the line or row "
                  "number, from 1).", type=str)
LINES = Option("lines", False, "Each line of a .txt file (or of stdin, '-') is one text, its id the line number "
               "(from 1): sacrebleu's one-segment-per-line files.")
TEXT_PER_ITEM = Option("per_item", None, "Write id, ref_id and the sentence score(s) per pair to this TSV.",
                       type=str, metavar="FILE.tsv")
READING = (TEXT_FIELD, ID_FIELD, LINES, PAIRS, ALLOW_UNMATCHED, TEXT_PER_ITEM)
LOWERCASE = Option("lowercase", False, "Lowercase both sides first (sacrebleu's -lc).")


def _sacrebleu_scorer(metric: str, **options) -> Scorer:
    from gentools.metrics.text_pairs import sacrebleu_metric

    _require("sacrebleu", metric, "text")
    return Scorer(dict(options), texts=functools.partial(sacrebleu_metric, metric, **options))


def bleu_scorer(tokenize: str = "13a", lowercase: bool = False, smooth_method: str = "exp") -> Scorer:
    """sacrebleu's BLEU: the corpus score, the signature, ``sentence_bleu`` per pair."""
    return _sacrebleu_scorer("bleu", tokenize=tokenize, lowercase=lowercase, smooth_method=smooth_method)


def chrf_scorer(char_order: int = 6, word_order: int = 0, beta: int = 2, lowercase: bool = False) -> Scorer:
    """sacrebleu's chrF (chrF++ with ``word_order=2``)."""
    return _sacrebleu_scorer("chrf", char_order=char_order, word_order=word_order, beta=beta, lowercase=lowercase)


def ter_scorer(normalized: bool = False, no_punct: bool = False, case_sensitive: bool = False) -> Scorer:
    """sacrebleu's TER."""
    return _sacrebleu_scorer("ter", normalized=normalized, no_punct=no_punct, case_sensitive=case_sensitive)


def rouge_scorer(stemmer: bool = False) -> Scorer:
    """rouge-score's F-measures per pair (a warning when non-ASCII text is dropped by its tokenizer)."""
    from gentools.metrics.text_pairs import rouge

    _require("rouge_score", "rouge", "text")
    return Scorer({"stemmer": stemmer}, texts=_ascii_only("rouge", functools.partial(rouge, use_stemmer=stemmer)))


def meteor_scorer(wordnet: Optional[str] = None) -> Scorer:
    """nltk's METEOR with WordNet read from ``wordnet`` (or NLTK_DATA)."""
    from gentools.metrics.text_pairs import meteor

    _require("nltk", "meteor", "text")
    reader, where = load_wordnet(wordnet)

    def scored(hypotheses, references):
        with on_nltk_path(wordnet):
            return meteor(hypotheses, references, wordnet=reader)

    return Scorer({"wordnet": where, "tokens": "whitespace"}, texts=scored)


def _local_model(model: str) -> str:
    """A model folder as it is, or a model id's snapshot in the Hugging Face cache, found without the network:
    bert-score would call from_pretrained(model) and download, and gentools reads models that are here only."""
    if os.path.isdir(model):
        return model
    from huggingface_hub import snapshot_download

    try:
        return snapshot_download(model, local_files_only=True)
    except (OSError, ValueError):
        raise InputError(f"bertscore: {escape(model)} is not in the Hugging Face cache; it is published at "
                         f"https://huggingface.co/{escape(model)}: download it into the cache, or pass --model FOLDER "
                         f"(save_pretrained layout)") from None


def bertscore_scorer(model: str = "roberta-large", num_layers: Optional[int] = None, idf: bool = False,
                     rescale_with_baseline: bool = False, lang: Optional[str] = None, baseline: Optional[str] = None,
                     batch_size: int = 64, device: str = "cpu") -> Scorer:
    """bert-score's ``score`` with its layer table (``num_layers`` defaults to its entry for ``model``), idf from
    the whole reference set, and its baseline rescaling; the model read from a local folder or the Hugging Face
    cache only, its files checked first."""
    from gentools.features.backbones.hf_audio import _checked_hf_files, _fingerprint
    from gentools.metrics.text_pairs import bertscore

    _require("bert_score", "bertscore", "text")
    from bert_score.utils import get_hash, model2layers

    if num_layers is None:
        if model not in model2layers:
            raise UsageError(f"bertscore: bert-score's layer table has no entry for {escape(model)}: pass "
                             f"--num-layers N (bert-score uses roberta-large's layer 17 for English)")
        num_layers = model2layers[model]
    if rescale_with_baseline and not lang:
        raise UsageError("bertscore: --rescale-with-baseline needs --lang (bert-score's baseline files are per "
                         "language and model; --baseline FILE gives your own)")
    if rescale_with_baseline and baseline is None:  # bert-score's own file, found by the model's name
        import bert_score

        baseline = os.path.join(os.path.dirname(bert_score.__file__), "rescale_baseline", lang, f"{model}.tsv")
        if not os.path.isfile(baseline):
            raise UsageError(f"bertscore: bert-score ships no baseline for {escape(lang)} and {escape(model)}",
                             hint="pass --baseline FILE")
    source = _local_model(model)
    _checked_hf_files(source)

    def scored(hypotheses, references):
        try:
            return bertscore(hypotheses, references, source, num_layers, idf, rescale_with_baseline, lang, baseline,
                             batch_size, device)
        except (OSError, ValueError) as exc:
            reason = escape(str(exc).splitlines()[0][:120]) if str(exc) else type(exc).__name__
            raise InputError(f"bertscore: the model {escape(model)} cannot be loaded ({reason})") from None

    return Scorer({"model": model, "num_layers": num_layers, "idf": idf, "rescale_with_baseline": rescale_with_baseline,
                   "lang": lang or "", "weights_sha256": _fingerprint(source),
                   "hash": get_hash(model, num_layers, idf, rescale_with_baseline, baseline is not None, False)},
                  texts=scored)


@register_metric(
    "bleu", inputs=PAIRED, metavar="GEN REF", paired=bleu_scorer, evaluator="pairs",
    options=(Option("tokenize", "13a", "sacrebleu's tokenizer: 13a (its default; mteval-v13a), intl, char, zh, "
                    "none, ...", type=str), LOWERCASE,
             Option("smooth_method", "exp", "Smoothing of the corpus score: exp, floor, add-k, none (sentence "
                    "scores use exp with effective order, as sentence_bleu).", type=str,
                    choices=("exp", "floor", "add-k", "none")), *READING),
    summary="BLEU (Papineni et al. 2002) of the generated texts against the references with their ids, through "
            "sacrebleu: its corpus score and signature; --per-item gives sentence_bleu per pair.\n\n"
            "Example: gentools bleu hyp.txt ref.txt --lines")
def bleu(gen, ref, *, tokenize, lowercase, smooth_method, text_field, id_field, lines, pairs, allow_unmatched,
         per_item) -> Result:
    """sacrebleu ``BLEU(tokenize, lowercase, smooth_method).corpus_score`` over the pairs matched by id. Returns
    ``bleu`` (0-100), ``signature``, ``pairs_scored``."""
    return score_texts("bleu", gen, ref, bleu_scorer(tokenize, lowercase, smooth_method), text_field=text_field,
                       id_field=id_field, lines=lines, pairs=pairs, allow_unmatched=allow_unmatched,
                       per_item=per_item)


@register_metric(
    "chrf", inputs=PAIRED, metavar="GEN REF", paired=chrf_scorer, evaluator="pairs",
    options=(Option("char_order", 6, "Character n-gram order.", min=1),
             Option("word_order", 0, "Word n-gram order: 0 for chrF, 2 for chrF++.", min=0),
             Option("beta", 2, "Recall's weight in the F-score.", min=1), LOWERCASE, *READING),
    summary="chrF (Popović 2015), or chrF++ with --word-order 2, of the generated texts against the references "
            "with their ids, through sacrebleu: its corpus score and signature.\n\n"
            "Example: gentools chrf hyp.jsonl refs.jsonl --word-order 2")
def chrf(gen, ref, *, char_order, word_order, beta, lowercase, text_field, id_field, lines, pairs,
         allow_unmatched, per_item) -> Result:
    """sacrebleu ``CHRF(char_order, word_order, beta, lowercase).corpus_score``. Returns ``chrf`` (0-100),
    ``signature``, ``pairs_scored``."""
    return score_texts("chrf", gen, ref, chrf_scorer(char_order, word_order, beta, lowercase), text_field=text_field,
                       id_field=id_field, lines=lines, pairs=pairs, allow_unmatched=allow_unmatched,
                       per_item=per_item)


@register_metric(
    "ter", inputs=PAIRED, metavar="GEN REF", paired=ter_scorer, evaluator="pairs",
    options=(Option("normalized", False, "Normalise punctuation and tokenise as TER's -N."),
             Option("no_punct", False, "Remove punctuation first."),
             Option("case_sensitive", False, "Keep case (sacrebleu lowercases by default)."), *READING),
    summary="TER (Snover et al. 2006) of the generated texts against the references with their ids, through "
            "sacrebleu: its corpus score (edits per reference word, x100) and signature.\n\n"
            "Example: gentools ter hyp.txt ref.txt --lines")
def ter(gen, ref, *, normalized, no_punct, case_sensitive, text_field, id_field, lines, pairs, allow_unmatched,
        per_item) -> Result:
    """sacrebleu ``TER(normalized, no_punct, case_sensitive).corpus_score``. Returns ``ter``, ``signature``,
    ``pairs_scored``."""
    return score_texts("ter", gen, ref, ter_scorer(normalized, no_punct, case_sensitive), text_field=text_field,
                       id_field=id_field, lines=lines, pairs=pairs, allow_unmatched=allow_unmatched,
                       per_item=per_item)


def _ascii_only(metric: str, function):
    """rouge-score's tokenizer keeps [a-z0-9] only: a warning when the texts hold anything else."""
    def checked(hypotheses, references):
        texts = hypotheses + [r for refs in references for r in refs]
        dropped = sum(1 for t in texts if not t.isascii())
        if dropped:
            warn(f"{metric}: {dropped} of {len(texts)} texts hold non-ASCII characters, which rouge-score's "
                 f"tokenizer drops (it keeps a-z and 0-9)")
        return function(hypotheses, references)

    return checked


@register_metric(
    "rouge", inputs=PAIRED, metavar="GEN REF", paired=rouge_scorer, evaluator="pairs",
    options=(Option("stemmer", False, "Porter-stem the tokens (rouge-score's use_stemmer)."),
             *READING, BOOTSTRAP, PAIR_SEED),
    summary="ROUGE-1, -2, -L and -Lsum F-measures (Lin 2004) of each generated text against the references with "
            "its id, through rouge-score (the best over several references), and their means.\n\n"
            "Example: gentools rouge summaries/ references/ --stemmer --bootstrap 1000")
def rouge(gen, ref, *, stemmer, text_field, id_field, lines, pairs, allow_unmatched, per_item, bootstrap,
          seed) -> Result:
    """Means of rouge-score's ``RougeScorer([...], use_stemmer).score(target, prediction)`` F-measures. Returns
    ``rouge1``, ``rouge2``, ``rougeL``, ``rougeLsum``, ``pairs_scored`` (and each mean's bootstrap interval)."""
    return score_texts("rouge", gen, ref, rouge_scorer(stemmer), text_field=text_field, id_field=id_field,
                       lines=lines, pairs=pairs, allow_unmatched=allow_unmatched, per_item=per_item,
                       bootstrap=bootstrap, seed=seed)


WORDNET_HELP = ("on a machine with network: python -m nltk.downloader -d DIR wordnet, then pass --wordnet "
                "DIR/corpora/wordnet (or set NLTK_DATA=DIR)")


@contextlib.contextmanager
def on_nltk_path(directory: Optional[str]):
    """``directory`` on ``nltk.data.path`` for the block: nltk 3.9+ opens corpus files only below that path (its
    sandbox, nltk.pathsec), and a WordNet given by ``--wordnet`` may lie elsewhere; the path is restored after."""
    import nltk

    if directory is None:
        yield
        return
    saved = list(nltk.data.path)
    nltk.data.path.append(os.path.abspath(directory))
    try:
        yield
    finally:
        nltk.data.path[:] = saved


def load_wordnet(directory: Optional[str]):
    """nltk's WordNet reader over ``directory`` (the folder holding ``index.noun``, ``data.noun``, ...), else
    over ``corpora/wordnet`` found on nltk's data path (``NLTK_DATA``); a one-line error when there is none."""
    import warnings

    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader, WordNetError

    if directory is None:
        try:
            root = nltk.data.find("corpora/wordnet")
        except LookupError:
            raise UsageError("meteor needs WordNet, and none is on nltk's data path (NLTK_DATA); without it METEOR "
                             "would score without synonyms", hint=WORDNET_HELP) from None
        where = str(root)
    else:
        if not os.path.isfile(os.path.join(directory, "index.noun")):
            raise InputError(f"{escape(directory)}: not a WordNet folder (no index.noun)", hint=WORDNET_HELP)
        root, where = directory, directory
    class Reader(WordNetCorpusReader):
        def map_wn(self, version="wordnet"):
            return None  # the map to another WordNet's synsets (it loads corpora/wordnet itself); METEOR needs none

    try:
        with warnings.catch_warnings(), on_nltk_path(directory):
            warnings.filterwarnings("ignore", "The multilingual functions")
            return Reader(root, None), where
    except (OSError, ValueError, LookupError, IndexError, KeyError, AssertionError, WordNetError) as exc:
        raise InputError(f"{escape(where)}: cannot read WordNet ({escape(str(exc)[:120])})") from None


@register_metric(
    "meteor", inputs=PAIRED, metavar="GEN REF", paired=meteor_scorer, evaluator="pairs",
    options=(Option("wordnet", None, "The WordNet folder (index.noun, data.noun, ...; default: corpora/wordnet on "
                    "NLTK_DATA).", type=str, metavar="DIR"), *READING, BOOTSTRAP, PAIR_SEED),
    summary="METEOR (Banerjee & Lavie 2005) of each generated text against the references with its id, through "
            "nltk's meteor_score over whitespace tokens (the best over several references), with WordNet "
            "synonyms; the mean.\n\nExample: gentools meteor hyp.txt ref.txt --lines --wordnet ~/nltk_data/corpora/wordnet")
def meteor(gen, ref, *, wordnet, text_field, id_field, lines, pairs, allow_unmatched, per_item, bootstrap,
           seed) -> Result:
    """Mean of nltk's ``meteor_score(references, hypothesis, wordnet=...)`` (alpha 0.9, beta 3, gamma 0.5).
    Returns ``meteor``, ``pairs_scored`` (and the bootstrap interval)."""
    return score_texts("meteor", gen, ref, meteor_scorer(wordnet), text_field=text_field, id_field=id_field,
                       lines=lines, pairs=pairs, allow_unmatched=allow_unmatched, per_item=per_item,
                       bootstrap=bootstrap, seed=seed)


@register_metric(
    "bertscore", inputs=PAIRED, metavar="GEN REF", paired=bertscore_scorer, evaluator="pairs",
    options=(Option("model", "roberta-large", "bert-score's model_type: a model id in the Hugging Face cache, or a "
                    "save_pretrained folder.", type=str),
             Option("num_layers", None, "The layer whose embeddings are matched (default: bert-score's table, 17 for "
                    "roberta-large).", type=int, min=0, default_text="bert-score's table"),
             Option("idf", False, "Weight tokens by idf over the whole reference set."),
             Option("rescale_with_baseline", False, "Rescale with bert-score's baseline for --lang and the model."),
             Option("lang", None, "The language of the baseline (bert-score's lang).", type=str),
             Option("baseline", None, "A baseline TSV of your own (bert-score's baseline_path).", type=str,
                    metavar="FILE"),
             Option("batch_size", 64, "Sentences per forward pass.", min=1),
             Option("device", "cpu", "Where to run: cpu, cuda, cuda:N.", type=str),
             *READING, BOOTSTRAP, PAIR_SEED),
    summary="BERTScore (Zhang et al. 2020) of each generated text against the references with its id, through "
            "bert-score's score(): precision, recall and F1 per pair (the best over several references), and their "
            "means.\n\nExample: gentools bertscore hyp.txt ref.txt --lines --model roberta-large --idf")
def bertscore(gen, ref, *, model, num_layers, idf, rescale_with_baseline, lang, baseline, batch_size, device,
              text_field, id_field, lines, pairs, allow_unmatched, per_item, bootstrap, seed) -> Result:
    """Means of bert-score's P, R and F1 over the pairs matched by id. Returns ``bertscore_precision``,
    ``bertscore_recall``, ``bertscore_f1``, ``pairs_scored`` (and each mean's bootstrap interval)."""
    return score_texts("bertscore", gen, ref, bertscore_scorer(model, num_layers, idf, rescale_with_baseline, lang,
                                                               baseline, batch_size, device),
                       text_field=text_field, id_field=id_field, lines=lines, pairs=pairs,
                       allow_unmatched=allow_unmatched, per_item=per_item, bootstrap=bootstrap, seed=seed)
