// GenSR Upscale Image: while it runs, the node shows a small preview of each
// finished frame; take it off when the node is done, so that no thumbnail
// (labelled with its own size, not the result's) stays on the node.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { REVOKE_DELAY_MS, RunWatcher, clearPreview } from "./gensr_ui.js";

const NODE = "GenSRUpscale";

/** The front end's node output store (Pinia), where previews live since
 * front end 1.2x; null on older front ends. */
function nodeOutputStore() {
    const root = document.getElementById("vue-app");
    return root?.__vue_app__?.config?.globalProperties?.$pinia?._s?.get("nodeOutput") ?? null;
}

function nodeById(id) {
    const n = Number(id);
    return Number.isFinite(n) ? app.graph?.getNodeById?.(n) : null;
}

const watcher = new RunWatcher(
    (id) => nodeById(id)?.comfyClass === NODE,
    (id) => {
        const clear = () => {
            const node = nodeById(id);
            if (node && !watcher.running.has(id)) clearPreview(app, node, nodeOutputStore());
        };
        clear();
        setTimeout(clear, REVOKE_DELAY_MS + 100); // again once a delayed revoke has redrawn the node
    },
);

app.registerExtension({
    name: "GenSR.UpscalePreview",
    setup() {
        api.addEventListener("executing", ({ detail }) => watcher.executing(detail?.node ?? detail));
        for (const event of ["execution_success", "execution_error", "execution_interrupted"]) {
            api.addEventListener(event, () => watcher.finished());
        }
    },
});
