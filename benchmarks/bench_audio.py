"""Audio extraction speed: gentools ``extract -b clap:laion-audio`` vs fadtk's ``CLAPLaionModel`` on laion_clap,
same sound files, same weights, in one run.

fadtk and laion_clap live in the side venv (benchmarks/audio_reference/make_venv.sh; ``--venv``), so each tool runs
in its own process, network load included: gentools' ``extract`` of the folder (decoding, 16-bit quantisation, 10 s
chunks every second, features written to a file), and in the side venv fadtk's own ``_get_embedding`` on each file
as ``soundfile`` reads it (what ``FrechetAudioDistance`` calls per file, without its resampling cache: the files are
at 48 kHz already). The weights are seeded random in laion_clap's checkpoint layout (or ``--weights``). Prints
seconds per audio second, the ratio, and the largest difference between the two tools' frames.

    python benchmarks/bench_audio.py                       # 8 files of 3 s, CPU, side venv in .audio-ref-venv
    python benchmarks/bench_audio.py -n 32 --seconds 10 --venv /path/to/venv
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FADTK_JOB = r'''
import json, sys, time
from pathlib import Path
start = time.perf_counter()
import numpy as np, soundfile, torch, transformers
for name in ("BertTokenizer", "RobertaTokenizer", "BartTokenizer"):  # laion_clap loads them at import
    getattr(transformers, name).from_pretrained = classmethod(lambda cls, *a, **k: None)
import laion_clap
from fadtk.model_loader import CLAPLaionModel
from laion_clap.clap_module import create_model
folder, weights, out = sys.argv[1:4]
model, cfg = create_model("HTSAT-tiny", "transformer", precision="fp32", device="cpu", enable_fusion=False)
state = torch.load(weights, map_location="cpu", weights_only=False)["state_dict"]
model.load_state_dict({k[len("module."):]: v for k, v in state.items() if k.startswith("module.audio_")},
                      strict=False)
hook = laion_clap.CLAP_Module.__new__(laion_clap.CLAP_Module)
torch.nn.Module.__init__(hook)
hook.enable_fusion, hook.model, hook.model_cfg = False, model, cfg
loader = CLAPLaionModel.__new__(CLAPLaionModel)
loader.type, loader.sr, loader.device, loader.model = "audio", 48000, torch.device("cpu"), hook
rows = [loader._get_embedding(soundfile.read(f, dtype="float64")[0]).numpy()
        for f in sorted(Path(folder).glob("*.wav"))]
seconds = time.perf_counter() - start
np.save(out, np.concatenate(rows))
print(json.dumps({"seconds": seconds}))
'''


def _weights(path: Path) -> None:
    """Seeded random weights in laion_clap's checkpoint layout (tests/test_clap.py's, without the fixture checks)."""
    import torch
    from torchlibrosa.stft import LogmelFilterBank, Spectrogram

    from gentools.features.backbones.clap import ClapAudio
    from tests.audio.inputs import seeded_weights

    state = ClapAudio("tiny").state_dict()
    front = Spectrogram(n_fft=1024, hop_length=480, win_length=1024, window="hann", center=True, pad_mode="reflect",
                        freeze_parameters=True).state_dict()
    for part in ("real", "imag"):
        state[f"audio_branch.spectrogram_extractor.stft.conv_{part}.weight"] = front[f"stft.conv_{part}.weight"]
    state["audio_branch.logmel_extractor.melW"] = LogmelFilterBank(sr=48000, n_fft=1024, n_mels=64, fmin=50,
                                                                   fmax=14000, top_db=None).melW.data
    state.update({k: torch.from_numpy(v) for k, v in
                  seeded_weights({k: (tuple(v.shape), str(v.dtype)) for k, v in state.items()}).items()})
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=8, help="files")
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each file")
    parser.add_argument("--venv", default=str(ROOT / ".audio-ref-venv"), help="the side venv (make_venv.sh)")
    parser.add_argument("--weights", help="630k-audioset-best.pt (default: seeded random weights in its layout)")
    args = parser.parse_args()
    import soundfile

    from tests.audio.inputs import clap_waveform

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        folder = tmp / "sounds"
        folder.mkdir()
        for k in range(args.n):
            soundfile.write(folder / f"{k:04d}.wav", clap_waveform(k, args.seconds), 48000, subtype="FLOAT")
        weights = Path(args.weights) if args.weights else tmp / "clap.pt"
        if not args.weights:
            _weights(weights)
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "gentools"), "extract", str(folder), "-b",
                        "clap:laion-audio", "--weights", str(weights), "--device", "cpu", "-o", str(tmp / "g.h5"),
                        "-q"], check=True)
        ours = time.perf_counter() - start
        script = tmp / "fadtk_job.py"
        script.write_text(FADTK_JOB)
        start = time.perf_counter()
        proc = subprocess.run([str(Path(args.venv) / "bin" / "python"), str(script), str(folder), str(weights),
                               str(tmp / "f.npy")], check=True, capture_output=True, text=True,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
        theirs = time.perf_counter() - start
        inner = json.loads(proc.stdout.strip().splitlines()[-1])["seconds"]
        from gentools import store

        with store.open_input(str(tmp / "g.h5")) as f:
            rows = f.array()
        reference = np.load(tmp / "f.npy")
        audio = args.n * args.seconds
        print(f"{args.n} files x {args.seconds} s at 48 kHz, {len(rows)} frames (CPU)")
        print(f"gentools extract  {ours:7.1f} s  ({ours / audio:.3f} s per audio second)")
        print(f"fadtk + laion_clap {theirs:6.1f} s  ({theirs / audio:.3f} s per audio second; {inner:.1f} s in-process)")
        print(f"ratio (fadtk / gentools): {theirs / ours:.2f}x; max |frames difference| "
              f"{np.abs(rows - reference).max():.2e}")


if __name__ == "__main__":
    main()
