"""``gentools weights``: each backbone's published weights file (where it is published, its hash, whether it is
here), ``weights pull`` to fetch one verified (a login node filling the cache for offline nodes), and ``weights
random``: seeded random weights in a backbone's published layout (the same keys and shapes), so a pipeline can be
tested offline end to end. Random weights rank inputs but compare with nothing published."""

from __future__ import annotations

from typing import Callable, Optional

from gentools.errors import InputError, UsageError


def published() -> dict:
    """Every published weights file a backbone loads by default, by backbone name (each backbone's
    :class:`~gentools.features.weights.Published` row: where ``resolve`` looks and what it fetches)."""
    from gentools.features import weights
    from gentools.features.backbones import audio, clap, lpips, nvidia, video

    rows = [weights.INCEPTION, audio.VGGISH, audio.PANNS, *clap.PUBLISHED.values(), video.I3D, video.I3D400,
            video.VIDEOMAE, *nvidia.PUBLISHED_ROWS.values(), *lpips.TRUNK.values(), *lpips.LIN.values()]
    return {row.backbone: row for row in rows}


def weights_list() -> list:
    """One row per published file: backbone, file, sha256 (its published prefix, or "unpublished"), url, and
    ``path``: where it was found (torch hub's checkpoint folder, or a peer's folder), else where a download puts
    it, with ``here`` whether it is there."""
    rows = []
    for row in published().values():
        places = row.places()
        found = next((place for place in places if place.is_file()), None)
        rows.append({"backbone": row.backbone, "file": row.file, "sha256": row.sha256 or "unpublished",
                     "url": row.url, "path": str(found or places[0]), "here": found is not None})
    return rows


def weights_pull(name: str, *, sha256: Optional[str] = None, mirror: Optional[str] = None, progress=None,
                 max_size: Optional[int] = None, timeout: Optional[float] = None) -> dict:
    """Fetch backbone ``name``'s published file into torch hub's checkpoint folder, where every backbone looks,
    through ``FILE.partial`` (a rerun resumes it), bounded as ``ref pull`` is, and keep it only when its sha256
    starts with the published prefix and equals ``sha256`` where given. ``mirror`` replaces the URL's origin.
    Returns ``{"backbone", "path", "sha256", "already"}``."""
    from gentools.download import mirrored
    from gentools.features import weights
    from gentools.files import sha256_of
    from gentools.refs.cache import check_sha256

    table = published()
    if name not in table:
        raise UsageError(f"weights pull {name}: expected one of {', '.join(table)}")
    row = table[name]
    wanted = check_sha256(sha256) if sha256 else ""
    if wanted and not wanted.startswith(row.sha256):
        raise UsageError(f"--sha256 {wanted} is not the published {row.sha256}… of {row.file}")
    expected = wanted or row.sha256
    dest = weights.checkpoint_dir() / row.file
    if dest.is_file():
        digest = sha256_of(dest)
        if digest.startswith(expected):
            return {"backbone": name, "path": str(dest), "sha256": digest, "already": True}
        raise InputError(f"{dest}: already here with sha256 {digest[:16]}…, not {expected}…; move it away to pull "
                         f"the published file")
    url = mirrored(row.url, mirror) if mirror else row.source_url()
    digest = weights.fetch_verified(url, dest, expected, progress, max_size or weights.MAX_SIZE, timeout)
    return {"backbone": name, "path": str(dest), "sha256": digest, "already": False}


def _inception(seed: int) -> dict:
    from gentools.features.backbones.inception_net import random_state_dict

    return random_state_dict(seed)


def _vggish(seed: int) -> dict:
    from gentools.features.backbones.audio import random_vggish_state_dict

    return random_vggish_state_dict(seed)


def _i3d400(seed: int) -> dict:
    from gentools.features.backbones.video import calibrated_i3d400_state_dict

    return calibrated_i3d400_state_dict(seed)


def _lpips_trunk(net: str) -> Callable[[int], dict]:
    def state(seed: int) -> dict:
        import torch

        from gentools.features.backbones.lpips import torchvision_features

        torch.manual_seed(seed)
        return {f"features.{k}": v for k, v in torchvision_features(net).state_dict().items()}

    return state


def _lpips_lin(net: str) -> Callable[[int], dict]:
    def state(seed: int) -> dict:
        """Non-negative 1x1 weights, as trained ones are (lpips clamps them at 0), each layer's summing to 1."""
        import torch

        from gentools.features.backbones.lpips import Lins

        generator = torch.Generator().manual_seed(seed)
        lins = Lins(net).state_dict()
        return {key: (w := torch.rand(value.shape, generator=generator)) / w.sum() for key, value in lins.items()}

    return state


RANDOM: dict[str, Callable[[int], dict]] = {
    "inception": _inception, "vggish": _vggish, "i3d400": _i3d400,
    **{f"lpips:{net}": _lpips_trunk(net) for net in ("alex", "vgg", "squeeze")},
    **{f"lpips:{net}:lin": _lpips_lin(net) for net in ("alex", "vgg", "squeeze")}}


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
