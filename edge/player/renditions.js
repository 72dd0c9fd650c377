// The review page's rendition picker (controls.js creates it): auto, or one rung of the
// ladder pinned, through hls.js levels. A rung picked while paused shows the same frame.
"use strict";

window.DailiesRenditions = (() => {
  function create({ select, video, trace, frameOnScreen, seekFrame }) {
    let hls = null;
    let picked = null; // {frame, level}: a rendition picked while paused, until it is buffered

    function fill() {
      const keep = select.value;
      select.length = 0;
      select.add(new Option("auto", "-1"));
      hls.levels.forEach((level, i) => {
        const kbps = Math.round(level.bitrate / 1000);
        select.add(new Option(`${level.height || "?"}p · ${kbps} kb/s`, String(i)));
      });
      select.value = hls.levels[Number(keep)] ? keep : "-1";
    }

    function attach(instance) {
      hls = instance;
      picked = null;
      select.disabled = !hls;
      if (!hls) return;
      const H = window.Hls;
      hls.on(H.Events.MANIFEST_PARSED, fill);
      hls.on(H.Events.FRAG_BUFFERED, (_e, data) => {
        if (!picked || data.frag.type !== "main" || (picked.level >= 0 && data.frag.level !== picked.level)) return;
        const { frame } = picked;
        picked = null;
        // Sought since the pick: the frame now wanted, sought again in the new rendition
        // (Chromium left the picture of before the flush on screen under the right clock).
        if (video.paused) seekFrame(frame === null ? frameOnScreen() : frame);
      });
      hls.on(H.Events.LEVEL_SWITCHED, (_e, data) => {
        trace.level = data.level;
        const auto = select.options[0];
        const level = hls.levels[data.level];
        if (auto && level) auto.textContent = `auto (${level.height}p)`;
      });
      if (hls.levels && hls.levels.length) fill();
    }

    // The reviewer moved on before the new rendition arrived (played, or sought: Home, End, a
    // step, the scrub bar): the frame they picked it on is no longer where they are (seeking
    // back to it took End back to the start); where they are now is sought instead.
    video.addEventListener("play", () => { if (picked) picked.frame = null; });
    video.addEventListener("seeking", () => { if (picked) picked.frame = null; });

    select.addEventListener("change", () => {
      if (!hls) return;
      // Paused, the element keeps showing the old rendition's picture until something seeks
      // once the new one is buffered, and its first picture may sit elsewhere on the clock:
      // then the same frame is sought in it (by its own clock: controls.js's start()).
      const level = Number(select.value);
      picked = video.paused ? { frame: frameOnScreen(), level } : null;
      // currentLevel switches now (flushing what is buffered); -1 hands it back to ABR.
      hls.currentLevel = level;
      trace.levelAsked = level;
      select.blur();
    });

    return { attach };
  }

  return { create };
})();
