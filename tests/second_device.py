"""A pretend second device for CPU-only machines, strict about devices.

Inside ``second_device()``, tensors put on ``"meta"`` are CPU tensors wrapped
in :class:`OnDevice` (their ``.device`` says ``meta``; a CPU-only build of
PyTorch refuses to even name a CUDA tensor, meta is the one other device it
knows). They compute for real, on the CPU. Every operator is checked the way
PyTorch checks real devices: an op that mixes a second-device tensor with a
CPU tensor (other than a 0-dim scalar) raises "Expected all tensors to be on
the same device", ``out=`` included; only the transfer ops (``copy_``,
``to``) cross. This is what a GPU does to code that writes a GPU result into
a CPU output with ``out=``. A ``non_blocking`` copy from the second device
to the host is, as from CUDA, not complete when it returns (PyTorch makes a
pinned destination and queues the copy); nothing here can synchronise it, so
it reads as NaN and is listed in ``unsynced_host_copies``.
"""
from __future__ import annotations

import contextlib

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

aten = torch.ops.aten
SECOND = torch.device("meta")


class OnDevice(torch.Tensor):
    """A CPU tensor that says it lives on the second device."""

    @staticmethod
    def __new__(cls, data: torch.Tensor):
        if torch.is_inference_mode_enabled() and not data.is_inference():
            # a view of a normal tensor made in inference mode (a band written
            # into the output) is a normal tensor, as it would be on a device
            with torch.inference_mode(False):
                return OnDevice(data)
        t = torch.Tensor._make_wrapper_subclass(
            cls, data.shape, strides=data.stride(), storage_offset=data.storage_offset(),
            dtype=data.dtype, device=SECOND, requires_grad=data.requires_grad,
        )
        t.data_ = data
        return t

    __torch_function__ = torch._C._disabled_torch_function_impl

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        raise RuntimeError(f"{func} on a second-device tensor outside second_device()")

    def __repr__(self):
        return f"OnDevice({self.data_!r})"


def _unwrap(x):
    return x.data_ if isinstance(x, OnDevice) else x


def _is_second(device) -> bool:
    return device is not None and torch.device(device).type == "meta"


def _non_blocking(func, args, kwargs) -> bool:
    """Whether a ``to`` / ``_to_copy`` call asks for ``non_blocking``, by keyword or position."""
    for i, a in enumerate(func._schema.arguments):
        if a.name == "non_blocking":
            return bool(kwargs.get("non_blocking", args[i] if i < len(args) else False))
    return False


class StrictSecondDevice(TorchDispatchMode):
    """Runs every op on the CPU, tracking which tensors are on the second device."""

    def __init__(self):
        super().__init__()
        self.mixed_ops = []
        self.unsynced_host_copies = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        flat, _ = tree_flatten((args, kwargs))
        tensors = [t for t in flat if isinstance(t, torch.Tensor)]
        on_second = any(isinstance(t, OnDevice) for t in tensors)
        cpu = any(not isinstance(t, OnDevice) and t.dim() > 0 for t in tensors)
        if func in (aten.copy_.default,):  # dst.copy_(src): the one op that crosses
            _unwrap(args[0]).copy_(_unwrap(args[1]))
            return args[0]
        if func is aten.record_stream.default:
            return None
        if func.overloadpacket in (aten._to_copy, aten.to):
            devices = [v for v in list(args[1:]) + list(kwargs.values()) if isinstance(v, torch.device)]
            cpu_args = [torch.device("cpu") if isinstance(v, torch.device) else v for v in args[1:]]
            cpu_kwargs = {k: torch.device("cpu") if isinstance(v, torch.device) else v
                          for k, v in kwargs.items() if k != "pin_memory"}
            res = func(_unwrap(args[0]), *cpu_args, **cpu_kwargs)
            to_second = _is_second(devices[0]) if devices else isinstance(args[0], OnDevice)
            if isinstance(args[0], OnDevice) and not to_second and _non_blocking(func, args, kwargs):
                self.unsynced_host_copies.append(str(func))
                return torch.full_like(res, float("nan")) if res.is_floating_point() else res.clone()
            if res is _unwrap(args[0]) and to_second == isinstance(args[0], OnDevice):
                return args[0]  # no copy needed
            return OnDevice(res) if to_second else (res.clone() if res is _unwrap(args[0]) else res)
        if on_second and cpu:
            self.mixed_ops.append(str(func))
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two devices, "
                f"meta and cpu! ({func})"
            )
        device = kwargs.get("device")
        make_second = on_second or _is_second(device)
        if "device" in kwargs:
            kwargs["device"] = torch.device("cpu") if _is_second(device) else device
        kwargs.pop("pin_memory", None)
        uargs, ukwargs = tree_map(_unwrap, args), tree_map(_unwrap, kwargs)
        out = func(*uargs, **ukwargs)
        if not make_second:
            return out
        # In-place and out= ops return their (wrapped) argument, not a new tensor.
        originals = {id(_unwrap(t)): t for t in tensors if isinstance(t, OnDevice)}

        def wrap(r):
            if isinstance(r, torch.Tensor) and not isinstance(r, OnDevice):
                original = originals.get(id(r))
                return original if original is not None else OnDevice(r)
            return r

        return tree_map(wrap, out)


@contextlib.contextmanager
def second_device(monkeypatch):
    """The strict second device for the block (see the module docstring)."""
    # Module.to swaps parameters for their converted selves (what subclasses need).
    monkeypatch.setattr(torch.__future__, "get_swap_module_params_on_conversion", lambda: True)
    mode = StrictSecondDevice()
    with mode:
        yield mode
