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

from pathlib import Path

import numpy as np
import torch
from torch import nn

from gentools.errors import UsageError
from gentools.features.weights import Published

VGGISH_RATE = 16000
VGGISH_FILE = "vggish-10086976.pth"
VGGISH_URL = f"https://github.com/harritaylor/torchvggish/releases/download/v0.1/{VGGISH_FILE}"
VGGISH_PREFIX = "10086976"  # torch hub's convention: the published file's sha256 starts with it
VGGISH = Published("vggish", VGGISH_FILE, VGGISH_URL, VGGISH_PREFIX)

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
    """``--weights PATH``, else torch hub's checkpoint folder (where torchvggish caches the file), else the
    published file, downloaded and checked (:func:`gentools.features.weights.resolve`)."""
    from gentools.features.weights import resolve

    return resolve(VGGISH, option)


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


PANNS_RATE = 32000
PANNS_FILE = "Cnn14_mAP=0.431.pth"
PANNS_URL = "https://zenodo.org/record/3987831/files/Cnn14_mAP%3D0.431.pth"
PANNS = Published("panns:cnn14", PANNS_FILE, PANNS_URL, elsewhere=lambda: [Path.home() / "panns_data" / PANNS_FILE])


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
    """``--weights PATH``, else torch hub's folder, else panns_inference's ``~/panns_data/Cnn14_mAP=0.431.pth``,
    else the Zenodo file, downloaded (:func:`gentools.features.weights.resolve`)."""
    from gentools.features.weights import resolve

    return resolve(PANNS, option)


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
