"""The tiny-test recipe end to end: validation PSNR rises, the export loads with
gensr.load_model and reproduces the trained EMA generator; config files, CLI,
presets, logs and the progress line."""
from __future__ import annotations

import io
import json
import resource
import sys

import pytest
import torch
from safetensors import safe_open

import gensr
from gensr.cli import main as gensr_main
from gensr.training.config import TrainConfig
from gensr.training.loop import Trainer
from gensr.training.presets import PRESETS, preset_config
from gensr.training.progress import ProgressLine
from training_env import tiny_config, tiny_data


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def test_tiny_test_run_learns_and_exports_a_loadable_model(tmp_path):
    cfg = tiny_config(tmp_path)
    start = cpu_seconds()
    trainer = Trainer(cfg)
    path = trainer.run()
    used = cpu_seconds() - start
    print(f"tiny-test: {cfg.iterations} iterations in {used:.1f} s of CPU time")

    records = [json.loads(line) for line in (tmp_path / "runs" / "tiny-test" / "log.jsonl").read_text().splitlines()]
    vals = [r for r in records if "validation" in r]
    assert vals[0]["iteration"] == 0 and vals[-1]["iteration"] == cfg.iterations
    assert vals[-1]["validation"]["psnr"] > vals[0]["validation"]["psnr"] + 1.0
    losses = [r["loss"] for r in records if "loss" in r]
    assert len(losses) == cfg.iterations // cfg.log_every and all(l > 0 for l in losses)
    assert (tmp_path / "runs" / "tiny-test" / "checkpoint.pt").is_file()
    assert list((tmp_path / "runs" / "tiny-test" / "samples").rglob("*.png"))

    model = gensr.load_model(str(path))
    assert (model.arch, model.scale, model.config["num_feat"]) == ("compact", 4, 8)
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.allclose(model(x), trainer.ema.module.eval()(x), atol=1e-6)
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    assert meta["gensr.recipe"] == "tiny-test" and meta["gensr.iterations"] == str(cfg.iterations)
    assert json.loads(meta["gensr.validation"])["psnr"] == pytest.approx(vals[-1]["validation"]["psnr"])
    assert json.loads(meta["gensr.training_config"])["lr"] == cfg.lr

    # best.safetensors: the EMA weights of the best validation, scored again here from the file
    from gensr.training.validation import evaluate_images, summarise, validation_files

    best = gensr.load_model(str(tmp_path / "runs" / "tiny-test" / "best.safetensors")).eval()
    with torch.no_grad():
        rescored = summarise(evaluate_images(best, validation_files(cfg.val), cfg.scale))["psnr"]
    assert rescored == pytest.approx(max(v["validation"]["psnr"] for v in vals), abs=1e-3)


def test_config_files_presets_and_overrides(tmp_path):
    from gensr.cli.train import build_config
    from gensr.cli import build_parser

    toml = tmp_path / "run.toml"
    toml.write_text('preset = "compact-x4-psnr"\ndata = ["a"]\niterations = 50\n[degradation_options]\nsecond_blur_prob = 0.5\n')
    args = build_parser().parse_args(["train", "--config", str(toml), "--val", "v", "--set", "lr=0.001", "--set", "gan_loss=hinge"])
    cfg = build_config(args)
    assert (cfg.recipe, cfg.arch, cfg.iterations, cfg.lr, cfg.val, cfg.gan_loss) == ("compact-x4-psnr", "compact", 50, 0.001, "v", "hinge")
    assert cfg.degradation_options == {"second_blur_prob": 0.5} and cfg.gt_usm

    yaml = pytest.importorskip("yaml")
    yml = tmp_path / "run.yaml"
    yml.write_text(yaml.safe_dump({"data": ["b"], "arch": "rrdbnet", "arch_config": {"num_block": 2}}))
    cfg = build_config(build_parser().parse_args(["train", "--config", str(yml), "--preset", "tiny-test"]))
    assert (cfg.arch, cfg.arch_config, cfg.data, cfg.recipe) == ("rrdbnet", {"num_block": 2}, ["b"], "tiny-test")


def test_config_file_errors_are_clear(tmp_path, monkeypatch, capsys):
    from gensr.training.config_file import read_config_file

    bad = tmp_path / "bad.toml"
    bad.write_text("iterations = = 3")
    with pytest.raises(ValueError, match="invalid TOML"):
        read_config_file(bad)
    js = tmp_path / "x.json"
    js.write_text("{}")
    with pytest.raises(ValueError, match=".toml, .yaml or .yml"):
        read_config_file(js)
    yml = tmp_path / "a.yml"
    yml.write_text("data: [a]\n")
    monkeypatch.setitem(sys.modules, "yaml", None)  # PyYAML not installed
    with pytest.raises(RuntimeError, match="pip install pyyaml"):
        read_config_file(yml)
    unknown = tmp_path / "u.toml"
    unknown.write_text('data = ["a"]\nlearning_rate = 1\n')
    assert gensr_main(["train", "--config", str(unknown)]) == 2
    assert "unknown training option(s): learning_rate" in capsys.readouterr().err
    assert gensr_main(["train", "--preset", "tiny-test"]) == 2
    assert "--data" in capsys.readouterr().err
    assert gensr_main(["train", "--preset", "nope", "--data", "x"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_every_preset_builds_its_networks():
    from gensr.sr_core.archs import build_generator
    from gensr.sr_core.discriminators import build_discriminator

    for name in PRESETS:
        cfg = preset_config(name)
        with torch.device("meta"):
            g = build_generator(cfg.arch, {**cfg.arch_config, "scale": cfg.scale})
            if cfg.gan:
                build_discriminator(cfg.discriminator, cfg.discriminator_config)
        assert g.scale == cfg.scale and cfg.gt_size % cfg.scale == 0


def test_published_real_esrgan_settings():
    net, gan = preset_config("esrgan-x4-psnr"), preset_config("esrgan-x4-gan")
    assert net.arch_config == dict(num_feat=64, num_block=23, num_grow_ch=32)
    assert (net.lr, net.iterations, net.batch_size, net.gt_size, net.ema_decay, tuple(net.betas)) == (2e-4, 1_000_000, 12, 256, 0.999, (0.9, 0.99))
    assert (gan.lr, gan.d_lr, gan.iterations, gan.pixel_weight, gan.perceptual_weight, gan.adv_weight) == (1e-4, 1e-4, 400_000, 1.0, 1.0, 0.1)
    assert (gan.gan_loss, gan.discriminator, gan.degradation, gan.gt_usm) == ("vanilla", "unet", "realesrgan", True)
    assert preset_config("compact-x4-gan").arch == "compact"


def test_unusable_settings_are_refused(tmp_path):
    cfg = TrainConfig(data=["x"], out=str(tmp_path))
    with pytest.raises(ValueError, match="gan = true"):
        Trainer(cfg.replace(adv_weight=0.1))
    with pytest.raises(ValueError, match="every loss weight is 0"):
        Trainer(cfg.replace(pixel_weight=0.0))
    with pytest.raises(FileNotFoundError, match="perceptual_weights_source"):
        Trainer(cfg.replace(perceptual_weight=1.0, perceptual_weights_source=str(tmp_path / "none.safetensors")))


class FakeClock:
    """A monotonic clock the test moves by hand, starting where a freshly booted machine's does."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("uptime", [0.0, 5.0, 1e6])  # seconds since boot when training starts
def test_progress_line_is_throttled_and_plain_off_a_terminal(uptime):
    out, clock = io.StringIO(), FakeClock(uptime)
    p = ProgressLine(1000, stream=out, log_interval=30, clock=clock)
    for i in range(1, 1001):
        clock.now = uptime + i * 0.125  # 8 it/s: a line at the first update, then every 30 s (240 its), then the last
        p.update(i, 0.5)
    p.close()
    lines = out.getvalue().splitlines()
    assert [l.split()[0] for l in lines] == ["1/1000", "241/1000", "481/1000", "721/1000", "961/1000", "1000/1000"]
    assert lines[-1].startswith("1000/1000 (100%) loss 0.5000 8.01 it/s ETA 0:00") and "\r" not in out.getvalue()


def test_logs_go_to_json_lines_and_tensorboard_when_installed(tmp_path, monkeypatch):
    from gensr.training import logs

    written = []

    class FakeWriter:
        def add_scalar(self, tag, value, step):
            written.append((tag, value, step))

        def close(self):
            written.append("closed")

    real_writer = logs._tensorboard_writer
    monkeypatch.setattr(logs, "_tensorboard_writer", lambda d: FakeWriter())
    log = logs.RunLog(tmp_path / "log.jsonl")
    log.write({"iteration": 5, "loss": 0.25, "lr": 1e-3})
    log.write({"iteration": 10, "validation": {"psnr": 30.0, "images": 2}})
    log.close()
    assert [json.loads(l)["iteration"] for l in (tmp_path / "log.jsonl").read_text().splitlines()] == [5, 10]
    assert ("train/loss", 0.25, 5) in written and ("validation/psnr", 30.0, 10) in written and written[-1] == "closed"

    # TensorBoard not installed: the real check finds no writer, and the run logs JSON lines only
    monkeypatch.setattr(logs, "_tensorboard_writer", real_writer)
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # `import` now raises ImportError
    seen = len(written)
    plain = logs.RunLog(tmp_path / "plain" / "b.jsonl")
    plain.write({"iteration": 1, "loss": 1.0, "validation": {"psnr": 20.5}})
    plain.close()
    assert plain.writer is None and not (tmp_path / "plain" / "tensorboard").exists()
    lines = (tmp_path / "plain" / "b.jsonl").read_text().splitlines()
    assert [json.loads(l) for l in lines] == [{"iteration": 1, "loss": 1.0, "validation": {"psnr": 20.5}}]
    assert len(written) == seen  # nothing reached any TensorBoard writer


def test_gt_usm_sharpens_the_pixel_target_only():
    from gensr.training.losses import GeneratorLosses

    hr = torch.zeros(1, 3, 32, 32)
    hr[..., 16:] = 0.6
    plain = GeneratorLosses(TrainConfig(), torch.device("cpu"))
    sharp = GeneratorLosses(TrainConfig(gt_usm=True), torch.device("cpu"))
    assert plain.generator_loss(hr, hr, 0)[1]["l_pix"] == 0.0
    assert sharp.generator_loss(hr, hr, 0)[1]["l_pix"] > 0.001


def test_gt_usm_losses_choose_which_targets_are_sharpened(tmp_path):
    from gensr.training.losses import GeneratorLosses
    from training_env import tiny_vgg19_file

    hr = torch.zeros(1, 3, 32, 32)
    hr[..., 16:] = 0.6
    vgg = str(tiny_vgg19_file(tmp_path / "vgg.safetensors"))
    base = dict(gt_usm=True, perceptual_weight=1.0, perceptual_layers={"conv1_2": 1.0}, perceptual_weights_source=vgg)
    both = GeneratorLosses(TrainConfig(**base), torch.device("cpu")).generator_loss(hr, hr, 0)[1]
    percep_only = GeneratorLosses(TrainConfig(**base, gt_usm_losses=["perceptual"]), torch.device("cpu"))
    logs = percep_only.generator_loss(hr, hr, 0)[1]
    # the output equals the plain target: only a sharpened target gives a loss
    assert both["l_pix"] > 0.001 and both["l_percep"] > 0.0
    assert logs["l_pix"] == 0.0 and logs["l_percep"] == both["l_percep"]
    with pytest.raises(ValueError, match="gt_usm_losses"):
        GeneratorLosses(TrainConfig(gt_usm=True, gt_usm_losses=["gan"]), torch.device("cpu"))
