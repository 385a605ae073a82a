"""Blur kernels of the Real-ESRGAN degradation model (Wang et al. 2021).

Gaussian family on a k x k grid centred at 0 with covariance
Sigma = R(theta) diag(sx^2, sy^2) R(theta)^T and q = x^T Sigma^-1 x:
  gaussian     exp(-q / 2)
  generalised  exp(-q^beta / 2)       (beta < 1: heavier tails, > 1: flatter top)
  plateau      1 / (1 + q^beta)
Isotropic variants have sx = sy and theta = 0. The sinc kernel is the ideal
circular low-pass filter with cut-off ``omega`` (radians per pixel):
  omega * J1(omega r) / (2 pi r), omega^2 / (4 pi) at r = 0,
which mimics ringing and overshoot artefacts. Every kernel is normalised to sum 1.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")

_TAU = np.linspace(0.0, 2.0 * math.pi, 512, endpoint=False)


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """Bessel function of the first kind, order 1: J1(x) = (1/2pi) * integral over
    one period of cos(t - x sin t). The trapezoid rule on a full period of a
    smooth periodic integrand is exact to float precision here (|x| < ~150)."""
    x = np.asarray(x, dtype=np.float64)
    return np.cos(_TAU - x[..., None] * np.sin(_TAU)).mean(-1)


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    if size < 1 or size % 2 == 0:
        raise ValueError(f"kernel size must be a positive odd number, got {size}")
    ax = np.arange(size, dtype=np.float64) - size // 2
    return np.meshgrid(ax, ax)  # xx (columns), yy (rows)


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    if sigma_x <= 0 or sigma_y <= 0:
        raise ValueError(f"kernel sigmas must be positive, got {sigma_x}, {sigma_y}")
    c, s = math.cos(theta), math.sin(theta)
    rot = np.array([[c, -s], [s, c]])
    inv = np.linalg.inv(rot @ np.diag([sigma_x**2, sigma_y**2]) @ rot.T)
    xx, yy = _grid(size)
    return inv[0, 0] * xx * xx + (inv[0, 1] + inv[1, 0]) * xx * yy + inv[1, 1] * yy * yy


def _normalised(k: np.ndarray) -> np.ndarray:
    return k / k.sum()


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0) -> np.ndarray:
    """(An)isotropic Gaussian; ``sigma_y`` defaults to ``sigma_x``."""
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalised(np.exp(-0.5 * q))


def generalized_gaussian_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    q = _quadratic_form(size, sigma_x, sigma_y, theta)
    return _normalised(np.exp(-0.5 * np.power(q, beta)))


def plateau_kernel(size: int, sigma_x: float, sigma_y: float, theta: float, beta: float) -> np.ndarray:
    q = _quadratic_form(size, sigma_x, sigma_y, theta)
    return _normalised(1.0 / (1.0 + np.power(q, beta)))


def sinc_kernel(size: int, omega: float) -> np.ndarray:
    """Circular low-pass (2-D sinc) kernel with cut-off ``omega`` in (0, pi]."""
    if not 0 < omega <= math.pi + 1e-9:
        raise ValueError(f"sinc cut-off must be in (0, pi], got {omega}")
    xx, yy = _grid(size)
    r = np.hypot(xx, yy)
    safe_r = np.where(r == 0, 1.0, r)
    k = np.where(r == 0, omega**2 / (4 * math.pi), omega * bessel_j1(omega * safe_r) / (2 * math.pi * safe_r))
    return _normalised(k)


def pulse_kernel(size: int = 1) -> np.ndarray:
    """The identity kernel."""
    k = np.zeros((size, size))
    k[size // 2, size // 2] = 1.0
    return k


def _uniform(rng: np.random.Generator, lo_hi: Sequence[float]) -> float:
    return float(rng.uniform(lo_hi[0], lo_hi[1]))


def _beta(rng: np.random.Generator, lo_hi: Sequence[float]) -> float:
    """Shape exponent: half the time below 1, half above (as Real-ESRGAN draws it)."""
    lo, hi = lo_hi
    return float(rng.uniform(lo, 1.0)) if rng.random() < 0.5 else float(rng.uniform(1.0, hi))


def random_mixed_kernel(
    rng: np.random.Generator,
    size: int,
    kernel_list: Sequence[str],
    kernel_prob: Sequence[float],
    sigma_range: Sequence[float],
    betag_range: Sequence[float],
    betap_range: Sequence[float],
) -> np.ndarray:
    """A kernel of a type drawn from ``kernel_list`` with ``kernel_prob``."""
    p = np.asarray(kernel_prob, dtype=np.float64)
    kind = kernel_list[int(rng.choice(len(kernel_list), p=p / p.sum()))]
    if kind not in KERNEL_TYPES:
        raise ValueError(f"unknown kernel type {kind!r}; use {', '.join(KERNEL_TYPES)}")
    sx = _uniform(rng, sigma_range)
    if kind.endswith("_iso") or kind == "iso":
        sy, theta = sx, 0.0
    else:
        sy, theta = _uniform(rng, sigma_range), float(rng.uniform(-math.pi, math.pi))
    if kind in ("iso", "aniso"):
        return gaussian_kernel(size, sx, sy, theta)
    if kind.startswith("generalized"):
        return generalized_gaussian_kernel(size, sx, sy, theta, _beta(rng, betag_range))
    return plateau_kernel(size, sx, sy, theta, _beta(rng, betap_range))


def random_sinc_kernel(rng: np.random.Generator, size: int, wide_range: bool = True) -> np.ndarray:
    """Sinc kernel with cut-off in [pi/3, pi] for small kernels (< 13), else
    [pi/5, pi] (``wide_range``), as Real-ESRGAN draws them."""
    lo = math.pi / 5 if wide_range and size >= 13 else math.pi / 3
    return sinc_kernel(size, float(rng.uniform(lo, math.pi)))
