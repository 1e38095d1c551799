"""Run fadtk 1.1.0's CLAPLaionModel over laion_clap 1.1.7 with seeded weights; save its frames for the tests.

Runs in the side venv that make_venv.sh builds (never in the tests or CI): laion_clap pins numpy<2, so it cannot
live beside gentools. The waveforms and the drawn weights come from tests/audio/inputs.py, which the test uses
too. Output: tests/fixtures/clap_reference.npz (a few hundred KB) with, for KIND in laion-audio, laion-music:

- ``KIND.NAME`` (float32 ``[frames, 512]``): ``CLAPLaionModel._get_embedding`` of each waveform (fadtk's 16-bit
  quantisation, 10 s chunks every second, ``CLAP_Module.get_audio_embedding_from_data(use_tensor=True)``) before
  fadtk's float16 cast;
- ``KIND.layout``: ``key shape dtype`` of each audio-tower tensor of laion_clap's model, in its order;
- ``KIND.fixed_keys`` / ``KIND.fixed_sums``: the tensors not drawn (``CLAP_FIXED``) and their float64 sums;
- ``source.N`` / ``source_found.N``: each line gentools' clap backbone follows, and whether it is in the
  installed fadtk or laion_clap;
- ``versions``.

laion_clap's model is built with the ``transformer`` text tower (its ``roberta`` tower downloads roberta-base), and
``CLAP_Module`` without its ``__init__`` (which downloads a tokenizer); the audio tower and the code path
``get_audio_embedding_from_data`` -> ``get_audio_features`` -> ``get_audio_embedding`` are laion_clap's own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.audio.inputs import CLAP_FIXED, CLAP_SECONDS, clap_waveform, seeded_weights  # noqa: E402

AMODEL = {"laion-audio": "HTSAT-tiny", "laion-music": "HTSAT-base"}
QUOTED = (
    ("fadtk", "model_loader.py", "audio = self.int16_to_float32(self.float32_to_int16(audio))"),
    ("fadtk", "model_loader.py", "chunks = [audio[:, i:i+chunk_size] for i in range(0, audio.shape[1], hop_size)]"),
    ("fadtk", "model_loader.py", "hop_size = self.sr  # 1 second"),
    ("fadtk", "model_loader.py", "chunk = chunk if chunk.shape[1] == chunk_size else np.pad(chunk, ((0,0), (0, "
                                 "chunk_size-chunk.shape[1])))"),
    ("fadtk", "model_loader.py", "self.model = laion_clap.CLAP_Module(enable_fusion=False, amodel='HTSAT-tiny' if "
                                 "self.type == 'audio' else 'HTSAT-base')"),
    ("fadtk", "model_loader.py", "url = 'https://huggingface.co/lukewys/laion_clap/resolve/main/"
                                 "630k-audioset-best.pt'"),
    ("fadtk", "model_loader.py", "url = 'https://huggingface.co/lukewys/laion_clap/resolve/main/"
                                 "music_audioset_epoch_15_esc_90.14.pt'"),
    ("laion_clap", "clap_module/model.py", "audio_embeds = F.normalize(audio_embeds, dim=-1)"),
    ("laion_clap", "clap_module/htsat.py", "latent_output = self.avgpool(torch.flatten(x,2))"),
    ("laion_clap", "clap_module/htsat.py", 'x = nn.functional.interpolate(x, (target_T, x.shape[3]), mode="bicubic", '
                                           'align_corners=True)'),
    ("laion_clap", "clap_module/factory.py", 'if next(iter(state_dict.items()))[0].startswith("module"):'),
)


def main(out: str) -> None:
    import torch
    import transformers

    # laion_clap's training/data.py loads three text tokenizers from the Hugging Face hub at import.
    for name in ("BertTokenizer", "RobertaTokenizer", "BartTokenizer"):
        getattr(transformers, name).from_pretrained = classmethod(lambda cls, *args, **kwargs: None)
    import fadtk
    import laion_clap
    from fadtk.model_loader import CLAPLaionModel
    from laion_clap.clap_module import create_model

    torch.set_num_threads(2)
    arrays: dict = {}
    for kind, amodel in AMODEL.items():
        model, model_cfg = create_model(amodel, "transformer", precision="fp32", device="cpu", enable_fusion=False)
        state = {k: v for k, v in model.state_dict().items() if k.startswith(("audio_branch.", "audio_projection."))}
        arrays[f"{kind}.layout"] = np.array([f"{k} {tuple(v.shape)} {v.dtype}" for k, v in state.items()])
        fixed = [k for k in state if k.endswith(CLAP_FIXED)]
        arrays[f"{kind}.fixed_keys"] = np.array(fixed)
        arrays[f"{kind}.fixed_sums"] = np.array([state[k].double().sum().item() for k in fixed])
        drawn = seeded_weights({k: (tuple(v.shape), str(v.dtype)) for k, v in state.items()})
        model.load_state_dict({k: torch.from_numpy(v) for k, v in drawn.items()}, strict=False)

        hook = laion_clap.CLAP_Module.__new__(laion_clap.CLAP_Module)
        torch.nn.Module.__init__(hook)
        hook.enable_fusion, hook.model, hook.model_cfg = False, model, model_cfg
        loader = CLAPLaionModel.__new__(CLAPLaionModel)
        loader.type, loader.sr, loader.device, loader.model = kind.split("-")[1], 48000, torch.device("cpu"), hook
        for index, (name, seconds) in enumerate(CLAP_SECONDS[kind].items()):
            audio = clap_waveform(index, seconds).astype(np.float64)  # fadtk's load_wav gives float64
            arrays[f"{kind}.{name}"] = loader._get_embedding(audio).numpy().astype(np.float32)

    for k, (package, file, line) in enumerate(QUOTED):
        folder = Path((fadtk if package == "fadtk" else laion_clap).__file__).parent
        arrays[f"source.{k}"] = np.array(f"{package}/{file}\t{line}")
        arrays[f"source_found.{k}"] = np.bool_(line in (folder / file).read_text())
    import torchlibrosa  # noqa: F401
    from importlib.metadata import version

    arrays["versions"] = np.array(
        f"torch {torch.__version__}; laion_clap {version('laion_clap')}; fadtk {version('fadtk')}; "
        f"torchlibrosa {version('torchlibrosa')}; librosa {version('librosa')}; numpy {np.__version__}")
    np.savez_compressed(out, **arrays)
    print(out, Path(out).stat().st_size, "bytes;", arrays["versions"])
    print({k: bool(v) for k, v in arrays.items() if k.startswith("source_found")})


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else str(ROOT / "tests" / "fixtures" / "clap_reference.npz"))
