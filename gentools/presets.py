"""Parity presets: every default a peer tool or paper evaluator uses, so ``--preset TOOL`` reproduces its numbers.

Each setting carries its :class:`Source`: the repository, the file and the line
of that tool's code it comes from, quoted verbatim (``gentools presets
--sources`` prints them). The lines of the installed peers (torch-fidelity,
pytorch-fid, clean-fid, prdc) are checked against their installed source in the
tests; those of the evaluators that cannot run here (guided-diffusion's ADM
evaluator, stylegan2-ada-pytorch's ``metrics/``, EDM2's
``calculate_metrics.py``) were read from their repositories, and the tests
quote them beside the transcription they check.

KID sampling is the same everywhere (generated rows first, then reference, one
NumPy RandomState stream; clean-fid and StyleGAN use the global one, so
``--seed S`` reproduces them after ``np.random.seed(S)``); the tools differ in
whether a subset larger than a set is an error or clamped to
``min(n_gen, n_ref, size)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Optional

from gentools.errors import UsageError


@dataclass(frozen=True)
class Source:
    """Where a setting comes from: ``repo`` (GitHub owner/name or PyPI package), ``path`` in it, the ``line``."""

    repo: str
    path: str
    line: str

    @property
    def url(self) -> str:
        repo, prefix = PACKAGE_REPOS.get(self.repo, (self.repo, ""))
        return f"https://github.com/{repo}/blob/HEAD/{prefix}{self.path}"


# PyPI packages (installed as the test extra, where the tests find each quoted line) -> (GitHub repo, source folder).
PACKAGE_REPOS = {"torch-fidelity": ("toshas/torch-fidelity", ""), "pytorch-fid": ("mseitzer/pytorch-fid", "src/"),
                 "clean-fid": ("GaParmar/clean-fid", ""), "prdc": ("clovaai/generative-evaluation-prdc", ""),
                 "torchvision": ("pytorch/vision", ""), "cd-fvd": ("songweige/content-debiased-fvd", ""),
                 "mauve-text": ("krishnap25/mauve", "src/")}


@dataclass(frozen=True)
class Preset:
    backbone: str          # extract --backbone
    resize: str            # extract --resize (inception: tf/pytorch-fid/clean; dinov2: pil/torch)
    fid_ddof: int          # covariance estimator of FID: 1 = np.cov, 0 = raw_cov/n - mu mu^T (StyleGAN)
    is_splits: int         # IS splits (ignored when is_split_size is set)
    is_split_size: int     # IS rows per split (ADM: 5000), 0 = use is_splits
    is_shuffle: bool       # rows permuted with RandomState(seed) before splitting
    kid_clamp: bool        # subset size clamped to min(n_gen, n_ref, size) instead of an error
    pr_k: int              # P&R / PRDC neighbourhood size
    pr_strict: bool        # True: d < radius (prdc package); False: d <= radius
    pr_float16: bool       # features rounded to float16 before P&R distances (ADM, StyleGAN)
    pr_backbone: str       # P&R needs features of this backbone ("" = any)
    note: str
    sources: dict = field(default_factory=dict, compare=False)  # setting -> Source
    seed: int = 2020       # every stochastic metric's default seed (torch-fidelity's rng_seed)
    frechet_route: str = "exact"  # "fadtk": fadtk's online float16 statistics and eig route (metrics/audio.py)
    audio_pcm16: bool = False     # audio saved as 16-bit PCM and read back before the backbone (fadtk)
    frames_float16: bool = False  # embedding frames rounded to float16, as fadtk stores them
    video_frames: int = 16        # extract --frames: frames per clip (video backbones)
    video_subsample: int = 1      # extract --subsample: every S-th frame
    fid_max_rows: int = 0         # fid takes the first N rows of a features file (StyleGAN-V: 2048 clips), 0 = all
    text_pooling: str = ""        # extract --pooling (text backbones), "" = the kind's default (last-token)
    text_max_tokens: int = 0      # extract --max-tokens (text backbones), 0 = the model's limit

    def settings(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("sources", "note")}

    def extraction(self, backbone: str = "") -> dict:
        """The extraction this preset assumes, as the provenance keys ``extract --preset`` writes: backbone and
        resize; clip frames and subsample (video routes); for fadtk, sound (any backbone fadtk has a model for)
        through the 16-bit round trip, frames stored as float16. ``backbone``: the features' own, which
        decides whether resize applies (NVIDIA's detector resizes inside itself)."""
        if self.frechet_route == "fadtk":
            return {"modality": "audio", "pcm16": self.audio_pcm16, "frames_float16": self.frames_float16}
        if self.text_pooling:
            return {"backbone": self.backbone, "pooling": self.text_pooling, "max_tokens": self.text_max_tokens}
        out = {"backbone": self.backbone}
        if self.resize and backbone == self.backbone:
            out["resize"] = self.resize
        if self.frechet_route in ("sqrtm", "svd"):
            out.update(frames=self.video_frames, subsample=self.video_subsample)
        return out

    def mismatches(self, provenance: dict, check_backbone: bool = True) -> list:
        """``[(key, assumed, found)]`` for the settings of :meth:`extraction` that ``provenance`` records
        otherwise (a key it does not record is not a mismatch: foreign files carry none). NVIDIA's Inception
        detector file is the Inception of the ``inception`` presets."""
        found_backbone = str(provenance.get("backbone", ""))
        out = []
        for key, assumed in self.extraction(found_backbone).items():
            found = provenance.get(key, "image" if key == "modality" and provenance else None)  # absent: image
            if found in (None, "") or (key == "backbone" and not check_backbone):
                continue
            if key == "backbone" and assumed == "inception" and found_backbone.startswith("nvidia:inception"):
                continue
            if str(found) != str(assumed):
                out.append((key, assumed, found))
        return out


ADM = ("openai/guided-diffusion", "evaluations/evaluator.py")
SG_FID = ("NVlabs/stylegan2-ada-pytorch", "metrics/frechet_inception_distance.py")
SG_UTILS = ("NVlabs/stylegan2-ada-pytorch", "metrics/metric_utils.py")
SG_IS = ("NVlabs/stylegan2-ada-pytorch", "metrics/inception_score.py")
SG_KID = ("NVlabs/stylegan2-ada-pytorch", "metrics/kernel_inception_distance.py")
SG_PR = ("NVlabs/stylegan2-ada-pytorch", "metrics/precision_recall.py")
SG_MAIN = ("NVlabs/stylegan2-ada-pytorch", "metrics/metric_main.py")
EDM2 = ("NVlabs/edm2", "calculate_metrics.py")
TF_DEFAULTS = ("torch-fidelity", "torch_fidelity/defaults.py")
TF_ISC = ("torch-fidelity", "torch_fidelity/metric_isc.py")
TF_PRC = ("torch-fidelity", "torch_fidelity/metric_prc.py")
TF_INCEPTION = ("torch-fidelity", "torch_fidelity/feature_extractor_inceptionv3.py")
PYTORCH_FID = ("pytorch-fid", "pytorch_fid/inception.py")
CLEAN_RESIZE = ("clean-fid", "cleanfid/resize.py")
CLEAN_FID = ("clean-fid", "cleanfid/fid.py")
PRDC = ("prdc", "prdc/prdc.py")


def _src(where: tuple, line: str) -> Source:
    return Source(where[0], where[1], line)


_TF_COV = _src(("torch-fidelity", "torch_fidelity/metric_fid.py"), "sigma = np.cov(features, rowvar=False)")
_TF_RESIZE = _src(TF_INCEPTION, "x = interpolate_bilinear_2d_like_tensorflow1x(")
_TF_SPLITS = _src(TF_DEFAULTS, '"isc_splits": 10,')
_TF_SHUFFLE = _src(TF_ISC, "def isc_features_to_metric(feature, splits=10, shuffle=True, rng_seed=2020):")
_TF_KID = _src(TF_DEFAULTS, '"kid_subset_size": 1000,')
_PRDC_K = _src(("clovaai/generative-evaluation-prdc", "README.md"), "nearest_k = 5")
_PRDC_LT = _src(PRDC, "distance_real_fake.min(axis=1) <")
_CLEAN_KID = _src(CLEAN_FID, "m = min(min(feats1.shape[0], feats2.shape[0]), max_subset_size)")
_TORCH_FIDELITY = {
    "resize": _TF_RESIZE, "fid_ddof": _TF_COV, "is_splits": _TF_SPLITS, "is_shuffle": _TF_SHUFFLE, "kid_clamp": _TF_KID,
    "pr_k": _src(TF_DEFAULTS, '"prc_neighborhood": 3,'),
    "pr_strict": _src(TF_PRC, "precision = (dist_1_2 <= dist_nn_2).any(dim=1).float().mean().item()")}
_TORCH_FIDELITY["seed"] = _src(TF_DEFAULTS, '"rng_seed": 2020,')
_GENTOOLS = dict(_TORCH_FIDELITY, pr_k=_PRDC_K, pr_strict=_PRDC_LT)

PRESETS = {
    "gentools": Preset(backbone="inception", resize="tf", fid_ddof=1, is_splits=10, is_split_size=0,
                       is_shuffle=True, kid_clamp=False, pr_k=5, pr_strict=True, pr_float16=False,
                       pr_backbone="",
                       note="defaults: torch-fidelity's resize/IS/KID, prdc's PRDC (k=5, <)", sources=_GENTOOLS),
    "torch-fidelity": Preset(backbone="inception", resize="tf", fid_ddof=1, is_splits=10, is_split_size=0,
                             is_shuffle=True, kid_clamp=False, pr_k=3, pr_strict=False,
                             pr_float16=False, pr_backbone="",
                             note="isc_splits=10 shuffled (seed 2020), kid 100x1000, prc_neighborhood=3 with <=",
                             sources=_TORCH_FIDELITY),
    "pytorch-fid": Preset(backbone="inception", resize="pytorch-fid", fid_ddof=1, is_splits=10, is_split_size=0,
                          is_shuffle=True, kid_clamp=False, pr_k=5, pr_strict=True,
                          pr_float16=False, pr_backbone="",
                          note="FID only in pytorch-fid: torch bilinear resize; other metrics keep gentools defaults",
                          sources=dict(_GENTOOLS, resize=_src(PYTORCH_FID, "x = F.interpolate(x,"),
                               fid_ddof=_src(("pytorch-fid", "pytorch_fid/fid_score.py"),
                                             "sigma = np.cov(act, rowvar=False)"))),
    "clean-fid": Preset(backbone="inception", resize="clean", fid_ddof=1, is_splits=10, is_split_size=0,
                        is_shuffle=True, kid_clamp=True, pr_k=5, pr_strict=True, pr_float16=False,
                        pr_backbone="",
                        note="PIL bicubic resize; KID 100 subsets of min(n, 1000)",
                        sources=dict(_GENTOOLS, resize=_src(CLEAN_RESIZE, 'return make_resizer("PIL", False, "bicubic", (299,299))'),
                             fid_ddof=_src(CLEAN_FID, "sigma = np.cov(np_feats, rowvar=False)"), kid_clamp=_CLEAN_KID)),
    "adm": Preset(backbone="inception", resize="tf", fid_ddof=1, is_splits=10, is_split_size=5000,
                  is_shuffle=False, kid_clamp=False, pr_k=3, pr_strict=False, pr_float16=True,
                  pr_backbone="",
                  note="guided-diffusion evaluator: IS on pool3 . W^T (no fc bias) in chunks of 5000, no shuffle; "
                  "P&R k=3 with <= on float16 features; sFID from --spatial",
                  sources={"resize": _src(ADM, 'input_map={f"ExpandDims:0": input_batch},'),
                   "fid_ddof": _src(ADM, "sigma = np.cov(activations, rowvar=False)"),
                   "is_split_size": _src(ADM, "def compute_inception_score(self, activations: np.ndarray, "
                                              "split_size: int = 5000) -> float:"),
                   "is_shuffle": _src(ADM, "for i in range(0, len(preds), split_size):"),
                   "pr_k": _src(ADM, "nhood_sizes=(3,),"),
                   "pr_strict": _src(ADM, "self._batch_1_in = tf.math.reduce_any(dist32 <= self._radii2, axis=1)"),
                   "pr_float16": _src(ADM, "tf.cast(self._features_batch1, tf.float16),"),
                   "is_logits": _src(ADM, "logits = tf.matmul(input_batch, w)")}),
    "stylegan": Preset(backbone="inception", resize="tf", fid_ddof=0, is_splits=10, is_split_size=0,
                       is_shuffle=False, kid_clamp=True, pr_k=3, pr_strict=False, pr_float16=True,
                       pr_backbone="nvidia:vgg16",
                       note="stylegan2-ada: FID covariance ddof=0; IS 10 splits, no shuffle, no fc bias; "
                       "KID 100 x min(n, 1000); P&R k=3 <= on float16 VGG16 features (nvidia:vgg16.pt)",
                       sources={"resize": _src(SG_FID, "detector_url = 'https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch"
                                               "/pretrained/metrics/inception-2015-12-05.pt'"),
                        "fid_ddof": _src(SG_UTILS, "cov = self.raw_cov / self.num_items"),
                        "is_splits": _src(SG_MAIN, "mean, std = inception_score.compute_is(opts, num_gen=50000, "
                                                   "num_splits=10)"),
                        "is_shuffle": _src(SG_IS, "part = gen_probs[i * num_gen // num_splits : (i + 1) * num_gen "
                                                  "// num_splits]"),
                        "kid_clamp": _src(SG_KID, "m = min(min(real_features.shape[0], gen_features.shape[0]), "
                                                  "max_subset_size)"),
                        "pr_k": _src(SG_MAIN, "precision, recall = precision_recall.compute_pr(opts, max_real=200000, "
                                              "num_gen=50000, nhood_size=3, row_batch_size=10000, "
                                              "col_batch_size=10000)"),
                        "pr_strict": _src(SG_PR, "pred.append((dist <= kth).any(dim=1) if opts.rank == 0 else None)"),
                        "pr_float16": _src(SG_PR, "rel_lo=0, rel_hi=0, capture_all=True, max_items=max_real)"
                                                  ".get_all_torch().to(torch.float16).to(opts.device)"),
                        "pr_backbone": _src(SG_PR, "detector_url = 'https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-"
                                                   "pytorch/pretrained/metrics/vgg16.pt'"),
                        "is_logits": _src(SG_IS, "detector_kwargs = dict(no_output_bias=True)")}),
    "edm2": Preset(backbone="dinov2:vitl14", resize="torch", fid_ddof=1, is_splits=10, is_split_size=0,
                   is_shuffle=True, kid_clamp=False, pr_k=5, pr_strict=True, pr_float16=False,
                   pr_backbone="",
                   note="EDM2 FD_DINOv2: dinov2_vitl14, torch bicubic antialiased resize to 224; ddof=1; "
                   "reads EDM2 reference .pkl",
                   sources=dict(_GENTOOLS,
                        backbone=_src(EDM2, "self.model = torch.hub.load('facebookresearch/dinov2:main', "
                                            "'dinov2_vitl14', trust_repo=True, verbose=False, skip_validation=True)"),
                        resize=_src(EDM2, "x = torch.nn.functional.interpolate(x.to(torch.float32), size=(224, 224), "
                                          "mode='bicubic', antialias=True)"),
                        fid_ddof=_src(EDM2, "sigma = (all_reduce(s.cum_sigma) - mu.ger(mu) * r.num_images) / "
                                            "(r.num_images - 1)"))),
    "dgm-eval": Preset(backbone="dinov2:vitl14", resize="pil", fid_ddof=1, is_splits=10, is_split_size=0,
                       is_shuffle=True, kid_clamp=False, pr_k=5, pr_strict=True, pr_float16=False,
                       pr_backbone="",
                       note="dgm-eval FD_DINOv2 (EDM2 resize_mode='pil'): PIL bicubic resize to 224",
                       sources=dict(_GENTOOLS,
                            backbone=_src(EDM2, "self.model = torch.hub.load('facebookresearch/dinov2:main', "
                                                "'dinov2_vitl14', trust_repo=True, verbose=False, "
                                                "skip_validation=True)"),
                            resize=_src(EDM2, "x = np.stack([np.uint8(PIL.Image.fromarray(xx, 'RGB').resize((224, "
                                              "224), PIL.Image.Resampling.BICUBIC)) for xx in x])"))),
}
FADTK = ("microsoft/fadtk", "fadtk/fad.py")  # fadtk 1.1.0 from PyPI; the side venv checks every quoted line
FADTK_LOADER = ("microsoft/fadtk", "fadtk/model_loader.py")
FADTK_UTILS = ("microsoft/fadtk", "fadtk/utils.py")
PRESETS["fadtk"] = Preset(
    backbone="vggish", resize="", fid_ddof=1, is_splits=10, is_split_size=0, is_shuffle=True, kid_clamp=False,
    pr_k=5, pr_strict=True, pr_float16=False, pr_backbone="", frechet_route="fadtk", audio_pcm16=True,
    frames_float16=True,
    note="fadtk 1.1.0 FAD: VGGish frames stored as float16, audio through 16-bit PCM, online per-file statistics "
    "(ddof=1), eig route with eps fallback; FAD-inf 25 sizes from 500 with replacement",
    sources={"backbone": _src(FADTK_LOADER, "self.model = torch.hub.load('harritaylor/torchvggish', 'vggish')"),
             "fid_ddof": _src(FADTK_UTILS, "cov = S / (n - 1)  # compute the covariance matrix"),
             "frechet_route": _src(FADTK, "covmean = (V * scisqrt(D)) @ linalg.inv(V)"),
             "audio_pcm16": _src(FADTK, 'torchaudio.save(str(new), y, self.ml.sr, encoding="PCM_S", '
                                        'bits_per_sample=16)'),
             "frames_float16": _src(FADTK_LOADER, "embd = embd.astype(np.float16)")})
SGV_FVD = ("universome/stylegan-v", "src/metrics/frechet_video_distance.py")  # read at 3fecd69
SGV_UTILS = ("universome/stylegan-v", "src/metrics/metric_utils.py")
SGV_MAIN = ("universome/stylegan-v", "src/metrics/metric_main.py")
TATS_FVD = ("songweige/TATS", "tats/fvd/fvd.py")  # read at 03bbce1; the same code is cd-fvd's cdfvd/third_party/i3d


def _stylegan_v(frames: int, subsample: int, metric_line: str, note: str) -> Preset:
    return Preset(
        backbone="i3d", resize="", fid_ddof=0, is_splits=10, is_split_size=0, is_shuffle=True, kid_clamp=False,
        pr_k=5, pr_strict=True, pr_float16=False, pr_backbone="", frechet_route="sqrtm", video_frames=frames,
        video_subsample=subsample, fid_max_rows=2048, note=note,
        sources={"backbone": _src(SGV_FVD, "detector_kwargs = dict(rescale=True, resize=True, return_features=True) "
                                           "# Return raw features before the softmax layer."),
                 "fid_ddof": _src(SGV_UTILS, "cov = self.raw_cov / self.num_items"),
                 "frechet_route": _src(SGV_FVD, "s, _ = scipy.linalg.sqrtm(np.dot(sigma_gen, sigma_real), disp=False) "
                                                "# pylint: disable=no-member"),
                 "video_frames": _src(SGV_MAIN, metric_line), "video_subsample": _src(SGV_MAIN, metric_line),
                 "fid_max_rows": _src(SGV_MAIN, metric_line)})


_FVD_16 = "fvd = frechet_video_distance.compute_fvd(opts, max_real=2048, num_gen=2048, num_frames=16)"
PRESETS["stylegan-v"] = _stylegan_v(16, 1, _FVD_16, "StyleGAN-V fvd2048_16f: i3d_torchscript.pt on uint8 clips of 16 "
                                    "frames, covariance ddof=0, sqrtm(sigma_gen . sigma_real) with no eps, the first "
                                    "2048 clips of each side")
PRESETS["fvd2048_16f"] = _stylegan_v(16, 1, _FVD_16, "StyleGAN-V's fvd2048_16f (the stylegan-v preset)")
PRESETS["fvd2048_128f"] = _stylegan_v(
    128, 1, "fvd = frechet_video_distance.compute_fvd(opts, max_real=2048, num_gen=2048, num_frames=128)",
    "StyleGAN-V's fvd2048_128f: 128-frame clips")
PRESETS["fvd2048_128f_subsample8f"] = _stylegan_v(
    16, 8, "fvd = frechet_video_distance.compute_fvd(opts, max_real=2048, num_gen=2048, num_frames=16, "
           "subsample_factor=8)", "StyleGAN-V's fvd2048_128f_subsample8f: 16 frames, every 8th (128 covered)")
PRESETS["tats"] = Preset(
    backbone="i3d400", resize="", fid_ddof=1, is_splits=10, is_split_size=0, is_shuffle=True, kid_clamp=False,
    pr_k=5, pr_strict=True, pr_float16=False, pr_backbone="", frechet_route="svd",
    note="TATS / cd-fvd I3D FVD: i3d_pretrained_400.pt logits, frames bilinear to 224 and 2x/255-1, covariance "
    "ddof=1, trace sqrt product through SVD square roots (singular values under 1e-10 kept unrooted)",
    sources={"backbone": _src(TATS_FVD, "i3d.load_state_dict(torch.load(i3d_path, map_location=device))"),
             "fid_ddof": _src(TATS_FVD, "fact = 1.0 / (m.size(1) - 1) # unbiased estimate"),
             "frechet_route": _src(TATS_FVD, "si = torch.where(s < eps, s, torch.sqrt(s))")})
CDFVD = ("cd-fvd", "cdfvd/fvd.py")  # cd-fvd 0.1.1 from PyPI (the test extra): its quoted lines are checked there
PRESETS["cdfvd"] = Preset(
    backbone="videomae", resize="", fid_ddof=0, is_splits=10, is_split_size=0, is_shuffle=True, kid_clamp=False,
    pr_k=5, pr_strict=True, pr_float16=False, pr_backbone="", frechet_route="sqrtm",
    note="content-debiased-fvd with VideoMAE-v2 ViT-g: x/255, bilinear 224, no mean/std; FeatureStats ddof=0 and "
    "sqrtm with no eps; its n_fake=2048 default is the number of generated videos you extract",
    sources={"backbone": _src(CDFVD, "self.model = load_videomae_model(torch.device(device), ckpt_path)"
                                     ".eval().to(dtype=self.model_dtype)"),
             "fid_ddof": _src(("cd-fvd", "cdfvd/utils/metric_utils.py"), "cov = self.raw_cov / self.num_items"),
             "frechet_route": _src(CDFVD, "s, _ = scipy.linalg.sqrtm(np.dot(sigma_real, sigma_fake), disp=False)")})
MAUVE_CODE = ("mauve-text", "mauve/compute_mauve.py")  # mauve-text 0.4.0 (GPLv3: read, not used; the test extra)
MAUVE_UTILS = ("mauve-text", "mauve/utils.py")
PRESETS["mauve"] = Preset(
    backbone="hf-text:gpt2-large", resize="", fid_ddof=1, is_splits=10, is_split_size=0, is_shuffle=True,
    kid_clamp=False, pr_k=5, pr_strict=True, pr_float16=False, pr_backbone="", text_pooling="last-token",
    text_max_tokens=1024, seed=25,
    note="mauve-text 0.4.0: gpt2-large's last hidden state at the last real token, texts truncated to 1024 tokens; "
    "gentools mauve's defaults are compute_mauve's (auto buckets, 90% variance, faiss k-means, c 5, seed 25)",
    sources={"backbone": _src(MAUVE_CODE, "featurize_model_name='gpt2-large', device_id=-1, max_text_length=1024,"),
             "text_pooling": _src(MAUVE_UTILS, "h.append(hidden_state[sent_length - 1])"),
             "text_max_tokens": _src(MAUVE_CODE, "featurize_model_name='gpt2-large', device_id=-1, "
                                                 "max_text_length=1024,"),
             "seed": _src(MAUVE_CODE, "verbose=False, seed=25, batch_size=1, use_float64=False,")})
FBD_CODE = ("IAmS4n/TextGenerationEvaluationMetrics", "bert_distances.py")
PRESETS["fbd"] = Preset(
    backbone="hf-text:bert-base-uncased", resize="", fid_ddof=1, is_splits=10, is_split_size=0, is_shuffle=True,
    kid_clamp=False, pr_k=5, pr_strict=True, pr_float16=False, pr_backbone="", text_pooling="pooler",
    text_max_tokens=512,
    note="FBD (Montahaei et al. 2019): bert-base-uncased pooler_output per sentence, np.cov (ddof=1), the FID "
    "formula; gentools fid --preset fbd",
    sources={"backbone": _src(FBD_CODE, "def __init__(self, bert_model_dir, model_name='bert-base-uncased'):"),
             "text_pooling": _src(FBD_CODE, "pooler_output = self.model(input_ids)[1]"),
             "fid_ddof": _src(FBD_CODE, "sigma = np.cov(features, rowvar=False)")})
DEFAULT = PRESETS["gentools"]


def get(name: Optional[str]) -> Preset:
    """The preset ``name``; ``None`` gives gentools' own defaults."""
    if name is None:
        return DEFAULT
    if name not in PRESETS:
        raise UsageError(f"--preset {name}: expected one of {', '.join(PRESETS)}")
    return PRESETS[name]


def table() -> list[dict]:
    return [{"preset": name, **p.settings(), "note": p.note} for name, p in PRESETS.items()]


def sources() -> list[dict]:
    """One row per (preset, setting) that has a source: value, repo, path, line, url."""
    rows = []
    for name, preset in PRESETS.items():
        values = preset.settings()
        for setting, source in preset.sources.items():
            value = values.get(setting, "unbiased" if setting == "is_logits" else "")
            rows.append({"preset": name, "setting": setting, "value": value, "repo": source.repo,
                         "path": source.path, "line": source.line, "url": source.url})
    return rows
