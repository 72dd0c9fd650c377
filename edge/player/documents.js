// The documents attached to this master's assets (call sheets, scripts, LUTs, camera
// reports): listed from the API with the reviewer token; each opens through a presigned GET
// the API makes on the click, valid for a minute or two, so a link never outlives the visit.
"use strict";

window.DailiesDocuments = (() => {
  const sizeText = (bytes) =>
    bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${(bytes / 1024).toFixed(0)} KB`
      : `${(bytes / 1048576).toFixed(1)} MB`;

  // `api(method, path)` is player.js's: it adds the bearer token.
  async function show({ sha, api, trace }) {
    const section = document.getElementById("documents");
    const list = section.querySelector("ul");
    const note = section.querySelector(".note");
    const res = await api("GET", `/masters/${sha}/documents`);
    trace.documents = { status: res.status, count: (res.data.documents || []).length };
    if (res.status !== 200) return; // no token, or not a reviewer's: nothing to list
    list.replaceChildren();
    for (const doc of res.data.documents) {
      const item = document.createElement("li");
      const open = document.createElement("button");
      open.className = "link";
      open.textContent = doc.filename;
      open.dataset.documentId = doc.document_id;
      const meta = document.createElement("span");
      meta.className = "meta";
      meta.textContent = ` ${doc.asset_id} · ${doc.content_type} · ${sizeText(doc.size_bytes)}`;
      open.addEventListener("click", async () => {
        // The window opens now (a popup blocker allows it: this is the click), the URL follows.
        const win = window.open("", "_blank");
        const link = await api("GET", `/documents/${doc.document_id}`);
        trace.lastDocumentOpen = { status: link.status, id: doc.document_id };
        if (link.status === 200 && win) {
          win.opener = null;
          win.location.href = link.data.url;
        } else {
          if (win) win.close();
          note.textContent = `Could not open ${doc.filename}: the API answered ${link.status}.`;
        }
      });
      item.append(open, meta);
      list.append(item);
    }
    section.hidden = res.data.documents.length === 0;
  }

  return { show };
})();
