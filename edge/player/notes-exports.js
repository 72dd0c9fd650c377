// The notes' export links on the review page (notes.js wires them): CSV, CMX3600 EDL and
// FCPXML from the API's export routes. The routes want the bearer token, which a plain link
// cannot carry (it lives in the page's fragment), so each is fetched and saved as a file.
"use strict";

window.DailiesNoteExports = (() => {
  function wire({ section, sha, base, api, say, why }) {
    for (const button of section.querySelectorAll("button[data-export]")) {
      button.addEventListener("click", async () => {
        const kind = button.dataset.export;
        const res = await api("GET", `${base}/notes.${kind}`, undefined, "blob");
        if (res.status !== 200) { say(`No ${kind} export: ${why(res)}.`); return; }
        const link = document.createElement("a");
        link.href = URL.createObjectURL(res.data);
        link.download = `${sha.slice(0, 12)}-notes.${kind}`; // the API's own name for it
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(link.href), 60000);
      });
    }
  }

  return { wire };
})();
