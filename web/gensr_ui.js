// What GenSR's front-end extension shows, as plain functions (no ComfyUI
// imports), so that they can be checked with Node alone (tests/test_nodes_web.py).

/** Name of the read-only text widget on GenSR Compare Images. */
export const METRICS_WIDGET = "gensr_metrics";
/** Pixel height of one line of that text, and the padding around it. */
export const LINE_HEIGHT = 16;
export const PADDING = 10;

/** Which of the images shown on GenSR Compare Images is A and which is B
 * (the node shows the image_a batch, then the image_b batch). */
export function whichIsWhich(countA, countB) {
    if (countA === 1 && countB === 1) return "Shown: A = image_a (first), B = image_b (second)";
    const range = (first, count) => (count === 1 ? `${first}` : `${first}-${first + count - 1}`);
    return `Shown: A = image_a (${range(1, countA)}), B = image_b (${range(countA + 1, countB)})`;
}

/** The text for GenSR Compare Images' "executed" message: the numbers (ui.text),
 * then which image is which when the node shows the pair; "" when there is nothing to show. */
export function metricsText(message) {
    const text = message?.text;
    let out = Array.isArray(text) ? text.join("\n") : text ? String(text) : "";
    if (!out) return "";
    const a = message.a_images?.length ?? 0;
    const b = message.b_images?.length ?? 0;
    if (a > 0 && b > 0) out += "\n" + whichIsWhich(a, b);
    return out;
}

/** Height in pixels that shows `text` whole, and no more. */
export function metricsHeight(text) {
    return String(text).split("\n").length * LINE_HEIGHT + PADDING;
}

/** Take the progress preview off `node` (GenSR Upscale shows a thumbnail of each
 * finished frame while it runs; left there, it would read as a result of the
 * thumbnail's size). `store` is the front end's node output store when it has
 * one (front end 1.2x and later; some of them revoke REVOKE_DELAY_MS after being
 * asked); every front end also draws the node's `imgs`, cleared here. */
export function clearPreview(app, node, store) {
    const id = String(node.id); // a root-graph node's locator and execution id
    if (typeof store?.revokePreviewsByLocatorId === "function") store.revokePreviewsByLocatorId(id);
    else if (typeof store?.revokePreviewsByExecutionId === "function") store.revokePreviewsByExecutionId(id);
    if (typeof app.revokePreviews === "function") app.revokePreviews(id); // front ends before the store
    if (app.nodePreviewImages && id in app.nodePreviewImages) delete app.nodePreviewImages[id];
    node.imgs = undefined;
    node.imageIndex = null;
    node.setDirtyCanvas?.(true, true);
}

/** How long the front end's store waits before revoking previews it was asked to revoke. */
export const REVOKE_DELAY_MS = 400;

/** Follows ComfyUI's "executing" events (the running node's id, null at the
 * end) and calls `onDone(id)` for each watched node once it has stopped running. */
export class RunWatcher {
    constructor(isWatched, onDone) {
        this.isWatched = isWatched;
        this.onDone = onDone;
        this.running = new Set();
    }

    executing(nodeId) {
        const id = nodeId == null ? null : String(nodeId);
        for (const done of [...this.running]) {
            if (done !== id) {
                this.running.delete(done);
                this.onDone(done);
            }
        }
        if (id !== null && this.isWatched(id)) this.running.add(id);
    }

    /** The run ended (success, error or Cancel): every watched node is done. */
    finished() {
        this.executing(null);
    }
}
