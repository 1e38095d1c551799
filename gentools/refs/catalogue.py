"""The catalogue of published reference statistics: what each file is, where it is published, and by whom.

Every entry was read in the publishing tool's own source or README (with the
search tool's ``read_file``; the installed peers' lines are checked against
their installed source in ``tests/test_refs.py``). No source publishes a hash
for any of these files, so ``sha256`` is unknown throughout: the first pull
records the hash it saw in ``refs.lock`` (trust on first use) and every later
pull or file must match it. torchvision publishes md5 sums of the dataset
archives behind torch-fidelity's registered inputs; those are checked too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from gentools import presets
from gentools.presets import Source

# What each format holds (docs/references.md).
FORMATS = {
    "adm-npz": "guided-diffusion reference batch: mu, sigma, mu_s, sigma_s (sFID) and arr_0, 10,000 images",
    "edm2-pkl": "EDM2 statistics pickle: fid and fd_dinov2 {mu, sigma}, num_images (read without running it)",
    "clean-fid-npz": "clean-fid statistics: mu, sigma",
    "clean-fid-kid-npz": "clean-fid KID features: feats [N, 2048]",
    "dataset-archive": "the image dataset archive torch-fidelity computes its statistics from (torchvision's "
                       "download); no published statistics",
    "gentools": "gentools stats (and rows) files with a manifest (`gentools ref make`)",
    "file": "a file pulled by URL: any format gentools reads",
}
UNKNOWN = "unknown"


def file_name_of(url: str) -> str:
    """The last part of a URL's path, %-decoded (unchecked: :func:`gentools.refs.cache.check_file_name`)."""
    import urllib.parse

    return urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])


@dataclass(frozen=True)
class Entry:
    """One published reference: ``n`` images behind the statistics, ``rows`` per-row data shipped beside them."""

    name: str
    dataset: str
    split: str
    resolution: Optional[int]
    n: Optional[int]
    rows: Optional[int]
    preset: str           # the gentools preset whose backbone and resize made it
    format: str           # a key of FORMATS
    url: str
    source: Source        # where the URL is published (the quoted line names or builds it)
    listed: Optional[Source] = None  # where dataset, split and n are stated, when elsewhere
    size: Optional[int] = None
    sha256: Optional[str] = None
    md5: Optional[str] = None
    resize: str = ""      # when it differs from the preset's own

    def record(self) -> dict:
        """The entry as JSON-ready fields (``ref list --json``), unknowns spelt ``"unknown"``."""
        sources = [self.source] + ([self.listed] if self.listed else [])
        return {"name": self.name, "dataset": self.dataset, "split": self.split,
                "resolution": self.resolution or UNKNOWN, "n": self.n or UNKNOWN, "rows": self.rows or 0,
                "preset": self.preset, "backbone": self.backbone, "resize": self.resize_mode, "format": self.format, "url": self.url,
                "size": self.size or UNKNOWN, "sha256": self.sha256 or UNKNOWN, "md5": self.md5 or "",
                "sources": [{"repo": s.repo, "path": s.path, "line": s.line, "url": s.url} for s in sources]}

    @property
    def backbone(self) -> str:
        return presets.get(self.preset).backbone

    @property
    def resize_mode(self) -> str:
        return self.resize or presets.get(self.preset).resize


_ADM_README = ("openai/guided-diffusion", "evaluations/README.md")
_ADM_ROWS = Source(*_ADM_README, "Reference dataset batches contain pre-computed statistics over the whole dataset, "
                                 "as well as 10,000 images for computing Precision and Recall.")
_ADM_BASE = "https://openaipublic.blob.core.windows.net/diffusion/jul-2021/ref_batches/"
# (name, dataset, resolution, path under _ADM_BASE, the README's list item)
_ADM = (
    ("lsun-bedroom256", "LSUN bedroom", 256, "lsun/bedroom/VIRTUAL_lsun_bedroom256.npz", "   * LSUN bedroom: "),
    ("lsun-cat256", "LSUN cat", 256, "lsun/cat/VIRTUAL_lsun_cat256.npz", "   * LSUN cat: "),
    ("lsun-horse256", "LSUN horse", 256, "lsun/horse/VIRTUAL_lsun_horse256.npz", "   * LSUN horse: "),
    ("imagenet64", "ImageNet", 64, "imagenet/64/VIRTUAL_imagenet64_labeled.npz", "   * ImageNet 64x64: "),
    ("imagenet128", "ImageNet", 128, "imagenet/128/VIRTUAL_imagenet128_labeled.npz", "   * ImageNet 128x128: "),
    ("imagenet256", "ImageNet", 256, "imagenet/256/VIRTUAL_imagenet256_labeled.npz", "   * ImageNet 256x256: "),
    ("imagenet512", "ImageNet", 512, "imagenet/512/VIRTUAL_imagenet512.npz", "   * ImageNet 512x512: "),
)

_EDM2_README = ("NVlabs/edm2", "README.md")

# clean-fid builds each URL from its naming scheme (cleanfid/features.py, get_reference_statistics).
_CLEAN_FEATURES = ("clean-fid", "cleanfid/features.py")
_CLEAN_BASE = "https://www.cs.cmu.edu/~clean-fid/stats/"
_CLEAN_URL = Source(*_CLEAN_FEATURES, 'rel_path = (f"{name}_{mode}{model_modifier}_{split}_{res}.npz").lower()')
_CLEAN_KID_URL = Source(*_CLEAN_FEATURES, 'rel_path = (f"{name}_{mode}{model_modifier}_{split}_{res}_kid.npz").lower()')
_CLEAN_README = ("GaParmar/clean-fid", "README.md")
_CLEAN_MODES = (("clean", "clean-fid", ""), ("legacy_tensorflow", "torch-fidelity", ""),
                ("legacy_pytorch", "pytorch-fid", ""))
_MODES = "|`clean`, `legacy_tensorflow`, `legacy_pytorch`|"
# (dataset, resolutions, split, n, the README's table row up to the modes column); README: "Supported Precomputed
# Datasets". KID features exist only for the few-shot sets: "The dataset statistics for KID are only precomputed
# for smaller datasets `AFHQ`, `BreCaHAD`, and `MetFaces`."
_CLEAN = (
    ("cifar10", (32,), "train", 50000, "| Image Generation | [`cifar10`](https://www.cs.toronto.edu/~kriz/cifar.html)"
                                       "     | 32         | `train`        |  50,000       "),
    ("cifar10", (32,), "test", 10000, "| Image Generation | [`cifar10`](https://www.cs.toronto.edu/~kriz/cifar.html)"
                                      "     | 32         | `test`         |  10,000       "),
    ("ffhq", (1024, 256), "trainval", 50000, "| Image Generation | [`ffhq`](https://github.com/NVlabs/ffhq-dataset)"
                                             "        | 1024, 256  | `trainval`     |  50,000       "),
    ("ffhq", (1024, 256), "trainval70k", 70000, "| Image Generation | [`ffhq`](https://github.com/NVlabs/"
                                                "ffhq-dataset)        | 1024, 256  | `trainval70k`  |  70,000       "),
    ("lsun_church", (256,), "train", 50000, "| Image Generation | [`lsun_church`](https://www.yf.io/p/lsun/) | 256"
                                            "        | `train`        |  50,000       "),
    ("lsun_horse", (256,), "train", 50000, "| Image Generation | [`lsun_horse`](https://www.yf.io/p/lsun/)  | 256"
                                           "        | `train`        |  50,000       "),
    ("lsun_cat", (256,), "train", 50000, "| Image Generation | [`lsun_cat`](https://www.yf.io/p/lsun/)    | 256"
                                         "        | `train`        |  50,000       "),
    ("lsun_cat", (256,), "trainfull", 1657264, "| Image Generation | [`lsun_cat`](https://www.yf.io/p/lsun/)    "
                                               "| 256        | `trainfull`    |  1,657,264    "),
    ("afhq_cat", (512,), "train", 5153, "| Few Shot Generation | [`afhq_cat`](https://github.com/clovaai/stargan-v2/)"
                                        "  | 512        | `train`       |  5153         "),
    ("afhq_dog", (512,), "train", 4739, "| Few Shot Generation | [`afhq_dog`](https://github.com/clovaai/stargan-v2/)"
                                        "  | 512        | `train`       |  4739         "),
    ("afhq_wild", (512,), "train", 4738, "| Few Shot Generation | [`afhq_wild`](https://github.com/clovaai/"
                                         "stargan-v2/) | 512        | `train`       |  4738         "),
    ("brecahad", (512,), "train", 1944, "| Few Shot Generation | [`brecahad`](https://figshare.com/articles/dataset/"
                                        "BreCaHAD_A_Dataset_for_Breast_Cancer_Histopathological_Annotation_and_"
                                        "Diagnosis/7379186)  | 512        | `train`       |  1944         "),
    ("metfaces", (1024,), "train", 1336, "| Few Shot Generation | [`metfaces`](https://github.com/NVlabs/"
                                         "metfaces-dataset)  | 1024       | `train`       |  1336         "),
    ("horse2zebra", (256,), "test", 140, "| Image to Image   | `horse2zebra`  | 256        | `test`        |  140"
                                         "          "),
    ("cat2dog", (256,), "test", 500, "| Image to Image   | `cat2dog`      | 256        | `test`        |  500"
                                     "          "),
)
_CLEAN_KID = ("afhq_cat", "afhq_dog", "afhq_wild", "brecahad", "metfaces")

# torch-fidelity's registered inputs (torch_fidelity/registry.py) are torchvision datasets it downloads and
# computes statistics from; torchvision publishes each archive's URL and md5.
_TF_REGISTRY = ("torch-fidelity", "torch_fidelity/registry.py")
_TV_CIFAR = ("torchvision", "torchvision/datasets/cifar.py")
_TV_STL = ("torchvision", "torchvision/datasets/stl10.py")
_TF_INPUTS = (
    ("cifar10-train", "CIFAR-10", "train", 32, "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
     "c58f30108f718f92721af3b95e74349a", _TV_CIFAR),
    ("cifar10-val", "CIFAR-10", "test", 32, "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
     "c58f30108f718f92721af3b95e74349a", _TV_CIFAR),
    ("cifar100-train", "CIFAR-100", "train", 32, "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
     "eb9058c3a382ffc7106e4002c42a8d85", _TV_CIFAR),
    ("cifar100-val", "CIFAR-100", "test", 32, "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
     "eb9058c3a382ffc7106e4002c42a8d85", _TV_CIFAR),
    ("stl10-train", "STL-10", "train", 96, "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
     "91f7769df0f17e558f3565bffb0c7dfb", _TV_STL),
    ("stl10-test", "STL-10", "test", 96, "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
     "91f7769df0f17e558f3565bffb0c7dfb", _TV_STL),
    ("stl10-unlabeled", "STL-10", "unlabeled", 96, "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz",
     "91f7769df0f17e558f3565bffb0c7dfb", _TV_STL),
)


def _entries() -> dict:
    entries = []
    for name, dataset, resolution, path, item in _ADM:
        url = _ADM_BASE + path
        entries.append(Entry(f"adm/{name}", dataset, "all (statistics); 10,000 images", resolution, None, 10000,
                             "adm", "adm-npz", url, Source(*_ADM_README, f"{item}[reference batch]({url})"),
                             _ADM_ROWS))
    entries.append(Entry(
        "edm2/img512", "ImageNet", "train", 512, None, None, "edm2", "edm2-pkl",
        "https://nvlabs-fi-cdn.nvidia.com/edm2/dataset-refs/img512.pkl",
        Source(*_EDM2_README, "    --ref=https://nvlabs-fi-cdn.nvidia.com/edm2/dataset-refs/img512.pkl"),
        Source(*_EDM2_README, "python dataset_tool.py convert --source=downloads/imagenet/ILSVRC/Data/CLS-LOC/train \\")))
    for dataset, resolutions, split, n, row in _CLEAN:
        listed = Source(*_CLEAN_README, row + _MODES)
        for res in resolutions:
            for mode, preset, resize in _CLEAN_MODES:
                stem = f"{dataset}_{mode}_{split}_{res}".lower()
                # clean-fid joins with f"{base_url}/{rel_path}" and base_url ends in '/': the '//' is its request.
                entries.append(Entry(f"clean-fid/{dataset}-{split}-{res}-{mode}", dataset, split, res, n, None,
                                     preset, "clean-fid-npz", f"{_CLEAN_BASE}/{stem}.npz", _CLEAN_URL, listed,
                                     resize=resize))
                if dataset in _CLEAN_KID:
                    entries.append(Entry(f"clean-fid/{dataset}-{split}-{res}-{mode}-kid", dataset, split, res, n, n,
                                         preset, "clean-fid-kid-npz", f"{_CLEAN_BASE}/{stem}_kid.npz",
                                         _CLEAN_KID_URL, listed, resize=resize))
    for name, dataset, split, res, url, md5, where in _TF_INPUTS:
        entries.append(Entry(f"torch-fidelity/{name}", dataset, split, res, None, None, "torch-fidelity",
                             "dataset-archive", url, Source(*where, f'url = "{url}"'),
                             Source(*_TF_REGISTRY, f'"{name}",'), md5=md5))
    return {entry.name: entry for entry in entries}


CATALOGUE = _entries()


def get(name: str) -> Optional[Entry]:
    return CATALOGUE.get(name)


def table() -> list:
    return [entry.record() for entry in CATALOGUE.values()]
