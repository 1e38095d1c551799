"""The reference-paired text commands against the packages themselves: BLEU, chrF, chrF++ and TER against
sacrebleu 2.6.0, ROUGE against rouge-score 0.1.2, with one and two references per item, files in any order,
read from .txt folders, JSONL, TSV and lines. The lines relied on:

sacrebleu/metrics/base.py
    _cache_references: "A particular reference segment can be '' or `None` to allow the use of variable number
                        of references per segment."  (lines = [x for x in refs if x is not None])
sacrebleu/compat.py
    sentence_bleu(..., use_effective_order=True): BLEU(..., effective_order=use_effective_order)
rouge_score/rouge_scorer.py
    score_multi: "The target with the maximum f-measure is used for the final score for each score type."
rouge_score/tokenize.py
    NON_ALPHANUM_PATTERN = r"[^a-z0-9]+"
"""

from __future__ import annotations

import json
import os
import random

import numpy as np
import pytest

import gentools
from gentools.errors import InputError, UsageError
from tests.conftest import parse_tsv, run_cli

sacrebleu = pytest.importorskip("sacrebleu")
rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")

WORDS = ("the a cat dog sat ran on under mat rug quickly slowly big small red blue house garden near far "
         "and with ate saw bird tree").split()


def _corpus(count: int = 14, seed: int = 0) -> tuple[list, list]:
    """``count`` hypotheses and, for each, two references: word sequences sharing some n-grams."""
    rng = random.Random(seed)
    hypotheses, references = [], []
    for _ in range(count):
        base = [rng.choice(WORDS) for _ in range(rng.randint(5, 12))]
        ref1 = [w if rng.random() < 0.7 else rng.choice(WORDS) for w in base]
        ref2 = [w if rng.random() < 0.5 else rng.choice(WORDS) for w in base]
        hypotheses.append(" ".join(base).capitalize() + ".")
        references.append([" ".join(ref1) + " .", " ".join(ref2)])
    return hypotheses, references


def _values(*argv) -> dict:
    proc = run_cli(*argv, "-q", check=0)
    return parse_tsv(proc.stdout)


@pytest.fixture
def corpus(tmp_path):
    """gen.jsonl (ids shuffled), ref.tsv (two rows per id, in another order), and the same as line files."""
    hypotheses, references = _corpus()
    ids = [f"doc{i:02d}" for i in range(len(hypotheses))]
    order = list(range(len(ids)))
    random.Random(1).shuffle(order)
    with open(tmp_path / "gen.jsonl", "w") as out:
        for i in order:
            out.write(json.dumps({"id": ids[i], "text": hypotheses[i]}) + "\n")
    rows = [(ids[i], refs[k]) for i, refs in enumerate(references) for k in range(2)]
    random.Random(2).shuffle(rows)
    (tmp_path / "ref.tsv").write_text("id\ttext\n" + "".join(f"{key}\t{text}\n" for key, text in rows))
    (tmp_path / "hyp.txt").write_text("".join(h + "\n" for h in hypotheses))
    (tmp_path / "ref1.txt").write_text("".join(r[0] + "\n" for r in references))
    return tmp_path, hypotheses, references


def test_bleu_chrf_ter_equal_sacrebleu_with_one_and_two_references(corpus):
    root, hypotheses, references = corpus
    streams = [[r[k] for r in references] for k in range(2)]
    for metric, theirs, flags in (("bleu", sacrebleu.metrics.BLEU(), ()),
                                  ("chrf", sacrebleu.metrics.CHRF(), ()),
                                  ("chrf", sacrebleu.metrics.CHRF(word_order=2), ("--word-order", "2")),
                                  ("ter", sacrebleu.metrics.TER(), ())):
        expected = theirs.corpus_score(hypotheses, streams)
        got = _values(metric, root / "gen.jsonl", root / "ref.tsv", *flags)
        assert float(got[metric]) == pytest.approx(expected.score, abs=1e-9), metric
        assert got["signature"] == str(theirs.get_signature()) and "nrefs:2" in got["signature"]
        assert got["pairs_scored"] == str(len(hypotheses))
        one = theirs.corpus_score(hypotheses, streams[:1])
        got = _values(metric, root / "hyp.txt", root / "ref1.txt", "--lines", *flags)
        assert float(got[metric]) == pytest.approx(one.score, abs=1e-9) and "nrefs:1" in got["signature"]
    assert 10 < float(_values("bleu", root / "hyp.txt", root / "ref1.txt", "--lines")["bleu"]) < 90


def test_per_item_equals_sentence_bleu_and_shuffling_changes_nothing(corpus, tmp_path):
    root, hypotheses, references = corpus
    ids = [f"doc{i:02d}" for i in range(len(hypotheses))]
    run_cli("bleu", root / "gen.jsonl", root / "ref.tsv", "--per-item", tmp_path / "bleu.tsv", "-q", check=0)
    rows = [line.split("\t") for line in (tmp_path / "bleu.tsv").read_text().splitlines()]
    assert rows[0] == ["id", "ref_id", "bleu", "reason"]
    by_id = {row[0]: float(row[2]) for row in rows[1:]}
    assert by_id == pytest.approx({key: sacrebleu.sentence_bleu(h, refs).score
                                   for key, h, refs in zip(ids, hypotheses, references)}, abs=1e-9)
    # in memory, in the original order: the same corpus score as the shuffled files
    api = gentools.bleu(dict(zip(ids, hypotheses)), dict(zip(ids, references)))
    assert api["bleu"] == pytest.approx(float(_values("bleu", root / "gen.jsonl", root / "ref.tsv")["bleu"]),
                                        abs=1e-12)


def test_a_missing_reference_id_is_an_error_listing_it(corpus, tmp_path):
    root, hypotheses, _ = corpus
    with open(root / "gen.jsonl", "a") as out:
        out.write(json.dumps({"id": "extra7", "text": "a cat"}) + "\n")
    proc = run_cli("bleu", root / "gen.jsonl", root / "ref.tsv", check=1)
    assert b"1 generated ids have no reference" in proc.stderr and b"extra7" in proc.stderr
    got = _values("bleu", root / "gen.jsonl", root / "ref.tsv", "--allow-unmatched")
    assert got["unmatched_gen"] == "1" and got["pairs_scored"] == str(len(hypotheses))


@pytest.mark.parametrize("stemmer", [False, True])
def test_rouge_equals_rouge_score_per_item_and_the_mean_and_the_bootstrap_repeats(corpus, tmp_path, stemmer):
    root, hypotheses, references = corpus
    flags = ("--stemmer",) if stemmer else ()
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL", "rougeLsum"], use_stemmer=stemmer)
    one = [scorer.score(refs[0], h) for h, refs in zip(hypotheses, references)]
    got = _values("rouge", root / "hyp.txt", root / "ref1.txt", "--lines", "--per-item", tmp_path / "r.tsv", *flags)
    rows = [line.split("\t") for line in (tmp_path / "r.tsv").read_text().splitlines()]
    assert rows[0] == ["id", "ref_id", "rouge1", "rouge2", "rougeL", "rougeLsum", "reason"]
    for k, name in enumerate(("rouge1", "rouge2", "rougeL", "rougeLsum")):
        theirs = [s[name].fmeasure for s in one]
        assert [float(row[2 + k]) for row in rows[1:]] == pytest.approx(theirs, abs=1e-12)
        assert float(got[name]) == pytest.approx(np.mean(theirs), abs=1e-12)
    both = [scorer.score_multi(refs, h)["rougeL"].fmeasure for h, refs in zip(hypotheses, references)]
    assert float(_values("rouge", root / "gen.jsonl", root / "ref.tsv", *flags)["rougeL"]) == \
        pytest.approx(np.mean(both), abs=1e-12)
    runs = [_values("rouge", root / "hyp.txt", root / "ref1.txt", "--lines", "--bootstrap", "200", "--seed", "5",
                    *flags) for _ in range(2)]
    assert runs[0] == runs[1] and float(runs[0]["rouge1_ci_low"]) < float(runs[0]["rouge1"]) < \
        float(runs[0]["rouge1_ci_high"])


def test_rouge_warns_that_non_ascii_text_is_dropped():
    with pytest.warns(UserWarning, match="1 of 2 texts hold non-ASCII characters"):
        gentools.rouge(["le café est noir"], ["the coffee is black"])


def test_stdin_lines_and_what_the_readers_refuse(tmp_path):
    (tmp_path / "ref.txt").write_text("the cat sat on the mat\na dog ran in the garden\n")
    proc = run_cli("bleu", "-", tmp_path / "ref.txt", "--lines", "-q",
                   stdin_bytes=b"the cat sat on the mat\na dog ran in the garden\n", check=0)
    assert float(parse_tsv(proc.stdout)["bleu"]) == pytest.approx(100.0)
    (tmp_path / "bad.txt").write_bytes(b"fine\nbad \xff byte\n")
    proc = run_cli("bleu", tmp_path / "bad.txt", tmp_path / "ref.txt", "--lines", check=1)
    assert proc.stderr.decode().strip().endswith("bad.txt:2: not UTF-8 text (byte 10: invalid start byte)") or \
        b"bad.txt:2: not UTF-8 text" in proc.stderr
    (tmp_path / "nul.txt").write_bytes(b"fine\nnul \x00 here\n")
    proc = run_cli("bleu", tmp_path / "nul.txt", tmp_path / "ref.txt", "--lines", check=1)
    assert b"nul.txt:2: a control character \\x00" in proc.stderr
    (tmp_path / "e.txt").write_text("the cat sat on the mat\n\n")
    with pytest.warns(UserWarning, match="1 of 2 texts are empty"):
        gentools.bleu(str(tmp_path / "e.txt"), str(tmp_path / "ref.txt"), lines=True)
    (tmp_path / "g.jsonl").write_text('{"id": 1, "body": "x"}\n')
    proc = run_cli("bleu", tmp_path / "g.jsonl", tmp_path / "ref.txt", check=1)
    assert b"g.jsonl:1: no field 'text' (--text-field)" in proc.stderr and b"body" in proc.stderr
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "1.txt").write_text("the cat sat on the mat")
    (docs / "sub" / "2.txt").write_text("a dog ran in the garden")
    refs = tmp_path / "refs"
    (refs / "sub").mkdir(parents=True)
    (refs / "1.txt").write_text("the cat sat on the mat")
    (refs / "sub" / "2.txt").write_text("a dog ran in the garden")
    assert gentools.bleu(str(docs), str(refs))["bleu"] == pytest.approx(100.0)


SYNSETS = {"noun": [["cat", "feline"], ["dog", "hound"], ["house", "home"], ["mat", "rug"]],
           "verb": [["sit"], ["run", "race"]], "adj": [["big", "large"], ["small", "little"]],
           "adv": [["quickly", "fast"]]}


def write_wordnet(folder, synsets=None):
    """A WordNet in WordNet's own file format (the text demo's writer, examples/text/corpus.py)."""
    from tests.text.models import DEMO

    return DEMO.write_wordnet(folder, SYNSETS if synsets is None else synsets)


def test_meteor_equals_nltk_with_a_wordnet_the_test_writes_and_refuses_to_run_without_one(tmp_path, monkeypatch):
    nltk = pytest.importorskip("nltk")
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    from nltk.translate.meteor_score import meteor_score

    wordnet = write_wordnet(tmp_path / "data" / "corpora" / "wordnet")
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "data")])  # nltk's own reader looks itself up there
    with pytest.warns(UserWarning, match="multilingual"):
        theirs = WordNetCorpusReader(str(wordnet), None)
    hypotheses = ["the feline sat on the rug", "a hound ran fast", "the large home"]
    references = [["the cat sat on the mat"], ["a dog ran quickly", "the dog runs"], ["the big house"]]
    expected = [meteor_score([r.split() for r in refs], h.split(), wordnet=theirs)
                for h, refs in zip(hypotheses, references)]
    got = gentools.meteor(hypotheses, references, wordnet=str(wordnet), per_item=str(tmp_path / "m.tsv"))
    assert got["meteor"] == pytest.approx(np.mean(expected), abs=1e-12)
    rows = [line.split("\t") for line in (tmp_path / "m.tsv").read_text().splitlines()[1:]]
    assert [float(r[2]) for r in rows] == pytest.approx(expected, abs=1e-12)
    # synonyms count: the same texts scored against a WordNet without them score lower
    bare = write_wordnet(tmp_path / "bare", {pos: [words[:1] for words in synsets] for pos, synsets in SYNSETS.items()})
    assert gentools.meteor(hypotheses, references, wordnet=str(bare))["meteor"] < got["meteor"] - 0.05
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "nowhere")])
    proc = run_cli("meteor", tmp_path / "m.tsv", tmp_path / "m.tsv", check=2)
    assert proc.stderr.decode().startswith("gentools: error: meteor needs WordNet") and \
        len(proc.stderr.decode().strip().splitlines()) <= 2


def test_evaluator_text_pairs_equal_the_commands(corpus):
    _, hypotheses, references = corpus
    ev = gentools.Evaluator(metrics={"bleu": {}, "chrf": {"word_order": 2}, "rouge": {"stemmer": True}})
    ev.update(hypotheses[:5], target=references[:5])
    ev.update(tuple(hypotheses[5:]), target=references[5:])
    got = ev.compute()
    assert got["pairs"] == len(hypotheses)
    assert got["bleu"] == pytest.approx(gentools.bleu(hypotheses, references)["bleu"], abs=1e-9)
    assert got["chrf"] == pytest.approx(gentools.chrf(hypotheses, references, word_order=2)["chrf"], abs=1e-9)
    assert got["rougeL"] == pytest.approx(gentools.rouge(hypotheses, references, stemmer=True)["rougeL"], abs=1e-9)
    with pytest.raises(InputError, match="5 texts against 4 references"):
        ev.update(hypotheses[:5], target=references[:4])
    with pytest.raises(InputError, match="a control character"):
        ev.update(["bad \x01"], target=["ok"])
    assert ev.compute()["pairs"] == len(hypotheses)


@pytest.mark.parametrize("idf", [False, True])
def test_bertscore_equals_bert_score_with_a_random_roberta(tmp_path, corpus, idf):
    bert_score = pytest.importorskip("bert_score")
    from tests.text.models import write_roberta

    _, hypotheses, references = corpus
    folder = str(write_roberta(tmp_path / "roberta"))
    theirs = bert_score.score(hypotheses, [r[0] for r in references], model_type=folder, num_layers=2, idf=idf,
                              device="cpu", nthreads=0)
    got = gentools.bertscore(hypotheses, [r[0] for r in references], model=folder, num_layers=2, idf=idf,
                             per_item=str(tmp_path / "b.tsv"))
    for name, values in zip(("precision", "recall", "f1"), theirs):
        assert got[f"bertscore_{name}"] == pytest.approx(float(values.double().mean()), abs=1e-6)
    rows = [line.split("\t") for line in (tmp_path / "b.tsv").read_text().splitlines()]
    assert rows[0][2:5] == ["bertscore_precision", "bertscore_recall", "bertscore_f1"]
    assert [float(r[4]) for r in rows[1:]] == pytest.approx(theirs[2].double().tolist(), abs=1e-6)
    both = bert_score.score(hypotheses, references, model_type=folder, num_layers=2, idf=idf, device="cpu",
                            nthreads=0)
    assert gentools.bertscore(hypotheses, references, model=folder, num_layers=2, idf=idf)["bertscore_f1"] == \
        pytest.approx(float(both[2].double().mean()), abs=1e-6)
    if idf:  # idf over the whole reference set: the Evaluator fed in two batches gives the command's number
        ev = gentools.Evaluator(metrics={"bertscore": {"model": folder, "num_layers": 2, "idf": True}})
        ev.update(hypotheses[:4], target=references[:4])
        ev.update(hypotheses[4:], target=references[4:])
        assert ev.compute()["bertscore_f1"] == pytest.approx(float(both[2].double().mean()), abs=1e-9)
    with pytest.raises(UsageError, match="layer table has no entry"):
        gentools.bertscore(hypotheses, references, model=folder)
    if not idf:  # baseline rescaling, with a baseline file of the layout bert-score ships (one row per layer)
        baseline = tmp_path / "baseline.csv"
        baseline.write_text("LAYER,P,R,F\n" + "".join(f"{k},0.{k + 1},0.{k + 2},0.{k + 3}\n" for k in range(4)))
        rescaled = bert_score.score(hypotheses, [r[0] for r in references], model_type=folder, num_layers=2,
                                    device="cpu", nthreads=0, lang="en", rescale_with_baseline=True,
                                    baseline_path=str(baseline))
        got = gentools.bertscore(hypotheses, [r[0] for r in references], model=folder, num_layers=2, lang="en",
                                 rescale_with_baseline=True, baseline=str(baseline))
        assert got["bertscore_f1"] == pytest.approx(float(rescaled[2].double().mean()), abs=1e-6)
        assert got["bertscore_f1"] != pytest.approx(float(theirs[2].double().mean()), abs=1e-3)


def test_bertscore_reads_models_that_are_here_only(tmp_path, corpus):
    pytest.importorskip("bert_score")
    _, hypotheses, references = corpus
    (tmp_path / "hyp.txt").write_text("".join(h + "\n" for h in hypotheses))
    (tmp_path / "ref.txt").write_text("".join(r[0] + "\n" for r in references))
    env = dict(os.environ, HF_HOME=str(tmp_path / "empty-hf-home"))  # an empty cache, in a fresh interpreter
    proc = run_cli("bertscore", tmp_path / "hyp.txt", tmp_path / "ref.txt", "--lines", env=env, check=1)
    message = proc.stderr.decode().strip()
    assert "roberta-large is not in the Hugging Face cache; it is published at https://huggingface.co/roberta-large" \
        in message and len(message.splitlines()) == 1
