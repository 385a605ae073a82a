"""The front-end extension's logic (web/gensr_ui.js), run with Node: the text
and height of GenSR Compare Images' metrics box, which image is A and which is
B, and taking GenSR Upscale's progress preview off once the node is done."""
from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WEB = ROOT / "web"
NODE = shutil.which("node")

HARNESS = r"""
import * as ui from %(module)s;
const out = {};
out.single = ui.metricsText({ text: ["PSNR 31.20 dB | SSIM 0.9100"], a_images: [{}], b_images: [{}] });
out.batch = ui.metricsText({ text: ["PSNR 30.00 dB | SSIM 0.9000\nnote"], a_images: [{}, {}, {}], b_images: [{}, {}, {}] });
out.oneB = ui.metricsText({ text: ["PSNR 30.00 dB | SSIM 0.9000"], a_images: [{}, {}], b_images: [{}] });
out.noImages = ui.metricsText({ text: "PSNR inf (identical) | SSIM 1.0000" });
out.nothing = ui.metricsText({ images: [{}] });
out.heights = [ui.metricsHeight("one"), ui.metricsHeight("one\ntwo\nthree")];
out.constants = [ui.LINE_HEIGHT, ui.PADDING, ui.METRICS_WIDGET];

const done = [];
const w = new ui.RunWatcher((id) => id === "3" || id === "7", (id) => done.push(id));
w.executing("1"); w.executing("3"); out.whileRunning = [...done];
w.executing("4"); w.executing("7"); w.executing(null); w.executing("3"); w.finished(); w.finished();
out.done = done;

const calls = [];
const store = { revokePreviewsByLocatorId: (id) => calls.push(["locator", id]), revokePreviewsByExecutionId: (id) => calls.push(["exec", id]) };
const node = { id: 3, imgs: ["x"], setDirtyCanvas: () => calls.push(["dirty"]) };
const app = { nodePreviewImages: { 3: ["blob:a"] } };
ui.clearPreview(app, node, store);
out.storeNode = { imgs: node.imgs ?? null, previews: Object.keys(app.nodePreviewImages) };
node.imgs = ["y"];
ui.clearPreview({}, node, { revokePreviewsByExecutionId: (id) => calls.push(["exec", id]) });
out.storeCalls = [...calls];
out.delayed = [ui.REVOKE_DELAY_MS, node.imgs ?? null];
calls.length = 0;
const legacyApp = { nodePreviewImages: { 3: ["blob:a"], 4: ["blob:b"] }, revokePreviews: (id) => calls.push(["revoke", id]) };
ui.clearPreview(legacyApp, node, null);
out.legacy = { calls, previews: Object.keys(legacyApp.nodePreviewImages), imgs: node.imgs ?? null };
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def js() -> dict:
    if NODE is None:
        pytest.skip("Node.js is not installed: the front-end logic is not checked")
    code = HARNESS % {"module": json.dumps((WEB / "gensr_ui.js").as_uri())}
    out = subprocess.run([NODE, "--input-type=module", "-e", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_metrics_text_says_which_image_is_a_and_which_is_b(js):
    assert js["single"] == "PSNR 31.20 dB | SSIM 0.9100\nShown: A = image_a (first), B = image_b (second)"
    assert js["batch"].splitlines() == ["PSNR 30.00 dB | SSIM 0.9000", "note", "Shown: A = image_a (1-3), B = image_b (4-6)"]
    assert js["oneB"].endswith("Shown: A = image_a (1-2), B = image_b (3)")
    assert js["noImages"] == "PSNR inf (identical) | SSIM 1.0000"  # outside ComfyUI no images are shown
    assert js["nothing"] == ""


def test_metrics_box_is_as_tall_as_its_lines(js):
    line, padding, name = js["constants"]
    assert js["heights"] == [line + padding, 3 * line + padding]
    assert name == "gensr_metrics"


def test_a_watched_node_is_done_when_the_next_node_starts_or_the_run_ends(js):
    assert js["whileRunning"] == []  # nothing is taken off while GenSR Upscale runs
    assert js["done"] == ["3", "7", "3"]  # once each, after each run of the node


def test_preview_is_revoked_through_the_front_ends_store(js):
    assert js["storeCalls"] == [["locator", "3"], ["dirty"], ["exec", "3"], ["dirty"]]
    assert js["storeNode"] == {"imgs": None, "previews": []}
    assert js["delayed"] == [400, None]


def test_preview_is_removed_on_older_front_ends(js):
    assert js["legacy"] == {"calls": [["revoke", "3"], ["dirty"]], "previews": ["4"], "imgs": None}


def test_metrics_widget_is_neither_saved_nor_sent_as_an_input():
    """``widget.serialize`` keeps the text out of the saved workflow and
    ``widget.options.serialize`` out of the prompt (and "Export (API)")."""
    source = (WEB / "gensr_compare.js").read_text()
    assert "widget.serialize = false" in source and "widget.options.serialize = false" in source
    assert "displayOnly(widget)" in source
