"""Model files a user hands gentools (``--generator``, ``pt2:`` / ``ts:`` backbones, ``interp``), told apart by content.

- **Exported programs** (``torch.export.save``, ``.pt2``): loaded with
  ``torch.export.load`` and run through ``ExportedProgram.module()``. The
  archive is checked first (:mod:`gentools.features.pt2_archive`), because
  torch's loader unpickles any payload the archive marks as pickled, custom or
  opaque, and falls back to a full unpickle when a sample input is not plain
  tensors: gentools refuses all of them, legacy ``.pt`` weights, AOTInductor
  packages (native code) and archives larger than the memory budget before
  torch sees the file; torch's own log lines are kept from the caller's stderr.
- **TorchScript** (``torch.jit.save``): still loaded, as NVIDIA's detectors and
  older files are TorchScript, with one :class:`~gentools.errors.GentoolsNotice`
  suggesting ``.pt2``; torch's deprecation warning is kept from the caller.

The attributes gentools reads from a module (``latent_dim`` of a generator,
``input_size`` and ``layer`` of a feature network) come, for an exported
program, from its first input's static shape: ``[B, latent_dim]`` and
``[B, 3, S, S]``. The batch dimension must be dynamic.
"""

from __future__ import annotations

import contextlib
import posixpath
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from gentools.errors import GentoolsNotice, InputError, warn
from gentools.features import pt2_archive
from gentools.text import escape

EXPORT_HINT = ("torch.export.save(torch.export.export(model.eval(), (example,), "
               "dynamic_shapes=({0: torch.export.Dim('batch')},)), 'model.pt2')")


@dataclass
class ModelFile:
    """A loaded model file: the callable ``module`` on its device, its ``kind`` (``pt2`` or ``torchscript``)
    and, for an exported program, the static sizes of its first input (``None`` for the batch)."""

    module: torch.nn.Module
    kind: str
    input_shape: Optional[tuple] = None

    def attribute(self, name: str):
        """``latent_dim``, ``input_size`` or ``layer``: the module's attribute (TorchScript, Python modules),
        else what the exported input shape says."""
        value = getattr(self.module, name, None)
        if value is not None or self.kind != "pt2" or not self.input_shape:
            return value
        shape = self.input_shape
        if name == "latent_dim" and len(shape) == 2:
            return shape[1]
        if name == "input_size" and len(shape) == 4 and shape[2] is not None and shape[2] == shape[3]:
            return shape[2]
        return None


def evaluating(module):
    """``module.eval()``, or ``module`` itself for an exported program's module (which refuses ``eval()``; it
    was exported in the mode it runs in)."""
    try:
        return module.eval()
    except NotImplementedError:
        return module


def is_exported(module) -> bool:
    """Whether ``module`` is ``ExportedProgram.module()`` (a graph that cannot be re-exported or switched to eval)."""
    return isinstance(module, torch.fx.GraphModule) and not _trains(module)


def _trains(module) -> bool:
    try:
        module.train(module.training)
        return True
    except NotImplementedError:
        return False


def kind_of(path: Path) -> str:
    """``pt2`` (an exported program's archive) or ``torchscript``, by the archive's entries."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise InputError(f"{escape(str(path))}: not a .pt2 exported program or TorchScript file "
                         f"({escape(str(exc))[:160]})") from None
    if any(posixpath.basename(n) == "archive_format" for n in names):
        return "pt2"
    if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    raise InputError(f"{escape(str(path))}: a zip archive, but neither a .pt2 exported program nor a TorchScript file")


def load(path, device: torch.device, what: str) -> ModelFile:
    """The model in the file at ``path`` on ``device``, in eval mode. ``what`` names it in errors
    (``generator``, ``backbone``)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{escape(str(path))}: {what} file not found")
    kind = kind_of(path)
    if kind == "pt2":
        return _exported(path, device, what)
    return ModelFile(load_torchscript(path, device, what, notice=True), "torchscript")


def _exported(path: Path, device: torch.device, what: str) -> ModelFile:
    import zlib

    try:
        pt2_archive.check(path)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError, UnicodeError) as exc:
        # unsupported compression methods are NotImplementedError, encrypted members RuntimeError
        raise InputError(f"{escape(str(path))}: not a readable .pt2 archive ({escape(str(exc))[:160]})") from None
    try:
        with open(path, "rb") as handle, _torch_logs_quiet():  # a handle: torch warns about a path not ending .pt2
            program = torch.export.load(handle)
            module = program.module()
    except Exception as exc:  # noqa: BLE001 - deserialisation fails in many kinds
        raise InputError(f"{escape(str(path))}: not a loadable exported {what} "
                         f"({escape(str(exc).splitlines()[0][:160]) if str(exc) else type(exc).__name__})") from None
    shape = exported_input_shape(module)
    if shape is None or shape[0] is not None:
        batch = shape[0] if shape else "no"
        raise InputError(f"{escape(str(path))}: exported with a fixed batch size ({batch}); export it with a dynamic "
                         f"batch dimension: {EXPORT_HINT}")
    module = module.to(device) if device.type != "cpu" else module
    return ModelFile(module, "pt2", shape)


@contextlib.contextmanager
def _torch_logs_quiet():
    """torch's export loggers silenced below ERROR+10 for the block (they print multi-line tracebacks to
    stderr for what gentools reports in one line), then restored."""
    import logging

    loggers = [logging.getLogger(name) for name in ("torch.export", "torch._export")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 10)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def exported_input_shape(module) -> Optional[tuple]:
    """The first input's shape of ``ExportedProgram.module()`` (``None`` where dynamic), from its graph."""
    for node in module.graph.nodes:
        if node.op == "placeholder" and hasattr(node.meta.get("val"), "shape"):
            return tuple(int(d) if isinstance(d, int) else None for d in node.meta["val"].shape)
    return None


def load_torchscript(path, device: torch.device, what: str = "model", notice: bool = False):
    """A TorchScript file, ``torch.jit.load`` with its deprecation warning kept from the caller (torch >= 2.10
    marks it deprecated; the file format still loads). ``notice``: one GentoolsNotice suggesting ``.pt2``."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
            module = torch.jit.load(str(path), map_location=device)
    except (RuntimeError, ValueError, OSError) as exc:
        raise InputError(f"{escape(str(path))}: not a loadable TorchScript {what} "
                         f"({escape(str(exc).splitlines()[0][:160])})") from None
    if notice:
        warn(f"{escape(str(path))}: TorchScript is deprecated by torch; export the {what} as .pt2 "
             f"({EXPORT_HINT})", GentoolsNotice)
    return module.eval()
