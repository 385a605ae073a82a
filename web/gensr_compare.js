// GenSR Compare Images: show its PSNR / SSIM line (the node's `ui.text`) on the
// node, sized to the text, with which image shown is A and which is B.
import { app } from "../../scripts/app.js";
import { ComfyWidgets } from "../../scripts/widgets.js";
import { METRICS_WIDGET, LINE_HEIGHT, PADDING, metricsHeight, metricsText } from "./gensr_ui.js";

const NODE = "GenSRCompare";
const DOM_MARGIN = 10;

function displayOnly(widget) {
    widget.serialize = false; // not saved in the workflow's widgets_values
    widget.options = widget.options ?? {};
    widget.options.serialize = false; // not sent as a node input (nor in "Export (API)")
    return widget;
}

function metricsWidget(node) {
    let widget = node.widgets?.find((w) => w.name === METRICS_WIDGET);
    if (widget) return widget;
    if (typeof node.addDOMWidget === "function") {
        const element = document.createElement("div");
        Object.assign(element.style, {
            padding: `${PADDING / 2}px 6px`,
            boxSizing: "border-box",
            overflow: "hidden",
            color: "var(--input-text, #ddd)",
            background: "var(--comfy-input-bg, #222)",
            borderRadius: "6px",
        });
        const text = document.createElement("div");
        Object.assign(text.style, { whiteSpace: "pre-wrap", overflowWrap: "anywhere", font: `12px/${LINE_HEIGHT}px monospace` });
        element.appendChild(text);
        // The text's own height once laid out at the node's width (long lines wrap);
        // before that (no width yet: every character would wrap), one line per line of text.
        // ComfyUI draws DOM widgets DOM_MARGIN px inside their slot, on each side.
        const height = () =>
            2 * DOM_MARGIN + (text.clientWidth >= 100 ? text.offsetHeight + PADDING : metricsHeight(text.textContent || " "));
        widget = node.addDOMWidget(METRICS_WIDGET, "gensr_text", element, {
            serialize: false,
            hideOnZoom: false,
            getValue: () => text.textContent,
            setValue: (v) => (text.textContent = v ?? ""),
            getMinHeight: height,
            getMaxHeight: height,
        });
        widget.textElement = text;
    } else {
        widget = ComfyWidgets["STRING"](node, METRICS_WIDGET, ["STRING", { multiline: true }], app).widget;
        if (widget.inputEl) {
            widget.inputEl.readOnly = true;
            widget.inputEl.style.opacity = 0.8;
        }
    }
    return displayOnly(widget);
}

function showText(node, text) {
    const widget = metricsWidget(node);
    if (widget.textElement) widget.textElement.textContent = text;
    else widget.value = text;
    if (widget.inputEl) widget.inputEl.rows = text.split("\n").length;
    const fit = () => {
        const size = node.computeSize();
        node.setSize([Math.max(node.size[0], size[0]), Math.max(node.size[1], size[1])]);
        node.setDirtyCanvas(true, true);
    };
    requestAnimationFrame(() => requestAnimationFrame(fit)); // after the text is laid out at the node's width
}

app.registerExtension({
    name: "GenSR.CompareText",
    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (nodeData.name !== NODE) return;
        const onExecuted = nodeType.prototype.onExecuted;
        nodeType.prototype.onExecuted = function (message) {
            onExecuted?.apply(this, arguments);
            const text = metricsText(message);
            if (text) showText(this, text);
        };
    },
});
