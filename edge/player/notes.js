// Notes on the frame and approvals for the review page (issue 26 items 3-4): the master's notes
// listed under the player (click one: the picture goes to its frame), markers on the scrub bar,
// N / I / O to write a note at a frame or over a range, an optional drawing over the picture
// (strokes of points in 0..1 of the frame, the API's shape), replies, resolve for editors, and
// each reviewer's approval; a reviewer edits and deletes their own notes (an admin anyone's),
// and downloads them for an NLE (CSV, EDL, FCPXML). The drawing layer is notes-drawing.js.
// player.js starts it with {sha, api, trace, controls, video}; everything goes through `api`
// (the bearer token); nothing here touches the player's logic.
"use strict";

window.DailiesNotes = (() => {

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text; // text, never markup: notes are anyone's words
    return node;
  }

  let shown = false;
  async function show({ sha, api, trace, controls, video }) {
    if (shown) return; // "Try again" runs player.js's main() once more: one canvas, one listener
    shown = true;
    const section = document.getElementById("notes");
    const $ = (selector) => section.querySelector(selector);
    const list = $(".notes-list");
    const form = $(".notes-compose");
    const textarea = form.querySelector("textarea");
    const where = form.querySelector(".notes-where");
    const message = $(".notes-message");
    const scrub = document.getElementById("scrub");
    const state = { notes: [], timing: null, canResolve: true, marks: {},
      composing: null, selected: null, caller: null, editing: null };
    trace.notes = { loaded: 0, saved: [], errors: [] };

    const say = (text) => { message.textContent = text; if (text) trace.notes.errors.push(text); };
    const base = `/masters/${sha}`;
    const frameNow = () => Number(trace.frame) || 0;
    // Paused the way K pauses (a reverse shuttle included), then on the frame asked for.
    const pauseAt = (frame) => { controls.step(0); return controls.seekFrame(frame); };
    const labelOf = (frame) => (trace.timing ? window.DailiesTimecode.label(
      trace.timing.start_frame + frame, window.DailiesTimecode.rateOf(trace.timing)) : "");
    const range = (n) => (n.frame_out == null ? n.timecode_in : `${n.timecode_in}–${n.timecode_out}`);
    const frames = (n) => (n.frame_out == null ? `frame ${n.frame_in}` : `frames ${n.frame_in}–${n.frame_out}`);

    const drawing = window.DailiesNoteDrawing.create({
      video, stage: document.getElementById("stage"), trace });
    const redraw = () => drawing.show(!state.composing && state.selected ? state.selected.drawing : null);

    // ---- markers on the scrub bar: children of #scrub, placed by frame / frame count ----
    function place(node, first, last) {
      const count = state.timing ? state.timing.frame_count : 0;
      if (!count) { node.hidden = true; return; }
      node.style.left = `${(100 * first) / count}%`;
      node.style.width = `max(3px, ${(100 * (last - first + 1)) / count}%)`;
    }
    function drawMarkers() {
      for (const old of scrub.querySelectorAll(".note-marker")) old.remove();
      for (const note of state.notes) {
        const marker = el("div", `note-marker${note.resolved ? " resolved" : ""}`);
        marker.dataset.noteId = String(note.note_id);
        marker.classList.toggle("selected", state.selected === note);
        place(marker, note.frame_in, note.frame_out ?? note.frame_in);
        scrub.append(marker);
      }
      const { in: markIn, out: markOut } = state.marks;
      if (markIn !== undefined || markOut !== undefined) {
        const pending = el("div", "note-marker pending");
        const ends = [markIn ?? markOut, markOut ?? markIn].sort((a, b) => a - b);
        place(pending, ends[0], ends[1]);
        scrub.append(pending);
      }
    }

    // ---- the list ----
    function render() {
      list.replaceChildren();
      for (const note of state.notes) {
        const item = el("li", "note");
        item.dataset.noteId = String(note.note_id);
        item.classList.toggle("resolved", note.resolved);
        item.classList.toggle("selected", state.selected === note);
        const seek = el("button", "link note-seek", range(note));
        seek.title = "show this frame";
        seek.addEventListener("click", () => select(note));
        const meta = el("span", "meta", ` ${frames(note)} · ${note.author || `key ${note.author_key_id}`}` +
          ` · ${new Date(note.created_at).toLocaleString()}${note.drawing ? " · drawing" : ""}` +
          (note.resolved ? ` · resolved by ${note.resolved_by || "an editor"}` : ""));
        item.append(seek, meta, state.editing === note.note_id ? editor(note) : el("p", "note-text", note.text));
        const replies = el("ul", "note-replies");
        for (const reply of note.replies || []) {
          const line = el("li");
          line.dataset.noteId = String(reply.note_id);
          line.append(el("span", "meta", `${reply.author || `key ${reply.author_key_id}`}: `), reply.text);
          if (mine(reply)) line.append(" ", deleteButton(reply));
          replies.append(line);
        }
        item.append(replies, actions(note));
        list.append(item);
      }
      $(".notes-count").textContent = state.notes.length ? `(${state.notes.length})` : "";
      drawMarkers();
    }
    // Your own notes and replies (an admin's: anyone's), as the API has it.
    const mine = (note) => Boolean(state.caller) &&
      (note.author_key_id === state.caller.key_id || state.caller.role === "admin");
    function deleteButton(note) {
      const remove = el("button", "link note-delete", "delete");
      remove.type = "button";
      remove.addEventListener("click", async () => {
        // A second press deletes: one slip must not lose a note and its replies.
        if (remove.dataset.armed !== "true") {
          remove.dataset.armed = "true";
          remove.textContent = note.parent_id ? "delete this reply?" : "delete, with its replies?";
          return;
        }
        const res = await api("DELETE", `${base}/notes/${note.note_id}`);
        if (res.status === 204) await refresh(); else say(`Not deleted: ${why(res)}.`);
      });
      return remove;
    }
    function editor(note) {
      const box = el("form", "note-editor");
      const area = el("textarea");
      Object.assign(area, { value: note.text, rows: 3, maxLength: 4000, required: true });
      area.setAttribute("aria-label", `text of the note at ${note.timecode_in}`);
      const stop = el("button", "", "Cancel");
      stop.type = "button";
      stop.addEventListener("click", () => { state.editing = null; render(); });
      box.append(area, el("button", "", "Save"), stop);
      box.addEventListener("submit", async (event) => {
        event.preventDefault();
        const res = await api("PATCH", `${base}/notes/${note.note_id}`, { text: area.value });
        if (res.status !== 200) { say(`The note was not changed: ${why(res)}.`); return; }
        state.editing = null;
        await refresh();
      });
      box.addEventListener("keydown", (event) => {
        event.stopPropagation(); // text, never a player key
        if (event.key === "Escape") stop.click();
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); box.requestSubmit(); }
      });
      return box;
    }
    function actions(note) {
      const row = el("form", "note-actions");
      const input = el("input");
      Object.assign(input, { type: "text", placeholder: "reply", maxLength: 4000, required: true });
      input.setAttribute("aria-label", `reply to the note at ${note.timecode_in}`);
      row.append(input, el("button", "", "Reply"));
      row.addEventListener("submit", async (event) => {
        event.preventDefault(); // form-action 'none': the page never submits, it asks the API
        const res = await api("POST", `${base}/notes/${note.note_id}/replies`, { text: input.value });
        if (res.status === 201) await refresh(); else say(`The reply was not saved: ${why(res)}.`);
      });
      if (state.canResolve) {
        const resolve = el("button", "note-resolve", note.resolved ? "Reopen" : "Resolve");
        resolve.type = "button";
        resolve.addEventListener("click", async () => {
          const res = await api("POST", `${base}/notes/${note.note_id}/${note.resolved ? "unresolve" : "resolve"}`);
          // A reviewer's token: resolving is an editor's, so stop offering it.
          if (res.status === 403) { state.canResolve = false; render(); return; }
          if (res.status === 200) await refresh(); else say(`Not changed: ${why(res)}.`);
        });
        row.append(resolve);
      }
      if (mine(note)) {
        const edit = el("button", "note-edit", "Edit");
        edit.type = "button";
        edit.addEventListener("click", () => {
          state.editing = note.note_id;
          render();
          list.querySelector(".note-editor textarea").focus();
        });
        row.append(edit, deleteButton(note));
      }
      return row;
    }
    const why = (res) => (typeof res.data.detail === "string" ? res.data.detail : `the API answered ${res.status}`);

    function select(note) {
      state.selected = note;
      const landed = pauseAt(note.frame_in);
      trace.notes.selected = { id: note.note_id, frame: landed };
      render();
      redraw();
    }
    // The drawing belongs to its frames: gone when playing or once the picture leaves them.
    const leave = () => {
      const note = state.selected;
      if (!note || state.composing || video.seeking) return;
      const out = note.frame_out ?? note.frame_in;
      if (!video.paused || frameNow() < note.frame_in || frameNow() > out) { state.selected = null; render(); redraw(); }
    };
    video.addEventListener("play", leave);
    video.addEventListener("seeked", leave);

    async function refresh() {
      const all = [];
      let after = 0;
      for (;;) {
        const res = await api("GET", `${base}/notes?after=${after}&limit=200`);
        if (res.status !== 200) { trace.notes.status = res.status; return false; }
        state.timing = res.data.timing;
        all.push(...res.data.notes);
        if (res.data.next_after === null) break;
        after = res.data.next_after;
      }
      const selectedId = state.selected && state.selected.note_id;
      state.notes = all;
      state.selected = all.find((n) => n.note_id === selectedId) || null;
      trace.notes.loaded = all.length;
      render();
      return true;
    }

    // ---- writing a note: N opens the form at the frame on screen, or over the I/O range ----
    function compose() {
      if (state.composing) { textarea.focus(); return; } // drawing took the focus: back to the text
      const here = frameNow();
      const { in: markIn, out: markOut } = state.marks;
      let first = here, last = null;
      if (markIn !== undefined || markOut !== undefined) {
        [first, last] = [markIn ?? here, markOut ?? here].sort((a, b) => a - b);
        if (first === last) last = null;
      }
      pauseAt(first); // the note is written looking at its (first) frame, drawn on it
      state.composing = { frame_in: first, frame_out: last };
      state.selected = null;
      drawing.compose();
      where.textContent = last === null ? `Note at ${labelOf(first)} (frame ${first})`
        : `Note on ${labelOf(first)}–${labelOf(last)} (frames ${first}–${last})`;
      form.hidden = false;
      textarea.value = "";
      // Scrolled only as far as the text box needs: the picture stays in view to draw on.
      textarea.focus({ preventScroll: true });
      const below = textarea.getBoundingClientRect().bottom - innerHeight;
      if (below > 0) scrollBy(0, below + 8);
      render();
    }
    function cancel() {
      state.composing = null;
      state.marks = {};
      form.hidden = true;
      drawing.stop();
      textarea.blur();
      drawMarkers();
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = textarea.value.trim();
      if (!text || !state.composing) { textarea.focus(); return; }
      const body = { ...state.composing, text };
      if (drawing.strokes().length) body.drawing = { strokes: drawing.strokes() };
      const res = await api("POST", `${base}/notes`, body);
      if (res.status !== 201) { say(`The note was not saved: ${why(res)}.`); return; }
      trace.notes.saved.push(res.data.note_id);
      say("");
      cancel();
      await refresh();
    });
    form.querySelector(".notes-cancel").addEventListener("click", cancel);
    form.querySelector(".notes-clear").addEventListener("click", () => drawing.clear());
    // Typing is text, never a player key (space, J/K/L, f, m...): keys stop at the form.
    form.addEventListener("keydown", (event) => {
      event.stopPropagation();
      if (event.key === "Escape") { event.preventDefault(); cancel(); }
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
    });
    list.addEventListener("keydown", (event) => {
      if (event.target instanceof HTMLInputElement) event.stopPropagation();
    });

    const KEYS = {
      n: compose,
      i: () => { state.marks.in = frameNow(); drawMarkers(); },
      o: () => { state.marks.out = frameNow(); drawMarkers(); },
      Escape: () => {
        if (state.composing || state.marks.in !== undefined || state.marks.out !== undefined) cancel();
      },
    };
    document.addEventListener("keydown", (event) => {
      const target = event.target;
      if (target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement ||
          target instanceof HTMLSelectElement || event.ctrlKey || event.metaKey || event.altKey) return;
      const action = KEYS[event.key.length === 1 ? event.key.toLowerCase() : event.key];
      if (!action) return;
      if (event.key !== "Escape") { event.preventDefault(); event.stopPropagation(); }
      action();
      trace.notes.marks = { ...state.marks };
    });

    // ---- approval (notes-approval.js): who is asking decides what the list offers ----
    const approvals = window.DailiesApproval.create({ box: $(".notes-approval"), base, api, trace, say, why });
    async function loadApprovals() {
      const caller = await approvals.load();
      if (!caller) return;
      state.caller = caller;
      state.canResolve = ["editor", "admin"].includes(caller.role);
    }

    window.DailiesNoteExports.wire({ section, sha, base, api, say, why });

    await loadApprovals();
    if (!(await refresh())) return; // no token, or not a reviewer's: no notes section
    section.hidden = false;
    drawing.place();
  }

  return { show };
})();
