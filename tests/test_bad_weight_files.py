"""Bad weight files give one clear error that says what is wrong and what to do;
nothing in a pickle runs, and no library internals are dumped on the user."""
from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import gensr
from gensr.sr_core.archs import RRDBNet, SRVGGNetCompact
from gensr.weights import GenSRError, UnknownArchitectureError, UnsafeWeightFileError, WeightFileError


class CreatesMarker:
    """Unpickling this object creates a file: the proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def tiny_state_dict() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, scale=2).state_dict()


def load_error(path: Path, kind: type = WeightFileError) -> str:
    """The message of the error loading ``path`` raises; it must be ``kind``,
    one line, and name the file."""
    with pytest.raises(kind) as info:
        gensr.load_model(path)
    message = str(info.value)
    assert isinstance(info.value, GenSRError)
    assert "\n" not in message and len(message) < 700, message
    assert str(path) in message
    return message


# --------------------------------------------------------------------------- code in pickles


@pytest.mark.parametrize("form", ["zip", "legacy"])
def test_malicious_pickle_is_refused_without_running_it(tmp_path, form):
    marker = tmp_path / "pwned"
    obj = {"params": tiny_state_dict(), "extra": CreatesMarker(marker)}
    path = tmp_path / "model.pth"
    torch.save(obj, path, _use_new_zipfile_serialization=(form == "zip"))
    assert not marker.exists()

    message = load_error(path, UnsafeWeightFileError)

    assert not marker.exists(), "code in the pickle ran"
    assert "nothing in it was executed" in message
    assert f"gensr convert --trust-pickle {path} {path.with_suffix('.safetensors')}" in message
    assert "`io.open`" in message  # names the object that would have needed code


def test_plain_pickle_with_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pth"
    with open(path, "wb") as f:
        pickle.dump({"params": CreatesMarker(marker)}, f, protocol=2)
    load_error(path, UnsafeWeightFileError)
    assert not marker.exists()


def test_pickled_full_model_needs_trust(tmp_path):
    path = tmp_path / "full_model.pth"
    torch.save(SRVGGNetCompact(3, 3, num_feat=4, num_conv=1, scale=2), path)
    message = load_error(path, UnsafeWeightFileError)
    assert "SRVGGNetCompact" in message
    model = gensr.load_model(path, trust_pickle=True)
    assert model.arch == "compact" and model.scale == 2


def test_protocol_4_pickle_is_refused_with_a_reason(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"params": tiny_state_dict()}, path, pickle_protocol=4)
    message = load_error(path, UnsafeWeightFileError)
    assert "protocol 4" in message and "--trust-pickle" in message
    assert gensr.load_model(path, trust_pickle=True).scale == 2


# --------------------------------------------------------------------------- damaged files


def write_good(path: Path) -> bytes:
    if path.suffix == ".safetensors":
        save_file(tiny_state_dict(), str(path))
    else:
        torch.save({"params": tiny_state_dict()}, path)
    return path.read_bytes()


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.6, 0.95])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_truncated_files(tmp_path, suffix, fraction):
    path = tmp_path / f"model{suffix}"
    data = write_good(path)
    path.write_bytes(data[: max(1, int(len(data) * fraction))])
    message = load_error(path)
    assert "truncated" in message and "Download it again" in message and "neither" not in message


@pytest.mark.parametrize("keep", [1, 8, 9, 20, "header-1"])
def test_safetensors_cut_inside_its_header_is_called_truncated(tmp_path, keep):
    path = tmp_path / "model.safetensors"
    data = write_good(path)
    header_end = 8 + int.from_bytes(data[:8], "little")  # the format: u64 header length, JSON header, tensors
    keep = header_end - 1 if keep == "header-1" else keep
    assert keep < header_end
    path.write_bytes(data[:keep])
    message = load_error(path)
    assert "damaged or truncated .safetensors file" in message and "Download it again" in message
    assert message.count(str(path)) == 1


def test_truncated_legacy_pickle(tmp_path):
    path = tmp_path / "model.pth"
    torch.save({"params": tiny_state_dict()}, path, _use_new_zipfile_serialization=False)
    path.write_bytes(path.read_bytes()[:-10])
    assert "truncated or corrupt" in load_error(path)


def test_corrupt_safetensors_header(tmp_path):
    path = tmp_path / "model.safetensors"
    data = bytearray(write_good(path))
    data[10:40] = b"\x00" * 30
    path.write_bytes(bytes(data))
    assert "not a readable .safetensors file" in load_error(path)


def test_corrupt_zip_directory(tmp_path):
    path = tmp_path / "model.pth"
    data = bytearray(write_good(path))
    data[-200:] = b"\xab" * 200  # the zip central directory lives at the end
    path.write_bytes(bytes(data))
    assert "Download it again" in load_error(path)


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    path.write_bytes(b"")
    assert "empty" in load_error(path)


def test_directory(tmp_path):
    assert "is a directory" in load_error(tmp_path)


def test_missing_file(tmp_path):
    assert "no such file" in load_error(tmp_path / "missing.safetensors")


def test_html_page_saved_as_pth(tmp_path):
    path = tmp_path / "4x-UltraSharp.pth"
    path.write_text("<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>Redirecting...</body></html>\n")
    assert "HTML" in load_error(path)


def test_git_lfs_pointer(tmp_path):
    path = tmp_path / "model.safetensors"
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:4e1e09ba\nsize 2461000\n")
    assert "Git LFS pointer" in load_error(path)


# --------------------------------------------------------------------------- wrong content


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_non_finite_tensors(tmp_path, suffix, bad):
    sd = tiny_state_dict()
    sd["body.2.weight"] = sd["body.2.weight"].clone()
    sd["body.2.weight"][0, 0, 1, 1] = bad
    path = tmp_path / f"model{suffix}"
    save_file(sd, str(path)) if suffix == ".safetensors" else torch.save({"params_ema": sd}, path)
    message = load_error(path)
    assert "'body.2.weight'" in message and "NaN or infinite" in message


def test_unknown_architecture_names_supported_ones_and_shows_keys(tmp_path):
    path = tmp_path / "swinir.safetensors"
    save_file(
        {
            "conv_first.weight": torch.zeros(4, 3, 3, 3),
            "layers.0.residual_group.blocks.0.attn.qkv.weight": torch.zeros(6, 2),
            "patch_embed.norm.weight": torch.zeros(2),
        },
        str(path),
    )
    message = load_error(path, UnknownArchitectureError)
    assert "RRDBNet" in message and "SRVGGNetCompact" in message
    assert "conv_first.weight" in message and "patch_embed.norm.weight" in message


@pytest.mark.parametrize("content", [[torch.zeros(3)], torch.zeros(3), {"epoch": 3, "lr": 0.1}], ids=["list", "tensor", "no-tensors"])
def test_pickle_without_weights(tmp_path, content):
    path = tmp_path / "model.pth"
    torch.save(content, path)
    assert "holds no model weights" in load_error(path)


def test_rrdbnet_with_inconsistent_shapes(tmp_path):
    sd = RRDBNet(3, 3, 4, num_feat=4, num_block=2, num_grow_ch=2).state_dict()
    sd["body.1.rdb2.conv3.weight"] = torch.zeros(2, 9, 3, 3)  # wrong input width
    path = tmp_path / "model.safetensors"
    save_file(sd, str(path))
    message = load_error(path)
    assert "rrdbnet" in message and "damaged" in message


def test_content_not_suffix_decides_the_format(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.save({"params": tiny_state_dict()}, path)  # a pickle under the wrong name
    assert gensr.load_model(path).scale == 2


def damaged_variants():
    """(name, state dict) with one tensor missing or of the wrong shape, for every
    tensor of a tiny model in each layout."""
    import test_weight_layouts as layouts

    models = {name: layouts.tiny_rrdb(name, 4, num_block=1) for name in layouts.LAYOUTS}
    models["compact"] = layouts.tiny_compact(2, num_conv=1)
    for name, model in models.items():
        sd = layouts.layout_sd(name, model)
        for key in sd:
            yield f"{name}-missing-{key}", {k: v for k, v in sd.items() if k != key}
            yield f"{name}-ndim-{key}", {k: (v.unsqueeze(0) if k == key else v) for k, v in sd.items()}
            yield f"{name}-wide-{key}", {k: (torch.cat((v, v)) if k == key else v) for k, v in sd.items()}


def test_damaged_state_dicts_give_clear_errors():
    from gensr.weights import model_from_state_dict

    failures = []
    for name, sd in damaged_variants():
        try:
            model_from_state_dict(sd, name)
        except GenSRError as e:
            if name not in str(e):
                failures.append(f"{name}: message does not name the source: {e}")
        except Exception as e:  # noqa: BLE001 - the point of the test
            failures.append(f"{name}: {type(e).__name__}: {e}")
        else:
            failures.append(f"{name}: loaded")
    assert not failures, "\n".join(failures[:20]) + f"\n({len(failures)} in all)"
