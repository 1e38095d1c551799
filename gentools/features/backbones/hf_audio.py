"""Hugging Face audio backbones: ``hf:MODEL[:LAYER]`` (a transformers encoder's hidden states) and
``encodec:24k``, as fadtk runs them, with their files read as files from someone else before transformers
builds anything (:func:`_checked_hf_files`) and the weights fingerprinted for provenance."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch

from gentools.errors import InputError, UsageError

# What a transformers audio config may declare before it is refused unbuilt (the largest published speech models have
# 48 layers of width 1,280 / 5,120; a config is a file from someone else: 10^5 layers took 105 s and 4.7 GB).
HF_CONFIG_LIMITS = {"num_hidden_layers": 256, "encoder_layers": 256, "decoder_layers": 256, "hidden_size": 16384,
                    "d_model": 16384, "intermediate_size": 65536, "encoder_ffn_dim": 65536, "decoder_ffn_dim": 65536,
                    "num_attention_heads": 256, "encoder_attention_heads": 256, "num_mel_bins": 1024,
                    "max_source_positions": 1 << 16, "vocab_size": 1 << 20, "num_conv_pos_embeddings": 4096,
                    "n_layer": 256, "n_embd": 16384, "n_head": 256, "n_positions": 1 << 16, "n_inner": 65536,
                    "max_position_embeddings": 1 << 16}
HF_MAX_RATE = 768_000
HF_MAX_CONFIG_BYTES = 1 << 20


def _checked_hf_files(source: str) -> None:
    """A model's ``config.json`` and ``preprocessor_config.json`` (a ``save_pretrained`` folder, or the Hugging Face
    cache's snapshot) read as files from someone else, before transformers builds anything from them: regular
    files (a snapshot's links to its blobs are followed; a FIFO or ``/dev/zero`` is refused) of at most 1 MB,
    sizes within :data:`HF_CONFIG_LIMITS`, the weights they imply within the memory budget, a plausible rate."""
    import json

    from gentools import memory
    from gentools.files import read_regular

    for name in ("config.json", "preprocessor_config.json"):
        if Path(source).is_dir():
            path = Path(source) / name
        else:
            from huggingface_hub import try_to_load_from_cache

            found = try_to_load_from_cache(source, name)
            path = Path(found) if isinstance(found, str) else None
        if path is None or not os.path.lexists(path):
            continue
        try:
            config = json.loads(read_regular(path, HF_MAX_CONFIG_BYTES))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path}: not a readable {name} ({str(exc).splitlines()[0][:120]})") from None
        if not isinstance(config, dict):
            raise InputError(f"{path}: {name} holds a {type(config).__name__}, expected a JSON object")
        for key, limit in HF_CONFIG_LIMITS.items():
            value = config.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit):
                raise InputError(f"{path}: {key} is {str(value)[:40]}, expected an integer from 0 to {limit}")
        rate = config.get("sampling_rate")
        if name == "preprocessor_config.json" and rate is not None and \
                (isinstance(rate, bool) or not isinstance(rate, int) or not 1 <= rate <= HF_MAX_RATE):
            raise InputError(f"{path}: sampling_rate is {str(rate)[:40]}, expected an integer from 1 to {HF_MAX_RATE}")
        layers = max(config.get("num_hidden_layers") or 0, config.get("encoder_layers") or 0,
                     config.get("n_layer") or 0)
        width = max(config.get("hidden_size") or 0, config.get("d_model") or 0, config.get("n_embd") or 0)
        inner = max(config.get("intermediate_size") or 0, config.get("encoder_ffn_dim") or 0, 4 * width)
        memory.require(4 * 2 * layers * (4 * width * width + 2 * width * inner),
                       f"the {layers} x {width} model its config declares", str(path))


def _pretrained(loader, source: str, what: str):
    """``loader.from_pretrained(source)`` from a local folder or the Hugging Face cache only; a one-line
    error naming where the model is published when it is not here."""
    from transformers.utils import logging as hf_logging

    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()  # stderr is one line per error; the caller's settings come back below
    hf_logging.set_verbosity_error()
    import pickle

    _checked_hf_files(source)
    try:
        return loader.from_pretrained(source, local_files_only=True)
    except (pickle.UnpicklingError, RuntimeError, TypeError, KeyError, AttributeError) as exc:
        # a weights file torch.load(weights_only=True) refuses, or a config transformers cannot build
        raise InputError(f"{source}: {what} cannot be loaded ({type(exc).__name__}: "
                         f"{str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ''})") from None
    except (OSError, ValueError) as exc:
        where = source if Path(source).is_dir() else f"https://huggingface.co/{source}"
        raise InputError(f"{source}: {what} not found locally ({str(exc).splitlines()[0][:120]}); it is published at "
                         f"{where}: download it into the Hugging Face cache, or pass --weights FOLDER "
                         f"(save_pretrained layout)") from None
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def model_and_layer(spec: str, example: str) -> tuple[str, int | None]:
    """``PREFIX:MODEL[:LAYER]`` -> ``(MODEL, LAYER or None)``; a usage error citing ``example`` without MODEL."""
    body = spec.split(":", 1)[1] if ":" in spec else ""
    model_id, layer = body, None
    if ":" in body and body.rsplit(":", 1)[1].isdigit():
        model_id, layer = body.rsplit(":", 1)[0], int(body.rsplit(":", 1)[1])
    if not model_id:
        raise UsageError(f"--backbone {spec}: expected {example.split(':')[0]}:MODEL[:LAYER], e.g. {example}")
    return model_id, layer


def _fingerprint(source: str) -> str:
    """For provenance: sha256 over a model folder's weight files (name and content): a ``save_pretrained`` folder,
    or for a model id the Hugging Face cache's snapshot that ``from_pretrained`` read (the one ``refs/main`` names,
    found through ``config.json``), so two cached revisions of one model do not pass the metric guard as equal.
    ``hf:MODEL_ID`` only where no snapshot can be found."""
    from gentools.files import sha256_of

    folder = Path(source)
    if not folder.is_dir():
        from huggingface_hub import try_to_load_from_cache  # a transformers dependency

        config = try_to_load_from_cache(source, "config.json")
        if not isinstance(config, str):
            return f"hf:{source}"
        folder = Path(config).parent
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")):
        try:
            digest.update(path.name.encode() + sha256_of(path).encode())
        except OSError as exc:  # a weight file linked to /dev/zero would be hashed forever
            raise InputError(f"{path}: cannot be fingerprinted ({str(exc).rsplit(': ', 1)[-1]})") from None
    return digest.hexdigest()


HF_LIMIT_SECONDS = 6 * 60  # fadtk's limit_minutes=6 for MERT, wav2vec2, HuBERT and WavLM: longer audio is truncated


def hf_audio(spec: str, weights: str | None, device: torch.device, pcm16: bool = False):
    """``hf:MODEL[:LAYER]``: a transformers audio encoder, ``hidden_states[LAYER]`` (default the last), one row per
    encoder frame, as fadtk's W2V2Model/HuBERTModel/WavLMModel: the model's feature extractor (at its
    ``sampling_rate``) on the waveform, ``output_hidden_states=True``, audio cut at 6 minutes. For Whisper the
    encoder's ``hidden_states[LAYER]`` (fadtk's WhisperModel takes two decoder positions instead). ``--weights
    FOLDER``: a ``save_pretrained`` folder instead of the cache."""
    from gentools.features.audio import Loading
    from gentools.features.backbones.base import Backbone, require_package

    transformers = require_package("transformers", "audio-hf")
    model_id, layer = model_and_layer(spec, "hf:facebook/hubert-base-ls960:12")
    source = weights or model_id
    model = _pretrained(transformers.AutoModel, source, "model").eval().to(device)
    extractor = _pretrained(transformers.AutoFeatureExtractor, source, "feature extractor")
    rate = int(extractor.sampling_rate)
    whisper = model.config.model_type == "whisper"
    encoder = model.get_encoder() if whisper else model
    depth = int(model.config.encoder_layers if whisper else model.config.num_hidden_layers)
    layer = depth if layer is None else layer
    if not 0 <= layer <= depth:
        raise InputError(f"--backbone {spec}: layer {layer} is not in 0..{depth} ({model_id})")

    def embed(waveform: np.ndarray) -> dict:
        waveform = waveform[:HF_LIMIT_SECONDS * rate]
        inputs = extractor(waveform, sampling_rate=rate, return_tensors="pt")
        name = "input_features" if whisper else "input_values"
        out = encoder(inputs[name].to(device), output_hidden_states=True)
        return {"features": out.hidden_states[layer][0]}

    return Backbone(name=f"hf:{model_id}", layer=f"hidden_states[{layer}]", input_size=0,
                    normalisation=f"{type(extractor).__name__} at {rate} Hz", resize="",
                    weights_sha256=_fingerprint(source), run=embed, device=device, runtime="eager", modality="audio",
                    loading=Loading(rate, pcm16=pcm16))


ENCODEC_RATE, ENCODEC_MAX_SECONDS = 24000, 3 * 60  # fadtk's EncodecEmbModel('24k'): cut at 3 minutes


def encodec(spec: str, weights: str | None, device: torch.device, pcm16: bool = False):
    """``encodec:24k``: EnCodec's encoder output before quantisation, 128-d per 75 Hz frame, as fadtk's
    EncodecEmbModel (``self.model.encoder(audio)``, audio cut at 3 minutes), through transformers' port
    ``EncodecModel`` (``facebook/encodec_24khz``) instead of the ``encodec`` package, which needs torchaudio."""
    from gentools.features.audio import Loading
    from gentools.features.backbones.base import Backbone, require_package

    if spec != "encodec:24k":
        raise UsageError(f"--backbone {spec}: expected encodec:24k")
    transformers = require_package("transformers", "audio-hf")
    source = weights or "facebook/encodec_24khz"
    model = _pretrained(transformers.EncodecModel, source, "EnCodec 24 kHz model").eval().to(device)

    def embed(waveform: np.ndarray) -> dict:
        x = torch.from_numpy(np.asarray(waveform[:ENCODEC_MAX_SECONDS * ENCODEC_RATE], np.float32))
        return {"features": model.encoder(x[None, None].to(device))[0].transpose(0, 1)}

    return Backbone(name="encodec:24k", layer="encoder output, before quantisation", input_size=0,
                    normalisation="mono float at 24 kHz", resize="", weights_sha256=_fingerprint(source), run=embed,
                    device=device, runtime="eager", modality="audio", loading=Loading(ENCODEC_RATE, pcm16=pcm16))
