"""Small random-weight text models in the published layouts, written as ``save_pretrained`` folders: a GPT-2
(gpt2-large's architecture, 2 layers of width 32) and a BERT with its pooler (bert-base-uncased's, likewise),
each with a tokenizer trained on a tiny corpus by the ``tokenizers`` library. Nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "the cat sat on the mat", "a dog ran in the garden", "the bird sang in the tree near the house",
    "a small red car drove slowly down the long road", "the children played with a blue ball",
    "rain fell on the roof all night", "she read a book about the sea and the stars",
    "he cooked rice and beans for dinner", "the old man walked his dog every morning",
    "a quick brown fox jumps over the lazy dog", "music played softly in the quiet room",
]


def _trained_tokenizer(kind: str):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    if kind == "gpt2":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
        tokenizer.train_from_iterator(CORPUS, trainer)
        return tokenizer
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
    tokenizer.train_from_iterator(CORPUS, trainer)
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                             special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tokenizer


def write_gpt2(folder: Path, seed: int = 0, positions: int = 64) -> Path:
    """A random GPT-2 (``GPT2Model``) and its BPE tokenizer in ``folder``."""
    import torch
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_trained_tokenizer("gpt2"), eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                        model_max_length=positions)
    torch.manual_seed(seed)
    model = GPT2Model(GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=32, n_layer=2, n_head=2,
                                 bos_token_id=0, eos_token_id=0)).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_bert(folder: Path, seed: int = 0, positions: int = 64) -> Path:
    """A random BERT (``BertModel`` with its pooler) and its WordPiece tokenizer in ``folder``."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=_trained_tokenizer("bert"), unk_token="[UNK]",
                                        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                        mask_token="[MASK]", model_max_length=positions)
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=64, max_position_embeddings=positions)).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


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
