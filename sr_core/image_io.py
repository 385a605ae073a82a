"""Image files <-> tensors, keeping what the file was: gray / gray+alpha /
RGB / RGBA and 8 or 16 bits per channel. PNG, JPEG and WebP are read and
written; BMP and TIFF are read.

Pillow reads 16-bit colour PNGs as 8-bit, so those are decoded twice through
Pillow's own PNG decoder (high bytes, then low bytes) and written with a
small PNG encoder here; 16-bit gray uses Pillow's ``I;16`` directly.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from PIL import Image, ImageFile

from .files import atomic_write

PathLike = Union[str, Path]

# The image files GenSR reads, everywhere (upscale, eval, train, validation).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
READ_FORMATS = ("PNG", "JPEG", "WEBP", "MPO", "BMP", "TIFF")
# The ones it writes (extension -> Pillow format).
FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}
MODES = ("L", "LA", "RGB", "RGBA")
_CHANNELS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class ImageFileError(ValueError):
    """An image file that cannot be read or written. ``path`` is set when the
    message already names the file (so callers do not repeat it)."""

    def __init__(self, message: str, path: Optional[PathLike] = None) -> None:
        super().__init__(message)
        self.path = path


def is_image_file(path: Path) -> bool:
    """An image file by its name: a known extension and not hidden."""
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


# What Pillow raises for a file it cannot read.
PILLOW_READ_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombError)


def image_read_error(path: PathLike, e: BaseException) -> ImageFileError:
    """An ImageFileError naming ``path`` once, for what Pillow raised reading it."""
    if isinstance(e, Image.UnidentifiedImageError):
        reason = "not an image, or an image format Pillow cannot decode"
    elif isinstance(e, OSError) and e.strerror:
        reason = e.strerror
    else:
        reason = str(e).replace(repr(str(path)), "the file").replace(str(path), "the file")
    return ImageFileError(f"{path}: cannot read image ({reason})", path)


@dataclass
class ImageInfo:
    """What an image file held: ``mode`` (L, LA, RGB, RGBA), ``bits`` (8 or 16),
    ``format`` (PNG, JPEG, WEBP) and metadata worth carrying over."""

    mode: str
    bits: int
    format: str
    icc_profile: Optional[bytes] = None
    exif: Optional[bytes] = None
    extra: dict = field(default_factory=dict)

    @property
    def channels(self) -> int:
        return _CHANNELS[self.mode]


# --------------------------------------------------------------------- reading


def _png16_colour(path: Path, im: Image.Image) -> Optional[np.ndarray]:
    """uint16 (H, W, C) pixels of a 16-bit LA/RGB/RGBA PNG, or None if it is not one."""
    if len(im.tile) != 1 or not isinstance(im.tile[0].args, str):
        return None  # interlaced or unusual: Pillow's 8-bit reading is all we have
    tile = im.tile[0]
    raw = tile.args
    if raw in ("RGB;16B", "RGBA;16B"):
        passes = {"hi": raw, "lo": raw.replace(";16B", ";16L")}
    elif raw == "LA;16B":
        passes = {"both": "RGBA"}  # same bytes per pixel: the filters undo identically
    else:
        return None
    planes = {}
    for key, rawmode in passes.items():
        with Image.open(path) as again:
            again.tile = [ImageFile._Tile(tile.codec_name, tile.extents, tile.offset, rawmode)]
            again.load()
            planes[key] = np.asarray(again).astype(np.uint16)
    if "both" in planes:
        v = planes["both"]  # R,G,B,A = L hi, L lo, A hi, A lo
        return np.stack((v[..., 0] * 256 + v[..., 1], v[..., 2] * 256 + v[..., 3]), -1)
    return planes["hi"] * 256 + planes["lo"]


def _normalise_mode(im: Image.Image) -> Image.Image:
    if im.mode in MODES:
        return im
    if im.mode == "P" or im.mode == "PA":
        return im.convert("RGBA" if "transparency" in im.info or im.mode == "PA" else "RGB")
    if im.mode == "1":
        return im.convert("L")
    if im.mode in ("La",):
        return im.convert("LA")
    if im.mode in ("RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
        return im.convert("RGBA" if im.mode == "RGBa" else "RGB")
    raise ImageFileError(f"image mode {im.mode} is not supported (gray, gray+alpha, RGB and RGBA are)")


def read_image(path: PathLike, dtype: str = "float") -> tuple[torch.Tensor, ImageInfo]:
    """(pixels, info) of an image file; pixels are (C, H, W).

    ``dtype="float"``: float32 in [0, 1]. ``dtype="native"``: uint8 for 8-bit
    files (4x less memory), float32 for 16-bit ones.
    """
    path = Path(path)
    if dtype not in ("float", "native"):
        raise ValueError(f"dtype must be 'float' or 'native', not {dtype!r}")
    try:
        with Image.open(path) as im:
            fmt = im.format or FORMATS.get(path.suffix.lower(), "PNG")
            if fmt not in READ_FORMATS:
                raise ImageFileError(f"{path}: {fmt} files are not supported; use PNG, JPEG, WebP, BMP or TIFF", path)
            fmt = "JPEG" if fmt == "MPO" else fmt
            icc, exif = im.info.get("icc_profile"), im.info.get("exif")
            deep = None
            if fmt == "PNG" and im.mode in ("RGB", "RGBA") and im.tile and str(im.tile[0].args).endswith(";16B"):
                deep = _png16_colour(path, im)
            if deep is not None:
                arr = deep
                mode = {2: "LA", 3: "RGB", 4: "RGBA"}[arr.shape[-1]]
                bits = 16
            elif im.mode in ("I;16", "I;16B", "I;16L", "I"):
                arr = np.asarray(im).astype(np.int64).clip(0, 65535).astype(np.uint16)
                mode, bits = "L", 16
            else:
                try:
                    im = _normalise_mode(im)
                except ImageFileError as e:
                    raise ImageFileError(f"{path}: {e}", path) from None
                arr = np.array(im)
                mode, bits = im.mode, 8
    except ImageFileError:
        raise
    except PILLOW_READ_ERRORS as e:
        raise image_read_error(path, e) from None
    if arr.ndim == 2:
        arr = arr[..., None]
    info = ImageInfo(mode=mode, bits=bits, format=fmt, icc_profile=icc, exif=exif)
    if bits == 16:
        t = torch.from_numpy(arr.astype(np.float32) / 65535.0)
    else:
        t = torch.from_numpy(np.ascontiguousarray(arr))
        if dtype == "float":
            t = t.float().div_(255)
    return t.permute(2, 0, 1), info


# --------------------------------------------------------------------- writing


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png16(pixels: np.ndarray, icc_profile: Optional[bytes] = None, level: int = 6) -> bytes:
    """A 16-bit PNG of uint16 (H, W, C) pixels, C in 1..4 (rows Sub-filtered)."""
    h, w, c = pixels.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = np.ascontiguousarray(pixels, dtype=">u2").view(np.uint8).reshape(h, w * c * 2)
    bpp = 2 * c
    sub = raw.copy()
    sub[:, bpp:] = raw[:, bpp:] - raw[:, :-bpp]  # uint8 arithmetic wraps, as PNG wants
    rows = np.concatenate((np.ones((h, 1), np.uint8), sub), 1)  # filter type 1 (Sub)
    out = [b"\x89PNG\r\n\x1a\n", _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))]
    if icc_profile:
        out.append(_png_chunk(b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile)))
    out.append(_png_chunk(b"IDAT", zlib.compress(rows.tobytes(), level)))
    out.append(_png_chunk(b"IEND", b""))
    return b"".join(out)


def to_hwc_array(pixels: torch.Tensor, bits: int) -> np.ndarray:
    """(C, H, W) float in [0, 1] or uint8 -> uint8 / uint16 (H, W, C) numpy."""
    t = pixels.detach().cpu()
    if t.dtype == torch.uint8:
        t = t.float().div_(255) if bits == 16 else t
    if t.dtype != torch.uint8:
        top = 65535.0 if bits == 16 else 255.0
        t = t.float().clamp(0, 1).mul_(top).round_()
        t = t.to(torch.int32) if bits == 16 else t.to(torch.uint8)
    arr = t.permute(1, 2, 0).numpy()
    return arr.astype(np.uint16) if bits == 16 else np.ascontiguousarray(arr)


def write_image(
    path: PathLike,
    pixels: torch.Tensor,
    info: Optional[ImageInfo] = None,
    *,
    quality: int = 95,
) -> Path:
    """Write (C, H, W) ``pixels`` (float in [0, 1] or uint8) atomically.

    The format comes from the file extension. With ``info`` the file gets the
    same bit depth (16-bit only in PNG) and colour profile; the channel count
    of ``pixels`` decides the mode. JPEG has no alpha: it is composited over
    white.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageFileError(f"{path}: GenSR does not write {path.suffix or 'extension-less'} files; "
                             "use the extension .png, .jpg, .jpeg or .webp", path)
    if pixels.dim() != 3 or pixels.shape[0] not in (1, 2, 3, 4):
        raise ValueError(f"expected (C, H, W) pixels with 1 to 4 channels, got {tuple(pixels.shape)}")
    channels = pixels.shape[0]
    bits = 16 if info is not None and info.bits == 16 and fmt == "PNG" else 8
    icc = info.icc_profile if info is not None else None
    exif = info.exif if info is not None else None
    if fmt == "JPEG" and channels in (2, 4):
        p = pixels.float() / 255 if pixels.dtype == torch.uint8 else pixels.float()
        alpha = p[-1:].clamp(0, 1)
        pixels = p[:-1] * alpha + (1 - alpha)
        channels -= 1
    arr = to_hwc_array(pixels, bits)
    if bits == 16 and channels > 1:
        data = encode_png16(arr, icc)
        atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))
        return path
    if bits == 16:
        im = Image.fromarray(arr[..., 0].astype(np.uint16))  # I;16
    else:
        mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
        im = Image.frombytes(mode, (arr.shape[1], arr.shape[0]), np.ascontiguousarray(arr).tobytes())
    kwargs = {}
    if icc:
        kwargs["icc_profile"] = icc
    if exif and fmt in ("JPEG", "WEBP", "PNG"):
        kwargs["exif"] = exif
    if fmt == "JPEG":
        kwargs.update(quality=quality, subsampling=0 if quality >= 90 else 2)
    elif fmt == "WEBP":
        kwargs.update(quality=quality, lossless=quality >= 100)
    elif fmt == "PNG":
        kwargs.update(compress_level=6)
    atomic_write(path, lambda tmp: im.save(tmp, format=fmt, **kwargs))
    return path
