"""The text demo's data, models and plot (examples/text/Makefile), offline: a corpus the script writes itself.

    python corpus.py data OUT     # OUT/human.jsonl: 240 sentences from a small grammar (id, text);
                                  # OUT/close.jsonl, OUT/noisy.jsonl: two "generators" writing each sentence
                                  # again, with the same ids: close swaps in synonyms now and then, noisy
                                  # shuffles the words and drops some
    python corpus.py models OUT   # OUT/gpt2/, OUT/bert/: a byte-level BPE and a WordPiece tokenizer trained on
                                  # the corpus with the tokenizers library, and a small GPT-2 and BERT with
                                  # seeded random weights, as save_pretrained folders (hf-text:); OUT/wordnet/:
                                  # a WordNet in its own file format holding the grammar's synonyms (METEOR)
    python corpus.py plot OUT     # OUT/results/text.png: every metric of both generators

The numbers rank the generators (close before noisy on every metric) and compare with nothing published: the
networks' weights are random.
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

SUBJECTS = [["cat", "feline"], ["dog", "hound"], ["child", "kid"], ["bird"], ["old man"], ["teacher"]]
VERBS = [["sat", "rested"], ["ran", "raced"], ["slept", "dozed"], ["waited"], ["sang"], ["walked", "strolled"]]
PLACES = [["house", "home"], ["garden", "yard"], ["road", "street"], ["tree"], ["river", "stream"], ["room"]]
ADJECTIVES = [["big", "large"], ["small", "little"], ["quiet", "silent"], ["red"], ["old"], ["happy", "glad"]]
TIMES = ["in the morning", "at night", "all day", "after lunch", "before dawn", "every evening"]
COUNT = 240


def sentence(rng: random.Random) -> tuple:
    """A sentence and its slots: (words of each slot's first synonym, the slots' synonym lists)."""
    slots = [rng.choice(ADJECTIVES), rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(ADJECTIVES),
             rng.choice(PLACES)]
    return slots, rng.choice(TIMES)


def render(slots: list, time: str, pick) -> str:
    adjective, subject, verb, place_adjective, place = (pick(s) for s in slots)
    return f"the {adjective} {subject} {verb} near the {place_adjective} {place} {time}"


def data(out: Path) -> None:
    rng = random.Random(0)
    out.mkdir(parents=True, exist_ok=True)
    files = {name: open(out / f"{name}.jsonl", "w") for name in ("human", "close", "noisy")}
    for i in range(COUNT):
        slots, time = sentence(rng)
        human = render(slots, time, lambda s: s[0])
        close = render(slots, time, lambda s: rng.choice(s) if rng.random() < 0.5 else s[0])
        words = human.split()
        rng.shuffle(words)
        noisy = " ".join(w for w in words if rng.random() > 0.25) or words[0]
        for name, text in (("human", human), ("close", close), ("noisy", noisy)):
            files[name].write(json.dumps({"id": f"s{i:03d}", "text": text}) + "\n")
    for handle in files.values():
        handle.close()


def corpus_texts(out: Path) -> list:
    return [json.loads(line)["text"] for line in (out / "human.jsonl").read_text().splitlines()]


def train_tokenizer(texts: list, kind: str):
    """A byte-level BPE (GPT-2's kind) or a WordPiece with [CLS]/[SEP] (BERT's kind), trained on ``texts``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    if kind == "gpt2":
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        tokenizer.train_from_iterator(texts, trainers.BpeTrainer(
            vocab_size=300, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
        return tokenizer
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=200, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    cls, sep = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                             special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tokenizer


def write_gpt2(folder: Path, texts: list, seed: int = 0, positions: int = 64, width: int = 32) -> Path:
    """A GPT-2 (``GPT2Model``, 2 layers of ``width``) with seeded random weights and its tokenizer."""
    import torch
    from transformers import GPT2Config, GPT2Model, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=train_tokenizer(texts, "gpt2"), eos_token="<|endoftext|>",
                                        bos_token="<|endoftext|>", unk_token="<|endoftext|>",
                                        model_max_length=positions)
    torch.manual_seed(seed)
    model = GPT2Model(GPT2Config(vocab_size=len(tokenizer), n_positions=positions, n_embd=width, n_layer=2, n_head=2,
                                 bos_token_id=0, eos_token_id=0)).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_bert(folder: Path, texts: list, seed: int = 0, positions: int = 64, width: int = 32) -> Path:
    """A BERT (``BertModel`` with its pooler, 2 layers of ``width``) with seeded random weights and its tokenizer."""
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast(tokenizer_object=train_tokenizer(texts, "bert"), unk_token="[UNK]",
                                        pad_token="[PAD]", cls_token="[CLS]", sep_token="[SEP]",
                                        mask_token="[MASK]", model_max_length=positions)
    torch.manual_seed(seed)
    model = BertModel(BertConfig(vocab_size=len(tokenizer), hidden_size=width, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=2 * width,
                                 max_position_embeddings=positions)).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


# WordNet's own file format (wndb(5WN)): data.POS lines "offset lex_filenum ss_type w_cnt word lex_id ... p_cnt |
# gloss", offset being the line's byte offset and w_cnt two hex digits; index.POS lines "lemma pos synset_cnt p_cnt
# sense_cnt tagsense_cnt offset...". nltk's WordNetCorpusReader reads lexnames, index.*, data.* and *.exc.
WORDNET_HEADER = "  1 This software and database is being provided to you, the LICENSEE, by WordNet 3.0 Copyright 2006\n"


def write_wordnet(folder: Path, synsets: dict) -> Path:
    """``synsets``: ``{"noun" | "verb" | "adj" | "adv": [[word, synonym, ...], ...]}``."""
    letters = {"noun": "n", "verb": "v", "adj": "a", "adv": "r"}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lexnames").write_text("00\tadj.all\t3\n01\tadj.pert\t3\n02\tadv.all\t4\n03\tnoun.Tops\t1\n")
    for pos, letter in letters.items():
        data, index = WORDNET_HEADER.encode(), {}
        for words in synsets.get(pos, []):
            offset = len(data)
            lemmas = " ".join(f"{w.replace(' ', '_')} 0" for w in words)
            data += f"{offset:08d} 03 {letter} {len(words):02x} {lemmas} 000 | {words[0]}  \n".encode()
            for w in words:
                index.setdefault(w.replace(" ", "_"), []).append(offset)
        (folder / f"data.{pos}").write_bytes(data)
        (folder / f"index.{pos}").write_text(WORDNET_HEADER + "".join(
            f"{w} {letter} {len(o)} 0 {len(o)} 0 {' '.join(f'{x:08d}' for x in o)}  \n" for w, o in sorted(index.items())))
        (folder / f"{pos}.exc").write_text("")
    (folder / "index.sense").write_text("")
    return folder


def models(out: Path) -> None:
    texts = corpus_texts(out)
    write_gpt2(out / "gpt2", texts)
    write_bert(out / "bert", texts)
    write_wordnet(out / "wordnet", {"noun": [s for s in SUBJECTS + PLACES if len(s) > 1],
                                    "verb": [v for v in VERBS if len(v) > 1],
                                    "adj": [a for a in ADJECTIVES if len(a) > 1]})


ROWS = [("mauve", "mauve", "higher"), ("fbd", "fid", "lower"), ("bleu", "bleu", "higher"),
        ("rouge", "rougeL", "higher"), ("meteor", "meteor", "higher")]


def results(out: Path) -> dict:
    return {name: json.loads((out / "results" / f"{name}.json").read_text()) for name in ("close", "noisy")}


def plot(out: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    scores = results(out)
    figure = Figure(figsize=(12, 3))
    FigureCanvasAgg(figure)
    for k, (command, value, better) in enumerate(ROWS, 1):
        axes = figure.add_subplot(1, len(ROWS), k)
        axes.bar(list(scores), [scores[g][command]["values"][value] for g in scores], color=["tab:green", "tab:red"])
        axes.set_title(f"{command}.{value} ({better} is better)", fontsize=9)
    figure.suptitle("two text generators against the human corpus (random-weight networks: a ranking only)")
    figure.tight_layout()
    figure.savefig(out / "results" / "text.png", dpi=100)


def summary(out: Path) -> None:
    scores = results(out)
    print("generator\t" + "\t".join(f"{c}.{v}" for c, v, _ in ROWS))
    for name, values in scores.items():
        print(name + "\t" + "\t".join(f"{values[c]['values'][v]:.4g}" for c, v, _ in ROWS))
    print(f"mauve_std (5 seeds)\tclose {scores['close']['mauve']['values']['mauve_std']:.3g}\t"
          f"noisy {scores['noisy']['mauve']['values']['mauve_std']:.3g}")
    print(f"bleu signature\t{scores['close']['bleu']['values']['signature']}")


if __name__ == "__main__":
    {"data": data, "models": models, "plot": plot, "summary": summary}[sys.argv[1]](Path(sys.argv[2]))
