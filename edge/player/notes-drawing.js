// The drawing layer of the notes (notes.js): a canvas laid exactly over the picture (not the
// letterbox). While a note is written, dragging over the picture draws strokes of points in
// 0..1 of the frame (the API's shape, within its caps); a selected note's strokes are drawn
// over its frame.
"use strict";

window.DailiesNoteDrawing = (() => {
  const COLOR = "#ff3b30";
  const WIDTH = 0.004; // of the frame's width, the API's default
  const LIMITS = { strokes: 64, perStroke: 2000, points: 10000 }; // dailies/note_rules.py

  function create({ video, stage, trace }) {
    const canvas = document.createElement("canvas");
    canvas.className = "notes-canvas";
    stage.append(canvas);
    const ctx = canvas.getContext("2d");
    let strokes = []; // the note being written's
    let composing = false;
    let shown = null; // a selected note's strokes

    function place() {
      const boxW = video.clientWidth, boxH = video.clientHeight;
      const aspect = video.videoWidth && video.videoHeight ? video.videoWidth / video.videoHeight
        : boxW / boxH;
      const w = Math.min(boxW, boxH * aspect), h = w / aspect;
      Object.assign(canvas.style, { left: `${video.offsetLeft + (boxW - w) / 2}px`,
        top: `${video.offsetTop + (boxH - h) / 2}px`, width: `${w}px`, height: `${h}px` });
      canvas.width = Math.round(w * devicePixelRatio);
      canvas.height = Math.round(h * devicePixelRatio);
      redraw();
    }
    function paint(list) {
      for (const stroke of list) {
        ctx.strokeStyle = stroke.color;
        ctx.lineWidth = Math.max(1, (stroke.width || WIDTH) * canvas.width);
        ctx.lineCap = ctx.lineJoin = "round";
        ctx.beginPath();
        stroke.points.forEach(([x, y], i) => {
          const px = x * canvas.width, py = y * canvas.height;
          if (i === 0) { ctx.moveTo(px, py); ctx.lineTo(px + 0.01, py); } else ctx.lineTo(px, py);
        });
        ctx.stroke();
      }
    }
    function redraw() {
      ctx.clearRect(0, 0, canvas.width, canvas.height);
      const list = composing ? strokes : shown || [];
      paint(list);
      trace.notes.drawn = list.length;
    }
    new ResizeObserver(place).observe(video);
    video.addEventListener("loadedmetadata", place);

    const unit = (event) => {
      const box = canvas.getBoundingClientRect();
      const clamp = (v) => Math.min(1, Math.max(0, Math.round(v * 1e4) / 1e4));
      return [clamp((event.clientX - box.left) / box.width), clamp((event.clientY - box.top) / box.height)];
    };
    const pointCount = () => strokes.reduce((sum, s) => sum + s.points.length, 0);
    let stroke = null;
    canvas.addEventListener("pointerdown", (event) => {
      if (!composing || strokes.length >= LIMITS.strokes) return;
      canvas.setPointerCapture(event.pointerId);
      stroke = { color: COLOR, width: WIDTH, points: [unit(event)] };
      strokes.push(stroke);
      redraw();
    });
    canvas.addEventListener("pointermove", (event) => {
      if (!stroke || stroke.points.length >= LIMITS.perStroke || pointCount() >= LIMITS.points) return;
      stroke.points.push(unit(event));
      redraw();
    });
    const endStroke = () => { stroke = null; };
    canvas.addEventListener("pointerup", endStroke);
    canvas.addEventListener("pointercancel", endStroke);

    return {
      place,
      // Writing a note: the picture takes the pointer, strokes start empty.
      compose() { composing = true; strokes = []; canvas.classList.add("drawing"); redraw(); },
      stop() { composing = false; strokes = []; canvas.classList.remove("drawing"); redraw(); },
      clear() { strokes = []; redraw(); },
      strokes: () => strokes,
      show(drawing) { shown = drawing ? drawing.strokes : null; redraw(); },
    };
  }

  return { create };
})();
