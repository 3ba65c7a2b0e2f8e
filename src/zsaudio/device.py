"""Which compute device to run torch models on: one policy for every layer.

- ``"cpu"`` is always accepted (and never imports torch);
- ``"auto"`` means CUDA when torch sees a GPU, else the CPU;
- ``"cuda"`` or ``"cuda:N"`` asked for explicitly must be there: when CUDA is not available a
  :class:`DeviceError` says so, rather than silently running (much slower) on the CPU;
- anything else is a :class:`DeviceError` naming the accepted forms.

>>> resolve_device("cpu")
'cpu'
>>> resolve_device("tpu")
Traceback (most recent call last):
...
zsaudio.device.DeviceError: unknown device 'tpu' (use 'cpu', 'cuda', 'cuda:N' or 'auto')
"""

from __future__ import annotations

import re

__all__ = ["DEVICE_HELP", "DeviceError", "resolve_device"]

DEVICE_HELP = "cpu, cuda, cuda:N or auto (CUDA if available, else cpu)"
"""Help text of the ``--device`` options of the command-line tool."""

_CUDA = re.compile(r"cuda(:\d+)?")


class DeviceError(ValueError):
    """An unknown device name, or a CUDA device asked for where CUDA is not available."""


def resolve_device(device: str) -> str:
    """The device a torch model should run on, as a torch device string.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (see the module docstring).

    Returns
    -------
    str
        ``"cpu"``, or the CUDA device as given (``"cuda"`` for ``"auto"`` on a GPU machine);
        ``torch.device(resolve_device(name))`` is valid.

    Raises
    ------
    DeviceError
        Unknown name, or CUDA asked for but not available here.

    Examples
    --------
    >>> resolve_device("auto") in ("cpu", "cuda")
    True
    """
    if not isinstance(device, str):
        raise DeviceError(f"device must be a str, got {type(device).__name__}: {device!r}")
    if device == "cpu":
        return device
    if device != "auto" and not _CUDA.fullmatch(device):
        raise DeviceError(f"unknown device {device!r} (use 'cpu', 'cuda', 'cuda:N' or 'auto')")
    import torch  # only here: choosing the CPU must not cost the torch import

    available = torch.cuda.is_available()
    if device == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise DeviceError(f"device {device!r} requested but CUDA is not available here "
                          "(use 'cpu', or 'auto' to take a GPU only where there is one)")
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise DeviceError(f"device {device!r} requested but only {torch.cuda.device_count()} "
                          "CUDA device(s) are visible")
    return device
