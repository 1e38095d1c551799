"""How gentools runs the feature networks it builds itself: an AOTInductor package from the on-disk cache, or eager.

``benchmarks/bench_runtime.py`` compared, on the FID Inception (2-core CPU,
batch 50): frozen TorchScript (deprecated), ``torch.compile``, an AOTInductor
package (``torch._inductor.aoti_compile_and_package``) and eager channels-last.
The package is the fastest whose set-up fits in a second once built, so it is
the CPU default; docs/extract.md has the table.

- **CPU**: the module (BatchNorm folded into the convolutions, channels-last)
  is exported with a dynamic batch dimension and compiled once into
  ``$GENTOOLS_CACHE/compiled/`` (default ``~/.cache/gentools/compiled``). The
  entry's name is a hash of what makes the compiled code valid: the weights'
  sha256, the torch version, the device and CPU ISA, the backbone spec and
  resize mode, the input shape and the source files of the module's classes. A JSON record beside it holds those fields and
  the package's sha256; the package is loaded only when both match, so a stale
  or cut entry is rebuilt (with a notice), never trusted. Writes go through a
  temporary file and ``os.replace``.
- **The cache holds native code**, which runs when it is loaded. So a record is
  signed (HMAC-SHA256) with a key only this user can read
  (``$XDG_CONFIG_HOME/gentools/cache.key``, default ``~/.config/gentools/``,
  made 0600 on first use): a package whose record was written without that key
  is rebuilt with a notice, whoever recomputed its sha256. A cache folder that
  other users can write (or a key file they can read) is refused for compiled
  code: the network then runs eagerly, with one warning.
- ``GENTOOLS_CACHE=off`` writes and reads nothing: the network runs eagerly
  (BatchNorm folded, channels-last, same numbers to ~1e-7), as building a
  package that is thrown away costs a minute per run. ``GENTOOLS_RUNTIME=eager``
  chooses eager with the cache on; a failed compile (no C++ compiler, say)
  warns once and runs eagerly.
- **When to compile** (``extract --compile auto``, the default): building the package took 66 s on the
  2-core CPU of ``benchmarks/bench_runtime.py``, and saves 0.023 s an image (8.71 against 7.28 img/s), so it
  repays itself from about :data:`REPAYS_AT` inputs. A job of fewer runs eagerly (one notice), unless the
  cache already holds the package; ``always`` builds it anyway, ``never`` never loads compiled code. A job
  of unknown size (the Evaluator) compiles: it is run again and again.
- **CUDA**: eager, channels-last (not measured against the others here: no GPU).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import hmac
import json
import logging
import os
import platform
import secrets
import stat
import tempfile
import time
from pathlib import Path
from typing import Callable, Optional, Sequence, Tuple

import torch

from gentools.errors import warn
from gentools.features.weights import sha256_of
from gentools.files import atomic_path, cache_root, read_regular

MAX_RECORD_BYTES = 1 << 20
STALE_TEMPORARY_SECONDS = 3600  # a build's temporary package older than this was left by a killed build

FORMAT = 1  # of the cache entry; bumping it retires every entry
RUNTIMES = ("aoti", "eager")
COMPILE_MODES = ("auto", "always", "never")
REPAYS_AT = 3000  # inputs: 66 s of building / (1/7.28 - 1/8.71) s saved an image (bench_runtime.py, 2 cores)
_POLICY: contextvars.ContextVar = contextvars.ContextVar("gentools_compile", default=("auto", None))


@contextlib.contextmanager
def policy(mode: str, inputs: Optional[int]):
    """Within the block, :func:`prepare` compiles as ``mode`` says (``auto``: only a job of at least
    :data:`REPAYS_AT` ``inputs``, or one whose package is cached; ``None``: size unknown, compile)."""
    from gentools.errors import UsageError

    if mode not in COMPILE_MODES:
        raise UsageError(f"--compile {mode}: expected one of {', '.join(COMPILE_MODES)}")
    token = _POLICY.set((mode, inputs))
    try:
        yield
    finally:
        _POLICY.reset(token)


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
    mode, inputs = _POLICY.get()
    if runtime == "aoti" and mode != "never":
        if code_files is None:
            module = _built(module)
            code_files = _classes_files(module)
        fields = entry_fields(device, input_shape, dict(key, code=code_sha256(code_files)))
        entry = cache_root() / "compiled" / f"{_safe_name(key.get('backbone', 'net'))}-{_digest(fields)[:32]}"
        trusted_key = _trusted_cache(entry.parent)
        loaded = None
        if trusted_key is not None:
            loaded = _load_entry(entry, fields, trusted_key)
            if loaded is None and mode == "auto" and inputs is not None and inputs < REPAYS_AT:
                _notice(f"running the {key.get('backbone', 'feature')} network eagerly: {inputs} inputs do not repay "
                        f"compiling it for this CPU (about a minute; from about {REPAYS_AT} they do); --compile "
                        f"always compiles it")
            elif loaded is None:
                loaded = _build_entry(_ready(_built(module), device), entry, fields, input_shape, trusted_key)
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

    warn(message, GentoolsNotice)


def key_path() -> Path:
    """Where the user's key for signing compiled-cache records lives: ``$XDG_CONFIG_HOME/gentools/cache.key``."""
    config = os.environ.get("XDG_CONFIG_HOME", "").strip()
    return (Path(config).expanduser() if config else Path.home() / ".config") / "gentools" / "cache.key"


def signing_key() -> bytes:
    """The user's record-signing key (32 random bytes, hex in :func:`key_path`), made 0600 on first use; an
    ``OSError`` saying why when it is not a regular file of this user that only this user can read."""
    path = key_path()
    with contextlib.suppress(FileExistsError):
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    text = read_regular(path, 256, follow=False)
    info = path.stat()
    if info.st_uid != os.geteuid() or info.st_mode & 0o077:
        raise PermissionError(f"{path}: other users can read it or it is not yours (chmod 600 it, or remove it)")
    key = bytes.fromhex(text.decode("ascii", "replace").strip()) if len(text.strip()) == 64 else b""
    if len(key) != 32:
        raise ValueError(f"{path}: not a gentools cache key (remove it to make a new one)")
    return key


def _trusted_cache(folder: Path) -> Optional[bytes]:
    """The signing key when compiled code may be run from ``folder`` (and its parent): each is the user's (or
    root's) and no other user can write it; else ``None`` after one warning (the network then runs eagerly)."""
    try:
        for place in (folder, folder.parent):
            if not place.exists():
                continue
            info = place.stat()
            if info.st_uid not in (os.geteuid(), 0) or info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
                raise PermissionError(f"{place}: other users can write it, and the cache holds native code that "
                                      f"runs when loaded (chmod go-w it, or GENTOOLS_CACHE=DIR of your own)")
        return signing_key()
    except (OSError, ValueError) as exc:
        warn(f"compiled networks are not run from this cache: {exc}; running the network eagerly")
        return None


def _signature(record: dict, key: bytes) -> str:
    unsigned = {k: v for k, v in record.items() if k != "hmac"}
    return hmac.new(key, json.dumps(unsigned, sort_keys=True).encode(), hashlib.sha256).hexdigest()


def _load_entry(entry: Path, fields: dict, key: bytes):
    """The cached package when its record is signed with ``key``, matches ``fields`` and its bytes hash to the
    recorded sha256, else ``None`` (a present but bad entry is removed, with a notice)."""
    record_path = entry.with_suffix(".json")
    if not os.path.lexists(record_path):
        return None
    package = record_path
    try:
        record = json.loads(read_regular(record_path, MAX_RECORD_BYTES, follow=False))
        if not isinstance(record, dict):
            raise ValueError("its record is not a JSON object")
        if not hmac.compare_digest(str(record.get("hmac", "")), _signature(record, key)):
            raise ValueError(f"its record is not signed with this user's key ({key_path()})")
        name = Path(str(record.get("package", ""))).name
        if not name.startswith(f"{entry.name}-") or not name.endswith(".pt2"):
            raise ValueError("its record names no package of its own")
        package = entry.parent / name
        if record.get("fields") != fields:
            raise ValueError("it was built for another torch, CPU or network")
        if os.path.islink(package):
            raise ValueError("its package is a symbolic link")
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


def _build_entry(module: torch.nn.Module, entry: Path, fields: dict, input_shape, key: bytes):
    """Export ``module`` with a dynamic batch, compile it with AOTInductor (weights frozen into the package),
    write package and signed record atomically, and load it; ``None`` (after one warning) if compiling fails."""
    import importlib

    inductor = importlib.import_module("torch._inductor")  # only a build needs it (1.9 s to import)

    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(entry)
        handle, temporary = tempfile.mkstemp(prefix=f".{entry.name}.", suffix=".pt2", dir=entry.parent)
        os.close(handle)
    except OSError as exc:
        warn(f"{entry.parent}: cannot write the compiled-network cache ({exc.strerror or exc}); running "
             f"the network eagerly (GENTOOLS_CACHE=DIR elsewhere, or off)")
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
        record["hmac"] = _signature(record, key)
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would keep a shared cache from its other users
        os.replace(temporary, package)
        with atomic_path(str(entry.with_suffix(".json"))) as staged:
            Path(staged).write_text(json.dumps(record, indent=1, sort_keys=True))
        for old in entry.parent.glob(f"{entry.name}-*.pt2"):  # an earlier build's package, now unreferenced
            if old != package:
                old.unlink(missing_ok=True)
        return Package(package)
    except Exception as exc:  # noqa: BLE001 - a missing compiler, an unexportable module, a full disk
        warn(f"the network could not be compiled ({str(exc).strip().splitlines()[0][:200]}); running it "
             f"eagerly: same numbers, slower on CPU")
        return None
    finally:
        Path(temporary).unlink(missing_ok=True)
        _stop_compile_workers()


def _remove_stale_temporaries(entry: Path) -> None:
    """Temporary packages of ``entry`` that a killed build left behind (older than an hour: a build that is
    still running elsewhere is minutes old)."""
    for temporary in entry.parent.glob(f".{entry.name}.*.pt2"):
        with contextlib.suppress(OSError):
            if time.time() - temporary.lstat().st_mtime > STALE_TEMPORARY_SECONDS:
                temporary.unlink()


def _stop_compile_workers() -> None:
    """Inductor compiles in a pool of worker processes that would outlive the build: stopped, so the caller's
    process is left with no children it did not start."""
    from torch._inductor import async_compile

    stop = getattr(async_compile, "shutdown_compile_workers", None)
    if stop is not None:
        stop()
