"""Image files keep what they were: gray / gray+alpha / RGB / RGBA, 8 or 16
bits (PNG), JPEG and WebP; unreadable files give a clear error."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from gensr.sr_core.image_io import ImageFileError, encode_png16, read_image, write_image


def _paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else (b if pb <= pc else c)


def _png16_all_filters(pixels: np.ndarray) -> bytes:
    """A 16-bit PNG whose rows use filter types 0-4 in turn (reference encoder)."""
    h, w, c = pixels.shape
    raw = pixels.astype(">u2").view(np.uint8).reshape(h, w * c * 2).astype(int)
    bpp = 2 * c
    out = bytearray()
    for y in range(h):
        ftype = y % 5
        prev = raw[y - 1] if y else np.zeros_like(raw[0])
        row = raw[y]
        out.append(ftype)
        for i in range(len(row)):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, _paeth(a, b, cc)][ftype]
            out.append((row[i] - pred) % 256)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(bytes(out))) + chunk(b"IEND", b"")


@pytest.mark.parametrize("channels,mode", [(1, "L"), (2, "LA"), (3, "RGB"), (4, "RGBA")])
def test_16_bit_png_is_read_exactly_and_written_back_16_bit(tmp_path, channels, mode):
    pixels = (np.random.default_rng(channels).random((7, 9, channels)) * 65535).astype(np.uint16)
    src = tmp_path / "in.png"
    src.write_bytes(_png16_all_filters(pixels))
    t, info = read_image(src)
    assert (info.mode, info.bits, info.format) == (mode, 16, "PNG")
    assert t.dtype == torch.float32 and t.shape == (channels, 7, 9)
    assert np.array_equal((t.permute(1, 2, 0).numpy() * 65535).round().astype(np.uint16), pixels)
    write_image(tmp_path / "out.png", t, info)
    t2, info2 = read_image(tmp_path / "out.png")
    assert (info2.mode, info2.bits) == (mode, 16)
    assert torch.equal(t, t2)


def test_our_16_bit_encoder_is_a_valid_png():
    pixels = (np.random.default_rng(0).random((5, 6, 3)) * 65535).astype(np.uint16)
    data = encode_png16(pixels)
    import io

    im = Image.open(io.BytesIO(data))
    assert im.size == (6, 5) and im.mode == "RGB"
    im.load()  # decodes (to 8 bits, as Pillow does): the stream is well formed


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA"])
def test_8_bit_png_round_trips_exactly_in_its_mode(tmp_path, mode):
    arr = (np.random.default_rng(1).random((6, 8, len(mode))) * 255).astype(np.uint8)
    Image.frombytes(mode, (8, 6), arr.tobytes()).save(tmp_path / "a.png")
    t, info = read_image(tmp_path / "a.png", dtype="native")
    assert (info.mode, info.bits) == (mode, 8) and t.dtype == torch.uint8
    assert np.array_equal(t.permute(1, 2, 0).numpy(), arr)
    f, _ = read_image(tmp_path / "a.png")
    assert f.dtype == torch.float32 and torch.allclose(f * 255, t.float())
    write_image(tmp_path / "b.png", f, info)
    assert Image.open(tmp_path / "b.png").mode == mode
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b.png")).reshape(6, 8, -1), arr)


def test_jpeg_gray_stays_gray_and_alpha_is_flattened_for_jpeg(tmp_path):
    Image.new("L", (10, 8), 100).save(tmp_path / "g.jpg")
    t, info = read_image(tmp_path / "g.jpg", dtype="native")
    assert info.mode == "L" and info.format == "JPEG" and t.shape == (1, 8, 10)
    write_image(tmp_path / "g2.jpg", t, info)
    assert Image.open(tmp_path / "g2.jpg").mode == "L"
    rgba = torch.zeros(4, 8, 10)
    rgba[0] = 1.0  # red, alpha 0 over the left half
    rgba[3, :, 5:] = 1.0
    write_image(tmp_path / "flat.jpg", rgba)
    flat = np.asarray(Image.open(tmp_path / "flat.jpg")).astype(int)
    assert (flat[:, :3] > 240).all()  # transparent -> white
    assert flat[:, 7:, 0].min() > 200 and flat[:, 7:, 1].max() < 40  # opaque red


def test_webp_keeps_alpha(tmp_path):
    im = Image.new("RGBA", (12, 10), (10, 200, 30, 128))
    im.save(tmp_path / "a.webp", lossless=True)
    t, info = read_image(tmp_path / "a.webp", dtype="native")
    assert info.mode == "RGBA" and info.format == "WEBP"
    write_image(tmp_path / "b.webp", t, info, quality=100)
    back = Image.open(tmp_path / "b.webp")
    assert back.mode == "RGBA" and back.getpixel((3, 3)) == (10, 200, 30, 128)


def test_palette_and_bilevel_images_are_converted(tmp_path):
    p = Image.new("P", (4, 4))
    p.putpalette([255, 0, 0] * 256)
    p.info["transparency"] = 0
    p.save(tmp_path / "p.png", transparency=0)
    assert read_image(tmp_path / "p.png")[1].mode == "RGBA"
    Image.new("1", (4, 4), 1).save(tmp_path / "b.png")
    t, info = read_image(tmp_path / "b.png")
    assert info.mode == "L" and float(t.min()) == 1.0


def test_icc_profile_is_carried_over(tmp_path):
    icc = b"fake-but-carried-profile"
    Image.new("RGB", (4, 4)).save(tmp_path / "c.png", icc_profile=icc)
    t, info = read_image(tmp_path / "c.png")
    assert info.icc_profile == icc
    write_image(tmp_path / "d.png", t, info)
    assert Image.open(tmp_path / "d.png").info.get("icc_profile") == icc


def test_bad_files_get_clear_errors(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(ImageFileError, match="cannot read"):
        read_image(tmp_path / "bad.png")
    with pytest.raises(ImageFileError, match="cannot read"):
        read_image(tmp_path / "missing.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "x.gif")
    with pytest.raises(ImageFileError, match="not supported"):
        read_image(tmp_path / "x.gif")
    with pytest.raises(ImageFileError, match="extension"):
        write_image(tmp_path / "x.tif", torch.zeros(3, 4, 4))
