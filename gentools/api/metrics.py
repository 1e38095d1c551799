"""``gentools.kid``, ``inception_score``, ``prdc``, ``cmmd``, ``vendi``: metrics over feature rows."""

from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from gentools import memory, presets
from gentools.api._common import Progress, Result, bar
from gentools.errors import GentoolsWarning, InputError, NumericalError
from gentools.inputs import InputLike, describe, load, open_pair, require_features

DEFAULT_CHUNK_MB = 128


def kid(gen: InputLike, ref: InputLike, *, subsets: int = 100, subset_size: int = 1000, exact: bool = False,
        preset: Optional[str] = None, seed: Optional[int] = None, force: bool = False, per_class: bool = False,
        progress: Optional[Progress] = None) -> Result:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with ``k(x, y) = (x·y/d + 1)³``,
    mean and std over ``subsets`` subsets of ``subset_size`` rows drawn as torch-fidelity draws them.
    Equal to torch-fidelity's ``kid_features_to_metric`` to 1e-9 relative. Returns ``kid_mean``, ``kid_std``
    (``per_class``: ``kid_mean.LABEL``, ``kid_std.LABEL`` per class, then their means)."""
    from gentools.metrics.kid import kid as kid_metric

    if per_class:
        from gentools.api.classes import by_class

        return by_class(kid, gen, ref, subsets=subsets, subset_size=subset_size, exact=exact, preset=preset,
                        seed=seed, force=force)
    chosen = presets.get(preset)
    seed = chosen.seed if seed is None else seed
    gen, ref = open_pair(gen, ref, "kid", force)
    if chosen.kid_clamp:
        subset_size = min(subset_size, gen.n, ref.n)  # clean-fid / StyleGAN: min(n_gen, n_ref, size)
    if subset_size > min(gen.n, ref.n):
        raise InputError(f"--subset-size {subset_size} is larger than the inputs: {gen.n} rows ({gen.label}), "
                         f"{ref.n} rows ({ref.label})", hint=f"use --subset-size {min(gen.n, ref.n)} or less")
    memory.require(3 * 8 * subset_size * subset_size, f"KID's kernel matrices ({subset_size} x {subset_size})",
                   gen.label)
    x, y = gen.array(), ref.array()
    gemm = np.float64 if exact else np.result_type(x.dtype, y.dtype, np.float32)
    with bar(progress, "KID subsets", subsets) as tick:
        values = kid_metric(x, y, subsets, subset_size, seed, gemm_dtype=gemm, progress=tick)
    if not all(np.isfinite(list(values.values()))) and not exact:
        raise NumericalError(f"kid_mean came out as {values['kid_mean']}: float32 dot products overflowed (the "
                             f"features reach {max(np.abs(x).max(), np.abs(y).max()):.3g})",
                             hint="pass --exact (float64 kernels)")
    params = {"subsets": subsets, "subset_size": subset_size, "seed": seed, "gemm": np.dtype(gemm).name,
              "preset": preset or ""}
    return Result(values, [describe(gen), describe(ref)], params)


def inception_score(gen: InputLike, *, splits: Optional[int] = None, shuffle: Optional[bool] = None,
                    preset: Optional[str] = None, seed: Optional[int] = None) -> Result:
    """Inception Score (Salimans et al. 2016): ``exp(E KL(p(y|x) || p(y)))`` over splits of the stored
    ``logits`` (a plain array is taken as logits). Equal to torch-fidelity's ``isc_features_to_metric``.
    Returns ``is_mean``, ``is_std``."""
    from gentools.metrics.inception_score import inception_score as is_metric

    (item,) = require_features([load(gen)], "is")
    if item.provenance.get("is_logits") == "biased":
        raise InputError(f"holds logits with the fc bias (an older gentools' --preset adm), which no evaluator "
                         f"scores: re-extract with this version ({item.label})")
    if item.has("logits"):
        logits = item.array("logits")
    elif item.provenance:
        raise InputError(f"has no 'logits'; extract with a classifier backbone such as inception ({item.label})")
    else:
        logits = item.array("features")
    chosen = presets.get(preset)
    seed = chosen.seed if seed is None else seed
    split_size = chosen.is_split_size if splits is None else 0
    splits = chosen.is_splits if splits is None else splits
    shuffle = chosen.is_shuffle if shuffle is None else shuffle
    if not split_size and splits > len(logits):
        raise InputError(f"--splits {splits} is more than the {len(logits)} rows ({item.label})")
    values = is_metric(logits, splits, shuffle, seed, split_size)
    return Result(values, [describe(item)], {"splits": splits, "split_size": split_size, "shuffle": shuffle,
                                             "seed": seed, "preset": preset or ""})


def prdc(gen: InputLike, ref: InputLike, *, k: Optional[int] = None, preset: Optional[str] = None,
         chunk_mb: int = DEFAULT_CHUNK_MB, force: bool = False, per_class: bool = False,
         progress: Optional[Progress] = None) -> Result:
    """Precision, recall, density, coverage (Naeem et al. 2020) and the P/R ``f_score``, with k-NN radii;
    equal to ``prdc.compute_prdc(real_features=ref, fake_features=gen, nearest_k=k)``. Chunked.
    ``per_class``: each value per class (``precision.LABEL``, ...), then their means."""
    from gentools.metrics.prdc import prdc as prdc_metric

    if per_class:
        from gentools.api.classes import by_class

        return by_class(prdc, gen, ref, k=k, preset=preset, chunk_mb=chunk_mb, force=force)
    chosen = presets.get(preset)
    k = chosen.pr_k if k is None else k
    gen, ref = load(gen), load(ref)
    require_features([gen, ref], "prdc")
    _check_backbone(chosen.pr_backbone, preset, gen, ref)
    gen, ref = open_pair(gen, ref, "prdc", force)
    for item in (gen, ref):
        if item.n <= k:
            raise InputError(f"--k {k} needs more than {k} rows, have {item.n} ({item.label})")
    with bar(progress, "PRDC", ref.n) as tick:
        values = prdc_metric(ref.array(), gen.array(), k, budget=chunk_mb << 17, progress=tick,
                             strict=chosen.pr_strict, float16=chosen.pr_float16)
    return Result(values, [describe(gen), describe(ref)], {"k": k, "comparison": "<" if chosen.pr_strict else "<=",
                                                           "float16": chosen.pr_float16, "preset": preset or ""})


def _check_backbone(required: str, preset, *items) -> None:
    """A preset whose P&R is defined on one network (StyleGAN: NVIDIA's VGG16) refuses other features."""
    for item in items:
        found = item.provenance.get("backbone", "")
        if required and found != required:
            detector = required.split(":", 1)[1]
            raise InputError(f"--preset {preset} computes P&R on {required} features, this file holds "
                             f"{found or 'features of unknown origin'} ({item.label})",
                             hint=f"gentools extract IMAGES --backbone nvidia:{detector}.pt -o F.h5")


def cmmd(gen: InputLike, ref: InputLike, *, sigma: float = 10.0, scale: float = 1000.0, unbiased: bool = False,
         normalise: bool = True, force: bool = False) -> Result:
    """CMMD (Jayasumana et al. 2024): ``scale · MMD²`` with a Gaussian kernel of bandwidth ``sigma`` on
    L2-normalised embeddings, diagonals included as the authors' code (``unbiased`` drops them)."""
    from gentools.metrics._pairwise import l2_normalise
    from gentools.metrics.cmmd import cmmd as cmmd_metric

    gen, ref = open_pair(gen, ref, "cmmd", force, min_rows=2)
    backbone = str(gen.provenance.get("backbone", ""))
    if not backbone.startswith("clip"):
        warnings.warn(f"{gen.label} was not extracted with a CLIP backbone ({backbone or 'unknown'}): "
                      f"this is MMD on these features, not CMMD as published", GentoolsWarning, stacklevel=2)
    x, y = gen.array(), ref.array()
    if normalise:
        x, y = l2_normalise(x), l2_normalise(y)
    values = {"cmmd": cmmd_metric(x, y, sigma, scale, unbiased)}
    return Result(values, [describe(gen), describe(ref)], {"sigma": sigma, "scale": scale, "unbiased": unbiased,
                                                           "normalise": normalise})


def vendi(gen: InputLike) -> Result:
    """Vendi score (Friedman & Dieng 2023): ``exp(-Σ λ log λ)`` over the eigenvalues of ``K/n``, K the
    cosine-similarity kernel of the rows. Equal to the vendi-score package."""
    from gentools.metrics.vendi import vendi_score

    (item,) = require_features([load(gen)], "vendi")
    return Result({"vendi": vendi_score(item.array())}, [describe(item)], {})


def clipscore(gen: InputLike) -> Result:
    """CLIP score (Hessel et al. 2021): ``mean_i max(100 · cos(image_i, caption_i), 0)`` over the rows' image
    ``features`` and ``text_features`` (``extract --backbone clip:MODEL --captions FILE.tsv``); torchmetrics
    clamps the mean instead, the same number unless some caption's cosine is negative (metrics/clipscore.py)."""
    from gentools.metrics.clipscore import CLIP_SCORE, clip_score

    (item,) = require_features([load(gen)], "clipscore")
    if not item.has("text_features"):
        raise InputError(f"has no 'text_features'; extract with a clip: backbone and --captions FILE.tsv "
                         f"({item.label})")
    backbone = str(item.provenance.get("backbone", ""))
    if not backbone.startswith("clip"):
        warnings.warn(f"{item.label} was not extracted with a CLIP backbone ({backbone or 'unknown'})",
                      GentoolsWarning, stacklevel=2)
    return Result({CLIP_SCORE: clip_score(item.array(), item.array("text_features"))}, [describe(item)], {})
