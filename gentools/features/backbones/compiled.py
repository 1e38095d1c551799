"""How gentools runs the feature networks it builds itself: an AOTInductor package from the on-disk cache, or eager.

``benchmarks/bench_runtime.py`` compared, on the FID Inception (2-core CPU,
batch 50): frozen TorchScript (deprecated), ``torch.compile``, an AOTInductor
package (``torch._inductor.aoti_compile_and_package``) and eager channels-last.
The package is the fastest whose set-up fits in a second once built, so it is
the CPU default; the README has the table.

- **CPU**: the module (BatchNorm folded into the convolutions, channels-last)
  is exported with a dynamic batch dimension and compiled once into
  ``$GENTOOLS_CACHE/compiled/`` (default ``~/.cache/gentools/compiled``). The
  entry's name is a hash of what makes the compiled code valid: the weights'
  sha256, the torch version, the device and CPU ISA, the backbone spec and
  resize mode, the input shape and the source files of the module's classes. A JSON record beside it holds those fields and
  the package's sha256; the package is loaded only when both match, so a stale
  or cut entry is rebuilt (with a notice), never trusted. Writes go through a
  temporary file and ``os.replace``.
- ``GENTOOLS_CACHE=off`` writes and reads nothing: the network runs eagerly
  (BatchNorm folded, channels-last, same numbers to ~1e-7), as building a
  package that is thrown away costs a minute per run. ``GENTOOLS_RUNTIME=eager``
  chooses eager with the cache on; a failed compile (no C++ compiler, say)
  warns once and runs eagerly.
- **CUDA**: eager, channels-last (not measured against the others here: no GPU).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import platform
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

import torch

from gentools.features.weights import sha256_of
from gentools.store import atomic_path
from gentools.files import cache_root

FORMAT = 1  # of the cache entry; bumping it retires every entry
RUNTIMES = ("aoti", "eager")


def chosen_runtime(device: torch.device) -> str:
    """``aoti`` on CPU with the cache on, else ``eager``; ``GENTOOLS_RUNTIME`` overrides (``eager``, ``aoti``)."""
    from gentools.errors import UsageError

    wanted = os.environ.get("GENTOOLS_RUNTIME", "").strip().lower()
    if wanted and wanted not in RUNTIMES:
        raise UsageError(f"GENTOOLS_RUNTIME={wanted}: expected one of {', '.join(RUNTIMES)}")
    if device.type != "cpu" or cache_root() is None:
        return "eager"
    return wanted or "aoti"


def fold_batch_norm(module: torch.nn.Module) -> torch.nn.Module:
    """Fold each conv → BatchNorm pair of torchvision's ``BasicConv2d`` (Inception's unit) into one convolution,
    in place (eval-mode BatchNorm is an affine map: ``W' = W·γ/σ``, ``b' = (b − μ)·γ/σ + β``)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval
    from torchvision.models.inception import BasicConv2d

    for unit in module.modules():
        if isinstance(unit, BasicConv2d) and isinstance(unit.bn, torch.nn.BatchNorm2d):
            unit.conv = fuse_conv_bn_eval(unit.conv, unit.bn)
            unit.bn = torch.nn.Identity()
    return module


def prepare(module, device: torch.device, input_shape: Tuple[int, ...], key: dict,
            code_files: Optional[Sequence[str]] = None) -> Tuple[Callable, str]:
    """The network ready for inference on ``device``, and the runtime's name for the provenance (``aoti`` or
    ``eager``).

    ``module``: the ``nn.Module``, or a function building it, called only when no cached package serves
    (a warm start then skips loading the weights into Python modules). ``input_shape``: one input without
    the batch, ``(3, 299, 299)``. ``key``: what else the compiled code depends on (``weights_sha256``,
    ``backbone``, ``resize``). ``code_files``: the source files that define the network (default: those of
    the module's classes, which needs the module built)."""
    runtime = chosen_runtime(device)
    if runtime == "aoti":
        if code_files is None:
            module = _built(module)
            code_files = _classes_files(module)
        fields = entry_fields(device, input_shape, dict(key, code=code_sha256(code_files)))
        entry = cache_root() / "compiled" / f"{_safe_name(key.get('backbone', 'net'))}-{_digest(fields)[:32]}"
        loaded = _load_entry(entry, fields)
        if loaded is None:
            loaded = _build_entry(_ready(_built(module), device), entry, fields, input_shape)
        if loaded is not None:
            return loaded, "aoti"
    return _ready(_built(module), device), "eager"


def _built(module) -> torch.nn.Module:
    return module if isinstance(module, torch.nn.Module) else module()


def _ready(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Eval mode, no gradients, BatchNorm folded, channels-last, on ``device`` (in place; idempotent)."""
    return fold_batch_norm(module.eval().requires_grad_(False)).to(device).to(memory_format=torch.channels_last)


class Package:
    """An AOTInductor package, called like the module: ``package(x)`` with ``x`` ``[B, *input_shape]``.

    Loaded with torch's C++ loader (``torch._C._aoti.AOTIModelPackageLoader``, what ``aoti_load_package``
    wraps) so that a warm start does not import ``torch._inductor`` (1.9 s here); ``aoti_load_package`` where
    this torch lacks it."""

    def __init__(self, path: Path):
        from torch.utils import _pytree

        loader_class = getattr(getattr(torch._C, "_aoti", None), "AOTIModelPackageLoader", None)
        if loader_class is None:
            import importlib

            self._model = importlib.import_module("torch._inductor").aoti_load_package(str(path))
            return
        self._model = None
        self._loader = loader_class(str(path), "model", False, 1, -1)
        self._outputs = _pytree.treespec_loads(self._loader.get_call_spec()[1])
        self._unflatten = _pytree.tree_unflatten

    def __call__(self, x: torch.Tensor):
        x = x.contiguous(memory_format=torch.channels_last)  # the layout it was compiled for
        if self._model is not None:
            return self._model(x)
        return self._unflatten(self._loader.boxed_run([x]), self._outputs)


def entry_fields(device: torch.device, input_shape, key: dict) -> dict:
    """What a compiled entry is valid for (its name is their hash)."""
    return {"format": FORMAT, "torch": torch.__version__, "device": device.type, "machine": platform.machine(),
            "isa": torch.backends.cpu.get_cpu_capability(), "input_shape": list(input_shape),
            **{name: str(value) for name, value in sorted(key.items())}}


def code_sha256(files: Sequence[str]) -> str:
    """sha256 of source files (names and bytes): an edited ``forward`` is another entry."""
    digest = hashlib.sha256()
    for name in sorted(set(files)):
        digest.update(name.encode())
        if name and os.path.isfile(name):
            digest.update(Path(name).read_bytes())
    return digest.hexdigest()


def _classes_files(module: torch.nn.Module) -> list:
    """The source files of the classes in ``module`` (a class defined without a file: its name)."""
    import inspect

    files = []
    for unit in module.modules():
        try:
            files.append(inspect.getsourcefile(type(unit)) or type(unit).__qualname__)
        except TypeError:
            files.append(type(unit).__qualname__)
    return files


def _digest(fields: dict) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _safe_name(spec: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in spec)[:40] or "net"


def _notice(message: str) -> None:
    from gentools.errors import GentoolsNotice

    warnings.warn(message, GentoolsNotice, stacklevel=4)


def _load_entry(entry: Path, fields: dict):
    """The cached package when its record matches ``fields`` and its bytes hash to the recorded sha256, else
    ``None`` (a present but bad entry is removed, with a notice)."""
    record_path = entry.with_suffix(".json")
    if not record_path.exists():
        return None
    package = record_path
    try:
        record = json.loads(record_path.read_text())
        name = Path(str(record.get("package", ""))).name
        if not name.startswith(f"{entry.name}-") or not name.endswith(".pt2"):
            raise ValueError("its record names no package of its own")
        package = entry.parent / name
        if record.get("fields") != fields:
            raise ValueError("it was built for another torch, CPU or network")
        if record.get("size") != package.stat().st_size or record.get("sha256") != sha256_of(package):
            raise ValueError("its bytes do not match its record (cut or changed)")
        return Package(package)
    except Exception as exc:  # noqa: BLE001 - any flaw means rebuild, never trust
        _notice(f"{package}: cached compiled network is unusable ({str(exc).splitlines()[0][:160]}); rebuilding it")
        for path in {package, record_path}:
            with contextlib.suppress(OSError):  # a read-only shared cache: rebuilt in memory, left as it is
                path.unlink(missing_ok=True)
        return None


@contextlib.contextmanager
def _quiet_torch_logs():
    """torch's C++-extension and inductor loggers held at ERROR for the block ("No CUDA runtime is found" on a
    machine with a CUDA toolkit and no GPU is not news to a user), restored after."""
    loggers = [logging.getLogger(name) for name in ("torch.utils.cpp_extension", "torch._inductor", "torch._export",
                                                     "torch.export", "torch._dynamo")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(max(logger.getEffectiveLevel(), logging.ERROR))
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _build_entry(module: torch.nn.Module, entry: Path, fields: dict, input_shape):
    """Export ``module`` with a dynamic batch, compile it with AOTInductor (weights frozen into the package),
    write package and record atomically, and load it; ``None`` (after one warning) if compiling fails."""
    import importlib

    from gentools.errors import GentoolsWarning

    inductor = importlib.import_module("torch._inductor")  # only a build needs it (1.9 s to import)

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".pt2", dir=entry.parent)
        os.close(handle)
    except OSError as exc:
        warnings.warn(f"{entry.parent}: cannot write the compiled-network cache ({exc.strerror or exc}); running "
                      f"the network eagerly (GENTOOLS_CACHE=DIR elsewhere, or off)", GentoolsWarning, stacklevel=3)
        return None
    _notice(f"compiling the {fields.get('backbone', 'feature')} network for this CPU, once (a minute or two); "
            f"cached in {entry.parent}/")
    try:
        example = torch.zeros((2, *input_shape)).contiguous(memory_format=torch.channels_last)
        batch = torch.export.Dim("batch", min=1, max=1 << 16)
        with torch.inference_mode(False), torch.no_grad(), _quiet_torch_logs():
            program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
            inductor.aoti_compile_and_package(program, package_path=temporary,
                                                     inductor_configs={"freezing": True})
        sha256 = sha256_of(Path(temporary))
        package = entry.parent / f"{entry.name}-{sha256[:16]}.pt2"  # named by content: the record is the commit
        record = {"fields": fields, "package": package.name, "size": os.path.getsize(temporary), "sha256": sha256}
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep a shared cache from its other users
        os.replace(temporary, package)
        with atomic_path(str(entry.with_suffix(".json"))) as staged:
            Path(staged).write_text(json.dumps(record, indent=1, sort_keys=True))
        for old in entry.parent.glob(f"{entry.name}-*.pt2"):  # an earlier build's package, now unreferenced
            if old != package:
                old.unlink(missing_ok=True)
        return Package(package)
    except Exception as exc:  # noqa: BLE001 - a missing compiler, an unexportable module, a full disk
        warnings.warn(f"the network could not be compiled ({str(exc).strip().splitlines()[0][:200]}); running it "
                      f"eagerly: same numbers, slower on CPU", GentoolsWarning, stacklevel=3)
        return None
    finally:
        Path(temporary).unlink(missing_ok=True)
        _stop_compile_workers()


def _stop_compile_workers() -> None:
    """Inductor compiles in a pool of worker processes that would outlive the build: stopped, so the caller's
    process is left with no children it did not start."""
    from torch._inductor import async_compile

    stop = getattr(async_compile, "shutdown_compile_workers", None)
    if stop is not None:
        stop()
