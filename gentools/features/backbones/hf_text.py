"""``hf-text:MODEL[:LAYER]``: a transformers text model's hidden states, one row per text, pooled.

The tokenizer and model come from a ``save_pretrained`` folder (``--weights DIR``, or MODEL itself as a path) or
the Hugging Face cache, read as files from someone else first, as ``hf:`` audio models are
(:mod:`gentools.features.backbones.hf_audio`), and fingerprinted by the snapshot's weight files. Each text is
tokenized alone (``tokenizer(text, truncation=True, max_length=max_tokens)``, special tokens as the tokenizer
adds them), a batch is right-padded with an attention mask, and one forward gives ``hidden_states[LAYER]``
(default the last). The poolings:

- ``last-token``: the hidden state of the last real token, its index from the attention mask (mauve's
  ``hidden_state[sent_length - 1]``; padding never changes a row);
- ``cls``: the first token's (``last_hidden_state[:, 0]``, Xiang et al.'s dialogue FBD);
- ``pooler``: the model's ``pooler_output`` (BERT's tanh layer over [CLS]; the FBD code's
  ``self.model(input_ids)[1]``), the last layer only;
- ``mean``: the mean over the real tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gentools.errors import InputError, UsageError

POOLINGS = ("last-token", "cls", "pooler", "mean")


@dataclass(frozen=True)
class TextLoading:
    """How texts become rows: the pooling and the token limit (0: the model's own)."""

    pooling: str = "last-token"
    max_tokens: int = 0

    def provenance(self) -> dict:
        return {"modality": "text", "pooling": self.pooling, "max_tokens": self.max_tokens}


def hf_text(spec: str, weights: str | None, device: torch.device):
    """The backbone ``spec`` on ``device``; its ``loading`` (:class:`TextLoading`) is set by the text kind from
    ``extract --pooling --max-tokens`` or the preset. ``run(texts) -> {"features": [B, D]}``."""
    from gentools.features.backbones.base import Backbone, require_package
    from gentools.features.backbones.hf_audio import _fingerprint, _pretrained, model_and_layer

    transformers = require_package("transformers", "text")
    model_id, layer = model_and_layer(spec, "hf-text:gpt2-large")
    source = weights or model_id
    tokenizer = _pretrained(transformers.AutoTokenizer, source, "tokenizer")
    model = _pretrained(transformers.AutoModel, source, "model").eval().to(device)
    depth = int(model.config.num_hidden_layers)
    layer = depth if layer is None else layer
    if not 0 <= layer <= depth:
        raise InputError(f"--backbone {spec}: layer {layer} is not in 0..{depth} ({model_id})")
    limit = _model_limit(model, tokenizer)
    net = Backbone(name=f"hf-text:{model_id}", layer=f"hidden_states[{layer}]", input_size=0,
                   normalisation=type(tokenizer).__name__, resize="", weights_sha256=_fingerprint(source),
                   run=None, device=device, runtime="eager", modality="text", loading=TextLoading())
    net.tokens_limit = limit

    def tokenize(texts: list) -> tuple[list, int]:
        """Each text's ids (truncated to the token limit) and how many were truncated."""
        cap = net.loading.max_tokens or limit
        ids, truncated = [], 0
        for text in texts:
            full = tokenizer(text)["input_ids"]
            if len(full) > cap:
                truncated += 1
                full = tokenizer(text, truncation=True, max_length=cap)["input_ids"]
            ids.append(full)
        return ids, truncated

    @torch.no_grad()
    def run(ids: list) -> dict:
        pooling = net.loading.pooling
        if pooling == "pooler" and layer != depth:
            raise UsageError(f"--pooling pooler is the model's last layer; {spec} asks for layer {layer}")
        lengths = [len(i) for i in ids]
        width = max(lengths)
        input_ids = torch.zeros((len(ids), width), dtype=torch.long)
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, tokens in enumerate(ids):
            input_ids[row, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
            mask[row, :len(tokens)] = 1
        out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), output_hidden_states=True,
                    return_dict=True)
        if pooling == "pooler":
            if getattr(out, "pooler_output", None) is None:
                raise UsageError(f"--pooling pooler: {model_id} has no pooler (pooler_output); choose cls, mean or "
                                 f"last-token")
            return {"features": out.pooler_output.float()}
        hidden = out.hidden_states[layer].float()
        if pooling == "cls":
            return {"features": hidden[:, 0]}
        if pooling == "mean":
            weights = mask.to(device, hidden.dtype)[..., None]
            return {"features": (hidden * weights).sum(1) / weights.sum(1)}
        last = torch.tensor(lengths, device=device) - 1  # the mask's last real token
        return {"features": hidden[torch.arange(len(ids), device=device), last]}

    net.run, net.tokenize = run, tokenize
    return net


def _model_limit(model, tokenizer) -> int:
    """The most tokens the model takes: its position table (``n_positions`` / ``max_position_embeddings``), and
    the tokenizer's ``model_max_length`` when that is a real number."""
    config = model.config
    positions = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None) or 512
    told = getattr(tokenizer, "model_max_length", None)
    if isinstance(told, int) and 0 < told < 1_000_000:
        positions = min(positions, told)
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        positions = min(positions, int(config.max_position_embeddings) - 2)  # their positions start at pad + 1
    return int(positions)


def pooled_rows(net, texts: list) -> tuple[np.ndarray, int]:
    """``(features [N, D] float32, truncated count)`` of ``texts`` in one forward (the caller batches)."""
    ids, truncated = net.tokenize(texts)
    empty = [i for i, tokens in enumerate(ids) if not tokens]
    if empty:
        raise ValueError(f"{len(empty)} text(s) give no tokens")
    return features_of(net, ids), truncated


def features_of(net, ids: list) -> np.ndarray:
    """The pooled rows (float32 ``[N, D]``) of texts already tokenized by ``net.tokenize``, none empty."""
    return net.run(ids)["features"].cpu().numpy().astype(np.float32)
