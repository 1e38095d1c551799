"""Parity presets: every default a peer tool uses, so ``--preset TOOL`` reproduces its numbers.

Sources: torch-fidelity (``defaults.py``, ``metric_isc/kid/prc.py``), pytorch-fid
(``fid_score.py``), clean-fid (``fid.py``: ``kernel_distance``), guided-diffusion's
ADM evaluator (``evaluations/evaluator.py``), stylegan2-ada-pytorch (``metrics/``).
KID sampling is the same in all of them (generated rows first, then reference,
one NumPy RandomState stream; clean-fid and StyleGAN use the global one, so
``--seed S`` reproduces them after ``np.random.seed(S)``); they differ in whether
a subset larger than a set is an error or clamped to ``min(n_gen, n_ref, size)``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Optional

from gentools.errors import UsageError


@dataclass(frozen=True)
class Preset:
    resize: str            # extract --resize
    is_logits: str         # "unbiased" (no fc bias) or "biased" (the TF graph's softmax input)
    is_splits: int         # IS splits (ignored when is_split_size is set)
    is_split_size: int     # IS rows per split (ADM: 5000), 0 = use is_splits
    is_shuffle: bool       # rows permuted with RandomState(seed) before splitting
    kid_clamp: bool        # subset size clamped to min(n_gen, n_ref, size) instead of an error
    pr_k: int              # P&R / PRDC neighbourhood size
    pr_strict: bool        # True: d < radius (prdc package); False: d <= radius
    note: str


PRESETS = {
    "gentools": Preset("tf", "unbiased", 10, 0, True, False, 5, True,
                       "defaults: torch-fidelity's resize/IS/KID, prdc's PRDC"),
    "torch-fidelity": Preset("tf", "unbiased", 10, 0, True, False, 3, False,
                             "isc_splits=10 shuffled (seed 2020), kid 100x1000, prc_neighborhood=3 with <="),
    "pytorch-fid": Preset("pytorch-fid", "unbiased", 10, 0, True, False, 5, True,
                          "FID only in pytorch-fid: torch bilinear resize; other metrics keep gentools defaults"),
    "clean-fid": Preset("clean", "unbiased", 10, 0, True, True, 5, True,
                        "PIL bicubic resize; KID 100 subsets of min(n, 1000)"),
    "adm": Preset("tf", "biased", 10, 5000, False, False, 3, False,
                  "guided-diffusion evaluator: IS on the graph's softmax (fc bias) in chunks of 5000, "
                  "no shuffle; P&R k=3 with <=; sFID from --spatial"),
    "stylegan": Preset("tf", "unbiased", 10, 0, False, True, 3, False,
                       "stylegan2-ada: IS 10 splits, no shuffle, no fc bias; KID 100 x min(n, 1000); P&R k=3 <="),
}


def get(name: Optional[str]) -> Optional[Preset]:
    if name is None:
        return None
    if name not in PRESETS:
        raise UsageError(f"--preset {name}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def table() -> list[dict]:
    return [{"preset": name, **asdict(p)} for name, p in PRESETS.items()]
