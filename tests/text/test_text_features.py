"""Text features (``hf-text:``), MAUVE against mauve-text 0.4.0, FBD against the FBD code's formula, and the
Evaluator over texts. The models are random-weight GPT-2 and BERT folders written by tests/text/models.py. The
lines relied on:

mauve/utils.py (featurize_tokens_from_model)
    outs = model(input_ids=padded_chunk, attention_mask=attention_mask, ..., output_hidden_states=True, ...)
    for hidden_state, sent_length in zip(outs.hidden_states[-1], chunk_sent_length):
        h.append(hidden_state[sent_length - 1])
mauve/compute_mauve.py
    def compute_mauve(p_features=None, q_features=None, ..., num_buckets='auto', ..., seed=25, ...)
evaluate/metrics/mauve/mauve.py: compute_mauve(p_text=predictions, q_text=references, ...)   (GEN is P)
TextGenerationEvaluationMetrics/bert_distances.py
    input_ids = torch.tensor([self.tokenizer.encode(sentence, add_special_tokens=True)])
    pooler_output = self.model(input_ids)[1]
    sigma = np.cov(features, rowvar=False)
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import gentools
from gentools.errors import InputError
from tests.conftest import parse_tsv, run_cli
from tests.text.models import CORPUS, write_bert, write_gpt2

transformers = pytest.importorskip("transformers")

TEXTS = CORPUS + ["a", "the garden near the house was green and the road was long and quiet at night"]


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {"gpt2": str(write_gpt2(root / "gpt2")), "bert": str(write_bert(root / "bert"))}


@pytest.fixture
def texts_file(tmp_path):
    path = tmp_path / "texts.jsonl"
    path.write_text("".join(json.dumps({"id": f"t{i:02d}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    return path


def _theirs(folder: str, texts: list, pooling: str) -> np.ndarray:
    """transformers' own forward, one text at a time (no padding), pooled."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    rows = []
    with torch.no_grad():
        for text in texts:
            ids = torch.tensor([tokenizer(text)["input_ids"]])
            out = model(input_ids=ids, output_hidden_states=True)
            hidden = out.hidden_states[-1][0]
            rows.append({"last-token": hidden[-1], "cls": hidden[0], "mean": hidden.mean(0),
                         "pooler": getattr(out, "pooler_output", None)}[pooling].reshape(-1).numpy())
    return np.stack(rows)


@pytest.mark.parametrize("model,pooling", [("gpt2", "last-token"), ("gpt2", "mean"), ("gpt2", "cls"),
                                           ("bert", "pooler"), ("bert", "cls"), ("bert", "mean")])
def test_rows_equal_transformers_forward_for_each_pooling_whatever_the_batch(models, texts_file, model, pooling):
    expected = _theirs(models[model], TEXTS, pooling)
    for batch_size in (1, 5):
        got = gentools.extract(str(texts_file), backbone="hf-text:m", weights=models[model], pooling=pooling,
                               batch_size=batch_size, workers=0)
        assert list(got.ids) == [f"t{i:02d}" for i in range(len(TEXTS))]
        np.testing.assert_allclose(got.array(), expected, atol=1e-5, rtol=0)
        assert got.provenance["pooling"] == pooling and got.provenance["modality"] == "text"
        assert got.provenance["max_tokens"] == 64  # the model's position table


def test_truncation_is_counted_and_a_bad_pooling_is_one_line(models, texts_file, tmp_path):
    with pytest.warns(UserWarning, match=r"\d+ of 13 texts are longer than 4 tokens and were truncated"):
        short = gentools.extract(str(texts_file), backbone="hf-text:m", weights=models["gpt2"], max_tokens=4,
                                 workers=0)
    tokenizer = transformers.AutoTokenizer.from_pretrained(models["gpt2"])
    model = transformers.AutoModel.from_pretrained(models["gpt2"]).eval()
    with torch.no_grad():
        ids = torch.tensor([tokenizer(TEXTS[0])["input_ids"][:4]])
        first = model(input_ids=ids).last_hidden_state[0, -1].numpy()
    np.testing.assert_allclose(short.array()[0], first, atol=1e-5)
    proc = run_cli("extract", texts_file, "-b", "hf-text:m", "--weights", models["gpt2"], "--pooling", "pooler",
                   "-o", tmp_path / "x.h5", check=2)
    assert "has no pooler" in proc.stderr.decode() and len(proc.stderr.decode().strip().splitlines()) <= 2
    proc = run_cli("extract", texts_file, "-b", "inception", "--pooling", "mean", "-o", tmp_path / "y.h5", check=2)
    assert "--pooling and --max-tokens apply to text backbones" in proc.stderr.decode()


def test_mauve_equals_mauve_text_for_two_seeds_and_two_bucket_counts(tmp_path):
    mauve_package = pytest.importorskip("mauve")
    pytest.importorskip("faiss")
    rng = np.random.default_rng(0)
    gen = rng.normal(size=(260, 48)).astype(np.float32)
    ref = (rng.normal(size=(240, 48)) + 0.25).astype(np.float32)
    np.save(tmp_path / "gen.npy", gen)
    np.save(tmp_path / "ref.npy", ref)
    for seed in (25, 3):
        for buckets in ("auto", 16):
            theirs = mauve_package.compute_mauve(p_features=gen, q_features=ref, seed=seed, num_buckets=buckets)
            flags = ["--seed", str(seed)] + (["--num-buckets", str(buckets)] if buckets != "auto" else [])
            got = {k: float(v) for k, v in parse_tsv(run_cli("mauve", tmp_path / "gen.npy", tmp_path / "ref.npy",
                                                             *flags, "-q", check=0).stdout).items()}
            for name in ("mauve", "frontier_integral", "mauve_star", "frontier_integral_star"):
                assert got[name] == pytest.approx(getattr(theirs, name), abs=1e-6), (seed, buckets, name)
            assert got["num_buckets"] == theirs.num_buckets
    spread = gentools.mauve(gen, ref, seeds=5)
    assert spread["mauve_std"] > 0 and spread["frontier_integral_std"] > 0
    assert spread["mauve"] == pytest.approx(np.mean([gentools.mauve(gen, ref, seed=25 + k)["mauve"]
                                                     for k in range(5)]), abs=1e-12)


def test_fbd_is_fid_preset_fbd_and_equals_the_fbd_formula(models, texts_file, tmp_path):
    from scipy import linalg

    half = len(TEXTS) // 2
    gen_file, ref_file = tmp_path / "gen.jsonl", tmp_path / "ref.jsonl"
    lines = texts_file.read_text().splitlines()
    gen_file.write_text("\n".join(lines[:half]) + "\n")
    ref_file.write_text("\n".join(lines[half:]) + "\n")
    for source, out in ((gen_file, "gen.h5"), (ref_file, "ref.h5")):
        run_cli("extract", source, "-b", "hf-text:bert-base-uncased", "--weights", models["bert"], "--preset", "fbd",
                "-o", tmp_path / out, "-q", check=0)
    got = float(parse_tsv(run_cli("fid", tmp_path / "gen.h5", tmp_path / "ref.h5", "--preset", "fbd", "-q",
                                  check=0).stdout)["fid"])
    features = [_theirs(models["bert"], TEXTS[:half], "pooler"), _theirs(models["bert"], TEXTS[half:], "pooler")]
    mu = [f.mean(axis=0) for f in features]
    sigma = [np.cov(f, rowvar=False) for f in features]
    covmean, _ = linalg.sqrtm(sigma[1].dot(sigma[0]), disp=False)
    expected = (mu[1] - mu[0]).dot(mu[1] - mu[0]) + np.trace(sigma[0]) + np.trace(sigma[1]) - 2 * np.trace(covmean.real)
    assert got == pytest.approx(expected, rel=1e-5, abs=1e-6)  # against transformers' one-text forward
    rows = [gentools.load(str(tmp_path / name)).array().astype(np.float64) for name in ("gen.h5", "ref.h5")]
    mu = [r.mean(axis=0) for r in rows]  # the FBD code's formula on the very rows gentools stored
    sigma = [np.cov(r, rowvar=False) for r in rows]
    covmean, _ = linalg.sqrtm(sigma[1].dot(sigma[0]), disp=False)
    same_rows = (mu[1] - mu[0]).dot(mu[1] - mu[0]) + np.trace(sigma[0]) + np.trace(sigma[1]) \
        - 2 * np.trace(covmean.real)
    assert got == pytest.approx(same_rows, abs=1e-6, rel=1e-9)
    # the preset's extraction is checked: features pooled otherwise are refused, naming the setting
    run_cli("extract", gen_file, "-b", "hf-text:bert-base-uncased", "--weights", models["bert"], "--pooling", "mean",
            "-o", tmp_path / "mean.h5", "-q", check=0)
    proc = run_cli("fid", tmp_path / "mean.h5", tmp_path / "ref.h5", "--preset", "fbd", check=1)
    assert "pooling" in proc.stderr.decode() and "pooler" in proc.stderr.decode()


def test_distribution_metrics_run_on_text_features_unchanged(models, texts_file, tmp_path):
    half = len(TEXTS) // 2
    lines = texts_file.read_text().splitlines()
    (tmp_path / "gen.jsonl").write_text("\n".join(lines[:half]) + "\n")
    (tmp_path / "train.jsonl").write_text("\n".join(lines[half:]) + "\n")
    for name in ("gen", "train"):
        run_cli("extract", tmp_path / f"{name}.jsonl", "-b", "hf-text:m", "--weights", models["gpt2"], "-o",
                tmp_path / f"{name}.h5", "-q", check=0)
    gen, ref = (str(tmp_path / f"{name}.h5") for name in ("gen", "train"))
    assert gentools.kid(gen, ref, subsets=5, subset_size=5)["kid_mean"] != 0
    assert 0 <= gentools.prdc(gen, ref, k=2)["precision"] <= 1
    assert 0 <= gentools.twosample(gen, ref, permutations=20)["mmd_p_value"] <= 1
    assert gentools.vendi(gen)["vendi"] >= 1
    run_cli("nn-grid", gen, ref, "--table", tmp_path / "nn.tsv", "--k", "2", "-q", check=0)
    table = [line.split("\t") for line in (tmp_path / "nn.tsv").read_text().splitlines()]
    assert table[0] == ["query_id", "rank", "train_id", "distance", "query_text", "train_text"]
    assert {row[2] for row in table[1:]} <= {f"t{i:02d}" for i in range(half, len(TEXTS))}  # training texts' ids
    text_of = {f"t{i:02d}": text for i, text in enumerate(TEXTS)}  # each text read again from the jsonl, by id
    assert all(row[4] == text_of[row[0]] and row[5] == text_of[row[2]] for row in table[1:]) and len(table) > 2
    (tmp_path / "train.jsonl").unlink()  # the training texts moved away: empty cells, one warning
    proc = run_cli("nn-grid", gen, ref, "--table", tmp_path / "nn2.tsv", "--k", "2", check=0)
    assert "texts of" in proc.stderr.decode() and "could not be read again" in proc.stderr.decode()
    assert all(line.split("\t")[5] == "" for line in (tmp_path / "nn2.tsv").read_text().splitlines()[1:])


def test_mauve_without_faiss_uses_scikit_learn_and_says_so(monkeypatch):
    import sys

    rng = np.random.default_rng(1)
    gen, ref = rng.normal(size=(120, 8)), rng.normal(size=(110, 8)) + 0.5
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss raises ImportError
    with pytest.warns(UserWarning, match="faiss is not installed, so k-means is scikit-learn's"):
        result = gentools.mauve(gen, ref)
    assert result.params["kmeans"] == "sklearn" and 0 < result["mauve"] <= 1
    with pytest.raises(InputError, match="--kmeans faiss needs the faiss package"):
        gentools.mauve(gen, ref, kmeans="faiss")


def test_evaluator_over_texts_equals_the_commands(models, texts_file):
    reference = gentools.extract(str(texts_file), backbone="hf-text:m", weights=models["gpt2"], workers=0)
    generated = [t.upper() if i % 2 else t for i, t in enumerate(TEXTS)]
    ev = gentools.Evaluator(reference, metrics={"mauve": {"num_buckets": 3}, "fid": {}}, backbone="hf-text:m",
                            weights=models["gpt2"], device="cpu")
    for start in range(0, len(generated), 6):  # the batches extract makes with batch_size 6: the same padding
        ev.update(generated[start:start + 6])
    got = ev.compute()
    gen_file = texts_file.parent / "gen.txt"
    gen_file.write_text("".join(t + "\n" for t in generated))
    features = gentools.extract(str(gen_file), backbone="hf-text:m", weights=models["gpt2"], lines=True, workers=0,
                                batch_size=6)
    np.testing.assert_allclose(features.array(), _theirs(models["gpt2"], generated, "last-token"), atol=1e-5)
    assert got["mauve"] == pytest.approx(gentools.mauve(features, reference, num_buckets=3)["mauve"], abs=1e-9)
    assert got["fid"] == pytest.approx(gentools.fid(features, reference)["fid"], rel=1e-9, abs=1e-9)
    with pytest.raises(InputError, match="not a text"):
        ev.update(["fine", 3])
