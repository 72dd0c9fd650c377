// Approvals on the review page (notes.js starts it): the caller's verdict on the master
// (Approve / Needs changes, pressed again: withdrawn) and everyone's, through the API.
"use strict";

window.DailiesApproval = (() => {
  const STATUS_WORDS = { approved: "approved", needs_changes: "needs changes", none: "no verdict" };

  function create({ box, base, api, trace, say, why }) {
    const buttons = box.querySelectorAll("button[data-status]");
    function show(data) {
      const mine = data.approvals.find((a) => a.key_id === data.caller.key_id);
      const status = mine ? mine.status : "none";
      trace.notes.approval = status;
      for (const button of buttons) button.setAttribute("aria-pressed", String(button.dataset.status === status));
      box.querySelector(".notes-mine").textContent = `You: ${STATUS_WORDS[status]}`;
      box.querySelector(".notes-everyone").replaceChildren(...data.approvals
        .filter((a) => a.status !== "none").map((a) => {
          const item = document.createElement("li");
          item.className = `verdict ${a.status}`;
          item.textContent = `${a.name || `key ${a.key_id}`} (${a.role}): ${STATUS_WORDS[a.status]}`;
          return item;
        }));
    }
    // Everyone's verdicts; answers who is asking ({key_id, name, role}), or null.
    async function load() {
      const res = await api("GET", `${base}/approval`);
      if (res.status !== 200) return null;
      show(res.data);
      return res.data.caller;
    }
    for (const button of buttons) {
      button.addEventListener("click", async () => {
        const pressed = button.getAttribute("aria-pressed") === "true";
        const res = await api("PUT", `${base}/approval`, { status: pressed ? "none" : button.dataset.status });
        if (res.status !== 200) { say(`The verdict was not saved: ${why(res)}.`); return; }
        await load();
      });
    }
    return { load };
  }

  return { create };
})();
