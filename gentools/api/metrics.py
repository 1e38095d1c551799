"""``gentools.kid``, ``inception_score``, ``prdc``, ``cmmd`` and ``clipscore``: metrics over feature rows.

Each is one registration (:func:`gentools.api.registry.register_metric`): its
options and their defaults are the table the command, the API and the
Evaluator read.
"""

from __future__ import annotations


import numpy as np

from gentools import memory, presets
from gentools.api._common import Result, bar
from gentools.api.registry import FORCE, GEN, PRESET, SEED, Input, Option, register_metric
from gentools.errors import InputError, NumericalError, option, warn
from gentools.inputs import check_preset, describe, load, open_pair, require_features

REF = Input("ref", "Reference set")
PAIR = (GEN, REF)


def _kid_reference(options: dict, reference, preset) -> None:
    """A subset larger than the reference can never be drawn (unless the preset clamps it)."""
    size = options["subset_size"]
    if reference.kind == "features" and size > reference.n and not presets.get(preset).kid_clamp:
        raise InputError(f"kid: {option('subset_size', size)} is larger than the reference's {reference.n} rows "
                         f"({reference.label})", hint=f"use {option('subset_size', reference.n)} or less")


@register_metric(
    "kid", inputs=PAIR, metavar="GEN REF", per_class_means={}, evaluator="rows", progress=True,
    check_reference=_kid_reference,
    summary="Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with k(x,y) = (x·y/d + 1)³.\n\n"
            "Mean and std over --subsets subsets of --subset-size rows, drawn as torch-fidelity draws them "
            "(same seed, same subsets, same numbers).\n\nExample: gentools kid gen.h5 ref.h5 --subsets 100 "
            "--subset-size 1000",
    options=(Option("subsets", 100, "Number of random subsets.", min=1),
             Option("subset_size", 1000, "Rows per subset, from each set.", min=2),
             Option("exact", False, "Dot products in float64 even for float32 features (about 2x slower; "
                    "default: the features' own precision, as torch-fidelity, ~1e-7 relative from exact; kernel "
                    "sums are float64 either way)."),
             PRESET, SEED, FORCE))
def kid(gen, ref, *, subsets, subset_size, exact, preset, seed, force, progress) -> Result:
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with ``k(x, y) = (x·y/d + 1)³``,
    mean and std over ``subsets`` subsets of ``subset_size`` rows drawn as torch-fidelity draws them.
    Equal to torch-fidelity's ``kid_features_to_metric`` to 1e-9 relative. Returns ``kid_mean``, ``kid_std``
    (``per_class``: the overall values, ``kid_mean.LABEL``, ``kid_std.LABEL`` per class, then their means
    ``intra_kid_mean``, ``intra_kid_std``)."""
    from gentools.metrics.kid import kid as kid_metric

    chosen = presets.get(preset)
    seed = chosen.seed if seed is None else seed
    gen, ref = open_pair(gen, ref, "kid", force)
    check_preset(preset, [gen, ref], force)
    if chosen.kid_clamp:
        subset_size = min(subset_size, gen.n, ref.n)  # clean-fid / StyleGAN: min(n_gen, n_ref, size)
    if subset_size > min(gen.n, ref.n):
        raise InputError(f"{option('subset_size', subset_size)} is larger than the inputs: {gen.n} rows "
                         f"({gen.label}), {ref.n} rows ({ref.label})",
                         hint=f"use {option('subset_size', min(gen.n, ref.n))} or less")
    memory.require(3 * 8 * subset_size * subset_size, f"KID's kernel matrices ({subset_size} x {subset_size})",
                   gen.label)
    x, y = gen.array(), ref.array()
    gemm = np.float64 if exact else np.result_type(x.dtype, y.dtype, np.float32)
    with bar(progress, "KID subsets", subsets) as tick:
        values = kid_metric(x, y, subsets, subset_size, seed, gemm_dtype=gemm, progress=tick)
    if not all(np.isfinite(list(values.values()))) and not exact:
        raise NumericalError(f"kid_mean came out as {values['kid_mean']}: float32 dot products overflowed (the "
                             f"features reach {max(np.abs(x).max(), np.abs(y).max()):.3g})",
                             hint=f"pass {option('exact', True)} (float64 kernels)")
    params = {"subsets": subsets, "subset_size": subset_size, "seed": seed, "gemm": np.dtype(gemm).name,
              "preset": preset or ""}
    return Result(values, [describe(gen), describe(ref)], params)


@register_metric(
    "is", inputs=(Input("gen", "Features file with 'logits' (or a plain [N, C] array, taken as logits)"),),
    metavar="GEN", datasets=("logits",), evaluator="rows",
    summary="Inception Score (Salimans et al. 2016): exp(E KL(p(y|x) || p(y))), mean and std over splits.\n\n"
            "Uses all stored logits (Inception: the 1008 unbiased logits, as torch-fidelity).\n\n"
            "Example: gentools is gen.h5 --splits 10",
    options=(Option("splits", None, "Number of splits.", type=int, min=1, default_text="10"),
             Option("shuffle", None, "Permute rows with --seed before splitting (torch-fidelity does; the original "
                    "OpenAI code does not).", type=bool, negative="--no-shuffle", default_text="shuffle"),
             PRESET, SEED, FORCE))
def inception_score(gen, *, splits, shuffle, preset, seed, force) -> Result:
    """Inception Score (Salimans et al. 2016): ``exp(E KL(p(y|x) || p(y)))`` over splits of the stored
    ``logits`` (a plain array is taken as logits). Equal to torch-fidelity's ``isc_features_to_metric``.
    Returns ``is_mean``, ``is_std``."""
    from gentools.metrics.inception_score import inception_score as is_metric

    (item,) = require_features([load(gen)], "is")
    check_preset(preset, [item], force)
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
        raise InputError(f"{option('splits', splits)} is more than the {len(logits)} rows ({item.label})")
    values = is_metric(logits, splits, shuffle, seed, split_size)
    return Result(values, [describe(item)], {"splits": splits, "split_size": split_size, "shuffle": shuffle,
                                             "seed": seed, "preset": preset or ""})


def _prdc_reference(options: dict, reference, preset) -> None:
    k = presets.get(preset).pr_k if options["k"] is None else options["k"]
    if reference.kind == "features" and reference.n <= k:
        raise InputError(f"prdc: {option('k', k)} needs more than {k} reference rows, have {reference.n} "
                         f"({reference.label})")


@register_metric(
    "prdc", inputs=(GEN, Input("ref", "Reference (real) set")), metavar="GEN REF", per_class_means={},
    evaluator="rows", progress=True, check_reference=_prdc_reference,
    summary="Precision, recall, density, coverage (Naeem et al. 2020) and the P/R f_score.\n\n"
            "k-NN radii in feature space; chunked, so 50k x 50k x 2048 runs in a few GB. Equal to "
            "prdc.compute_prdc(real_features=REF, fake_features=GEN, nearest_k=k).\n\n"
            "Example: gentools prdc gen.h5 ref.h5 --k 5",
    options=(Option("k", None, "Neighbour rank of the radii (--k 3: Kynkäänniemi et al. / torch-fidelity P&R).",
                    type=int, min=1, default_text="5"),
             PRESET, Option("chunk_mb", 128, "Memory per distance chunk, MiB.", min=1), FORCE))
def prdc(gen, ref, *, k, preset, chunk_mb, force, progress) -> Result:
    """Precision, recall, density, coverage (Naeem et al. 2020) and the P/R ``f_score``, with k-NN radii;
    equal to ``prdc.compute_prdc(real_features=ref, fake_features=gen, nearest_k=k)``. Chunked.
    ``per_class``: the overall values, each value per class (``precision.LABEL``, ...), then their means
    (``intra_precision``, ...)."""
    from gentools.metrics.prdc import prdc as prdc_metric

    chosen = presets.get(preset)
    k = chosen.pr_k if k is None else k
    gen, ref = load(gen), load(ref)
    require_features([gen, ref], "prdc")
    _check_backbone(chosen.pr_backbone, preset, gen, ref)
    gen, ref = open_pair(gen, ref, "prdc", force)
    check_preset(preset, [gen, ref], force, check_backbone=not chosen.pr_backbone)  # that one is checked above
    for item in (gen, ref):
        if item.n <= k:
            raise InputError(f"{option('k', k)} needs more than {k} rows, have {item.n} ({item.label})")
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
            raise InputError(f"{option('preset', preset)} computes P&R on {required} features, this file holds "
                             f"{found or 'features of unknown origin'} ({item.label})",
                             hint=f"gentools extract IMAGES --backbone nvidia:{detector}.pt -o F.h5")


@register_metric(
    "cmmd", inputs=(GEN, REF), metavar="GEN REF", evaluator="rows",
    summary="CMMD (Jayasumana et al. 2024): 1000 · MMD² with a Gaussian kernel, σ = 10, on normalised "
            "embeddings.\n\nMeans over the full kernel matrices, diagonals included, as the authors' reference "
            "code (--unbiased drops them). Chunked: 30k x 30k in bounded memory. Any features work; the number "
            "is CMMD proper only on CLIP embeddings.\n\nExample: gentools cmmd gen_clip.h5 ref_clip.h5",
    options=(Option("sigma", 10.0, "Gaussian kernel bandwidth.", min=0.0),
             Option("scale", 1000.0, "Multiplier of the MMD²."),
             Option("unbiased", False, "Drop the kernel diagonals (U-statistic); the paper's reference code "
                    "keeps them."),
             Option("normalise", True, "L2-normalise rows first (CLIP embeddings are compared normalised).",
                    negative="--no-normalise"),
             FORCE))
def cmmd(gen, ref, *, sigma, scale, unbiased, normalise, force) -> Result:
    """CMMD (Jayasumana et al. 2024): ``scale · MMD²`` with a Gaussian kernel of bandwidth ``sigma`` on
    L2-normalised embeddings, diagonals included as the authors' code (``unbiased`` drops them)."""
    from gentools.metrics._pairwise import l2_normalise
    from gentools.metrics.cmmd import cmmd as cmmd_metric

    gen, ref = open_pair(gen, ref, "cmmd", force, min_rows=2)
    backbone = str(gen.provenance.get("backbone", ""))
    if not backbone.startswith("clip"):
        warn(f"{gen.label} was not extracted with a CLIP backbone ({backbone or 'unknown'}): "
             f"this is MMD on these features, not CMMD as published")
    x, y = gen.array(), ref.array()
    if normalise:
        x, y = l2_normalise(x), l2_normalise(y)
    values = {"cmmd": cmmd_metric(x, y, sigma, scale, unbiased)}
    return Result(values, [describe(gen), describe(ref)], {"sigma": sigma, "scale": scale, "unbiased": unbiased,
                                                           "normalise": normalise})


@register_metric(
    "clipscore", inputs=(Input("gen", "Features with text_features (extract --backbone clip:MODEL --captions "
                                      "FILE.tsv)"),),
    metavar="FEATURES", datasets=("features", "text_features"), options=(),
    summary="CLIP score (Hessel et al. 2021): mean over rows of max(100 · cos(image, caption), 0), as "
            "torchmetrics.\n\nCaptions longer than the model's context were truncated at extraction (with a "
            "warning giving the count).\n\nExample: gentools extract imgs/ -b clip:ViT-L-14 --captions caps.tsv "
            "-o f.h5; gentools clipscore f.h5")
def clipscore(gen) -> Result:
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
        warn(f"{item.label} was not extracted with a CLIP backbone ({backbone or 'unknown'})")
    return Result({CLIP_SCORE: clip_score(item.array(), item.array("text_features"))}, [describe(item)], {})
