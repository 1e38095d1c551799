"""``gentools weights random``: seeded random weights in a backbone's published layout (the same keys and shapes),
so a pipeline can be tested offline end to end. Their numbers rank inputs but compare with nothing published."""

from __future__ import annotations

from typing import Callable

from gentools.errors import UsageError


def _inception(seed: int) -> dict:
    from gentools.features.backbones.inception_net import random_state_dict

    return random_state_dict(seed)


def _vggish(seed: int) -> dict:
    from gentools.features.backbones.audio import random_vggish_state_dict

    return random_vggish_state_dict(seed)


def _i3d400(seed: int) -> dict:
    from gentools.features.backbones.video import calibrated_i3d400_state_dict

    return calibrated_i3d400_state_dict(seed)


RANDOM: dict[str, Callable[[int], dict]] = {"inception": _inception, "vggish": _vggish, "i3d400": _i3d400}


def weights_random(name: str, output: str, seed: int = 2020) -> str:
    """Write seeded random weights for backbone ``name`` (:data:`RANDOM`) to ``output``, atomically, as the
    state dict its ``--weights`` loads; returns ``output``. i3d400's batch norms are calibrated on synthetic
    clips so its features are not degenerate."""
    import torch

    from gentools.files import atomic_path

    if name not in RANDOM:
        raise UsageError(f"weights random {name}: expected one of {', '.join(RANDOM)}")
    state = RANDOM[name](int(seed))
    with atomic_path(str(output)) as staged:
        torch.save(state, staged)
    return str(output)
