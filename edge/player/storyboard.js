// The storyboard of a finished preview for the scrub bar's thumbnails (controls.js):
// storyboard.vtt's cues, each a time span and a tile of a sprite (`sprite.jpg#xywh=x,y,w,h`).
"use strict";

window.DailiesStoryboard = (() => {
  function seconds(stamp) {
    return stamp.split(":").reduce((sum, part) => sum * 60 + Number(part), 0);
  }

  function parse(text, url) {
    const parsed = [];
    for (const block of text.split(/\r?\n\r?\n/)) {
      const lines = block.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      const at = lines.findIndex((l) => l.includes("-->"));
      if (at < 0 || !lines[at + 1] || !lines[at + 1].includes("#xywh=")) continue;
      const [start, end] = lines[at].split("-->").map((s) => seconds(s.trim().split(" ")[0]));
      const [uri, box] = lines[at + 1].split("#xywh=");
      const [x, y, w, h] = box.split(",").map(Number);
      parsed.push({ start, end, src: new URL(uri, url).href, x, y, w, h });
    }
    return parsed;
  }

  // The cues ([] while there is no storyboard yet: it comes with the finished build).
  async function load(base) {
    const url = new URL(`${base}storyboard.vtt`, location.href).href;
    const response = await fetch(url, { cache: "no-store" }).catch(() => null);
    if (!response || !response.ok) return [];
    return parse(await response.text(), url);
  }

  return { load };
})();
