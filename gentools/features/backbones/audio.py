"""Audio backbones: a waveform at the network's rate -> one embedding row per frame, framed as fadtk frames it.

``vggish``: torchvggish's VGGish (``harritaylor/torchvggish``, which fadtk loads with
``torch.hub.load('harritaylor/torchvggish', 'vggish')``), the same layer names so its published
``vggish-10086976.pth`` loads as it is. As fadtk's ``VGGishModel`` (``fadtk/model_loader.py``):
16 kHz, no PCA postprocessing (``self.model.postprocess = False``), the last ReLU removed
(``nn.Sequential(*list(self.model.embeddings.children())[:-1])``), ``min_len=1`` second. The
log-mel front end is our transcription of torchvggish's ``vggish_input.waveform_to_examples`` and
``mel_features.py`` (25 ms periodic-Hann windows every 10 ms, 512-point FFT magnitude, 64 mel bands
125-7500 Hz, ``log(mel + 0.01)``, 96-frame examples with no overlap: one row per 0.96 s).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from gentools.errors import InputError, UsageError

VGGISH_RATE = 16000
VGGISH_FILE = "vggish-10086976.pth"
VGGISH_URL = f"https://github.com/harritaylor/torchvggish/releases/download/v0.1/{VGGISH_FILE}"
VGGISH_PREFIX = "10086976"  # torch hub's convention: the published file's sha256 starts with it

# torchvggish's vggish_params.py
_WINDOW_SECONDS, _HOP_SECONDS, _MEL_BINS, _MEL_LOW, _MEL_HIGH, _LOG_OFFSET = 0.025, 0.010, 64, 125.0, 7500.0, 0.01
_EXAMPLE_SECONDS = 0.96


class VGGish(nn.Module):
    """VGGish with torchvggish's module names; ``embeddings`` ends at the 128-d linear layer (fadtk drops the
    last ReLU)."""

    def __init__(self):
        super().__init__()
        layers, channels = [], 1
        for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M"):
            if v == "M":
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            else:
                layers += [nn.Conv2d(channels, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
                channels = v
        self.features = nn.Sequential(*layers)
        self.embeddings = nn.Sequential(nn.Linear(512 * 4 * 6, 4096), nn.ReLU(True), nn.Linear(4096, 4096),
                                        nn.ReLU(True), nn.Linear(4096, 128))

    def forward(self, examples: torch.Tensor) -> torch.Tensor:
        x = self.features(examples)
        x = torch.transpose(torch.transpose(x, 1, 3), 1, 2).contiguous()  # channels last, as TF-VGGish flattens
        return self.embeddings(x.view(x.size(0), -1))


def _mel_matrix(num_spectrogram_bins: int, rate: int) -> np.ndarray:
    """torchvggish's ``spectrogram_to_mel_matrix``: triangular HTK-mel filters, the DC bin zeroed."""
    def to_mel(hz):
        return 1127.0 * np.log(1.0 + hz / 700.0)

    bins_mel = to_mel(np.linspace(0.0, rate / 2.0, num_spectrogram_bins))
    edges = np.linspace(to_mel(_MEL_LOW), to_mel(_MEL_HIGH), _MEL_BINS + 2)
    matrix = np.empty((num_spectrogram_bins, _MEL_BINS))
    for i in range(_MEL_BINS):
        lower, centre, upper = edges[i:i + 3]
        matrix[:, i] = np.maximum(0.0, np.minimum((bins_mel - lower) / (centre - lower),
                                                  (upper - bins_mel) / (upper - centre)))
    matrix[0, :] = 0.0
    return matrix


def _frame(data: np.ndarray, window: int, hop: int) -> np.ndarray:
    count = 1 + int(np.floor((data.shape[0] - window) / hop))
    if count < 1:
        return np.empty((0, window) + data.shape[1:], data.dtype)
    return np.lib.stride_tricks.as_strided(data, shape=(count, window) + data.shape[1:],
                                           strides=(data.strides[0] * hop,) + data.strides, writeable=False)


def log_mel_examples(waveform: np.ndarray, rate: int = VGGISH_RATE) -> np.ndarray:
    """float64 mono ``[T]`` at 16 kHz -> float32 ``[N, 1, 96, 64]`` log-mel examples (torchvggish's
    ``waveform_to_examples``)."""
    window = int(round(rate * _WINDOW_SECONDS))
    hop = int(round(rate * _HOP_SECONDS))
    fft_length = 2 ** int(np.ceil(np.log(window) / np.log(2.0)))
    frames = _frame(np.ascontiguousarray(waveform, np.float64), window, hop)
    hann = 0.5 - (0.5 * np.cos(2 * np.pi / window * np.arange(window)))
    spectrogram = np.abs(np.fft.rfft(frames * hann, int(fft_length)))
    log_mel = np.log(np.dot(spectrogram, _mel_matrix(spectrogram.shape[1], rate)) + _LOG_OFFSET)
    per_example = int(round(_EXAMPLE_SECONDS / _HOP_SECONDS))
    examples = _frame(log_mel, per_example, per_example)
    return np.ascontiguousarray(examples, np.float32)[:, None, :, :]


def resolve_vggish_weights(option: str | None):
    """``--weights PATH``, else torch hub's checkpoint folder (where torchvggish caches the file)."""
    from gentools.features.weights import checkpoint_dir

    if option:
        return Path(option).expanduser()
    cached = checkpoint_dir() / VGGISH_FILE
    if cached.is_file():
        return cached
    raise InputError(f"{cached}: VGGish weights not found; download {VGGISH_URL} there, or pass --weights PATH")


def vggish(weights: str | None, device: torch.device, pcm16: bool = False):
    """The ``vggish`` backbone: 128-d frames, one per 0.96 s of 16 kHz audio (at least one: shorter audio is
    zero-padded to 1 s, as fadtk)."""
    from gentools.errors import warn
    from gentools.features.audio import Loading
    from gentools.features.backbones.base import Backbone, load_state_file

    path = resolve_vggish_weights(weights)
    model = VGGish()
    sha256 = load_state_file(model, path, "VGGish (torchvggish layout)")
    if not sha256.startswith(VGGISH_PREFIX):
        warn(f"{path}: sha256 {sha256[:16]}… is not the published VGGish weights ({VGGISH_PREFIX}…); "
             f"numbers are not comparable with published ones")
    model = model.eval().to(device)

    def embed(waveform: np.ndarray) -> dict:
        examples = torch.from_numpy(log_mel_examples(waveform)).to(device)
        return {"features": model(examples)}

    return Backbone(name="vggish", layer="embeddings.4 (before the last ReLU), no PCA", input_size=0,
                    normalisation="log-mel 64 bands, 0.96 s frames", resize="", weights_sha256=sha256,
                    run=embed, device=device, runtime="eager", modality="audio",
                    loading=Loading(VGGISH_RATE, pcm16=pcm16, min_samples=VGGISH_RATE))


def random_vggish_state_dict(seed: int = 0) -> dict:
    """Seeded random weights in the published layout (keys and shapes of ``vggish-10086976.pth``), for tests."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        return {k: v.clone() for k, v in VGGish().state_dict().items()}


# What a transformers audio config may declare before it is refused unbuilt (the largest published speech models have
# 48 layers of width 1,280 / 5,120; a config is a file from someone else: 10^5 layers took 105 s and 4.7 GB).
HF_CONFIG_LIMITS = {"num_hidden_layers": 256, "encoder_layers": 256, "decoder_layers": 256, "hidden_size": 16384,
                    "d_model": 16384, "intermediate_size": 65536, "encoder_ffn_dim": 65536, "decoder_ffn_dim": 65536,
                    "num_attention_heads": 256, "encoder_attention_heads": 256, "num_mel_bins": 1024,
                    "max_source_positions": 1 << 16, "vocab_size": 1 << 20, "num_conv_pos_embeddings": 4096}
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
        layers = max(config.get("num_hidden_layers") or 0, config.get("encoder_layers") or 0)
        width = max(config.get("hidden_size") or 0, config.get("d_model") or 0)
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
    body = spec.split(":", 1)[1] if ":" in spec else ""
    model_id, layer = body, None
    if ":" in body and body.rsplit(":", 1)[1].isdigit():
        model_id, layer = body.rsplit(":", 1)[0], int(body.rsplit(":", 1)[1])
    if not model_id:
        raise UsageError(f"--backbone {spec}: expected hf:MODEL[:LAYER], e.g. hf:facebook/hubert-base-ls960:12")
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


PANNS_RATE = 32000
PANNS_FILE = "Cnn14_mAP=0.431.pth"
PANNS_URL = "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth"


class _ConvBlock(nn.Module):
    """PANNs' ConvBlock: two 3x3 conv + batch norm + ReLU, then a 2-D average pool."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, (3, 3), padding=(1, 1), bias=False)
        self.conv2 = nn.Conv2d(out_channels, out_channels, (3, 3), padding=(1, 1), bias=False)
        self.bn1, self.bn2 = nn.BatchNorm2d(out_channels), nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor, pool: tuple) -> torch.Tensor:
        x = torch.relu(self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))
        return torch.nn.functional.avg_pool2d(x, kernel_size=pool)


class _STFT(nn.Module):
    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.n_fft = n_fft
        self.conv_real = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop, bias=False)
        self.conv_imag = nn.Conv1d(1, n_fft // 2 + 1, n_fft, stride=hop, bias=False)


class Spectrogram(nn.Module):
    """torchlibrosa's ``Spectrogram`` module names (``stft.conv_real`` / ``stft.conv_imag``: Hann-windowed DFT rows,
    loaded from the checkpoint)."""

    def __init__(self, n_fft: int, hop: int):
        super().__init__()
        self.stft = _STFT(n_fft, hop)


class LogMel(nn.Module):
    """torchlibrosa's ``LogmelFilterBank`` module names (``melW``: librosa's mel matrix, loaded from the checkpoint)."""

    def __init__(self, bins: int, mels: int):
        super().__init__()
        self.melW = nn.Parameter(torch.zeros(bins, mels), requires_grad=False)


def log_mel(spectrogram: Spectrogram, mel: LogMel, waveform: torch.Tensor) -> torch.Tensor:
    """torchlibrosa's ``Spectrogram`` then ``LogmelFilterBank(ref=1.0, amin=1e-10, top_db=None)``, as PANNs and
    HTS-AT build them: ``[B, N]`` -> ``[B, 1, frames, mels]`` of ``10 log10(max(|STFT|^2 melW, 1e-10))``, the STFT
    centred with reflect padding."""
    stft = spectrogram.stft
    x = torch.nn.functional.pad(waveform[:, None, :], (stft.n_fft // 2, stft.n_fft // 2), mode="reflect")
    real = stft.conv_real(x)[:, None, :, :].transpose(2, 3)
    imag = stft.conv_imag(x)[:, None, :, :].transpose(2, 3)
    power = torch.matmul(real ** 2 + imag ** 2, mel.melW)
    return 10.0 * torch.log10(torch.clamp(power, min=1e-10)) - 10.0 * float(np.log10(1.0))


class PannsCnn14(nn.Module):
    """panns_inference's Cnn14 (Kong et al. 2020, "PANNs: Large-Scale Pretrained Audio Neural Networks for Audio
    Pattern Recognition") with its module names, so ``Cnn14_mAP=0.431.pth`` loads as it is, including the front
    end's weights: torchlibrosa's STFT as two Conv1d of Hann-windowed DFT rows (centred, reflect padding), power
    spectrum, the mel matrix ``melW``, ``10 log10(max(x, 1e-10))``. ``forward``: a waveform batch ``[B, N]`` at 32
    kHz -> the frame-level embedding ``[B, T, 2048]``, one row per 32 spectrogram frames (320 ms), as PANNs' own
    decision-level head computes it (``Cnn14_DecisionLevelMax``: the frequency mean of ``conv_block6``, ``max_pool1d
    + avg_pool1d`` of width 3, then ``relu(fc1)`` per frame); ``Cnn14`` itself pools over time before ``fc1``."""

    def __init__(self, classes: int = 527):
        super().__init__()
        self.spectrogram_extractor = Spectrogram(1024, 320)
        self.logmel_extractor = LogMel(513, 64)
        self.bn0 = nn.BatchNorm2d(64)
        widths = (1, 64, 128, 256, 512, 1024, 2048)
        for k in range(6):
            self.add_module(f"conv_block{k + 1}", _ConvBlock(widths[k], widths[k + 1]))
        self.fc1 = nn.Linear(2048, 2048)
        self.fc_audioset = nn.Linear(2048, classes)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        functional = torch.nn.functional
        x = log_mel(self.spectrogram_extractor, self.logmel_extractor, waveform)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for k in range(1, 7):
            x = self._modules[f"conv_block{k}"](x, (2, 2) if k < 6 else (1, 1))
        x = torch.mean(x, dim=3)
        x = functional.max_pool1d(x, 3, stride=1, padding=1) + functional.avg_pool1d(x, 3, stride=1, padding=1)
        return torch.relu(self.fc1(x.transpose(1, 2)))


def resolve_panns_weights(option: str | None) -> Path:
    """``--weights PATH``, else panns_inference's ``~/panns_data/Cnn14_mAP=0.431.pth``, else torch hub's folder."""
    from gentools.features.weights import checkpoint_dir

    if option:
        return Path(option).expanduser()
    for cached in (Path.home() / "panns_data" / PANNS_FILE, checkpoint_dir() / PANNS_FILE):
        if cached.is_file():
            return cached
    raise InputError(f"{Path.home() / 'panns_data' / PANNS_FILE}: PANNs Cnn14 weights not found; download {PANNS_URL} "
                     f"there, or pass --weights PATH")


def panns(spec: str, weights: str | None, device: torch.device, pcm16: bool = False):
    """``panns:cnn14``: PANNs' Cnn14 frame-level embedding (:class:`PannsCnn14`), 2048-d per 320 ms of 32 kHz audio;
    audio shorter than 1 s is zero-padded to it (fadtk's ``min_len=1``; Cnn14 needs 32 spectrogram frames)."""
    from gentools.features.audio import Loading
    from gentools.features.backbones.base import Backbone, load_state_file

    if spec != "panns:cnn14":
        raise UsageError(f"--backbone {spec}: expected panns:cnn14")
    path = resolve_panns_weights(weights)
    model = PannsCnn14()
    sha256 = load_state_file(model, path, "PANNs Cnn14 (panns_inference layout)")
    model = model.eval().to(device)

    def embed(waveform: np.ndarray) -> dict:
        x = torch.from_numpy(np.asarray(waveform, np.float32))[None].to(device)
        return {"features": model(x)[0]}

    return Backbone(name="panns:cnn14", layer="relu(fc1) per frame (Cnn14_DecisionLevelMax's head)", input_size=0,
                    normalisation="log-mel 64 bands 50-14000 Hz, 1024/320 STFT", resize="", weights_sha256=sha256,
                    run=embed, device=device, runtime="eager", modality="audio",
                    loading=Loading(PANNS_RATE, pcm16=pcm16, min_samples=PANNS_RATE))
