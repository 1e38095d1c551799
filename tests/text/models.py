"""Small random-weight text models in the published layouts, written as ``save_pretrained`` folders: a GPT-2
(gpt2-large's architecture, 2 layers of width 32) and a BERT with its pooler (bert-base-uncased's, likewise),
each with a tokenizer trained on a tiny corpus by the ``tokenizers`` library (the text demo's own writers,
examples/text/corpus.py), and a RoBERTa for bert-score. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the cat sat on the mat", "a dog ran in the garden", "the bird sang in the tree near the house",
    "a small red car drove slowly down the long road", "the children played with a blue ball",
    "rain fell on the roof all night", "she read a book about the sea and the stars",
    "he cooked rice and beans for dinner", "the old man walked his dog every morning",
    "a quick brown fox jumps over the lazy dog", "music played softly in the quiet room",
]


def _corpus_module():
    """examples/text/corpus.py: the demo's tokenizer training and model writers, which these tests use too."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "examples" / "text" / "corpus.py"
    spec = importlib.util.spec_from_file_location("text_demo_corpus", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEMO = _corpus_module()


def write_gpt2(folder: Path, seed: int = 0, positions: int = 64) -> Path:
    """A random GPT-2 (``GPT2Model``, 2 layers of width 32) and its BPE tokenizer trained on :data:`CORPUS`."""
    return DEMO.write_gpt2(folder, CORPUS, seed, positions)


def write_bert(folder: Path, seed: int = 0, positions: int = 64) -> Path:
    """A random BERT (``BertModel`` with its pooler) and its WordPiece tokenizer trained on :data:`CORPUS`."""
    return DEMO.write_bert(folder, CORPUS, seed, positions)


def write_roberta(folder: Path, seed: int = 0, positions: int = 66) -> Path:
    """A random RoBERTa (``RobertaModel``) with a byte-level BPE tokenizer saved as vocab.json and merges.txt
    (both the slow RobertaTokenizer bert-score asks for and the fast one load it)."""
    import torch
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaConfig, RobertaModel, RobertaTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS, vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    bpe.save_model(str(folder))
    tokenizer = RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"),
                                 model_max_length=positions - 2)
    torch.manual_seed(seed)
    model = RobertaModel(RobertaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=3,
                                       num_attention_heads=2, intermediate_size=64,
                                       max_position_embeddings=positions, pad_token_id=1)).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
