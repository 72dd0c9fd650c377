// Reviewer controls for the review page: one control bar (no native controls), source
// timecode, frame steps, J/K/L shuttle, playback rate, rendition picker, full screen, the scrub
// bar with storyboard thumbnails, and keyboard help. player.js creates it; it never talks to
// the API (player.js owns the grant and the build), only to the edge for this preview's files.
"use strict";

window.DailiesControls = (() => {
  const $ = (id) => document.getElementById(id);
  const TC = window.DailiesTimecode;
  const SHUTTLE = [1, 2, 4, 8];
  const RATES = [0.25, 0.5, 1, 1.5, 2];

  function create({ video, base, trace }) {
    const scrub = $("scrub");
    const played = $("scrub-played");
    const thumb = $("thumb");
    const tcEl = $("timecode");
    const playButton = $("play");
    const rateSelect = $("rate");
    const renditionSelect = $("rendition");
    const help = $("help");
    const stage = $("stage");
    let timing = null; // timing.json, or a count from 00:00:00:00 at the preview's rate
    let rate = null;
    let hls = null;
    let cues = [];
    let reverse = null; // J: the timer stepping backwards (browsers cannot play in reverse)
    let shuttle = 0;

    // ---- time and timecode ----
    const fps = () => (timing ? timing.fps : 25);
    // Where the playing rendition's first picture sits on the media clock: B-frame encodes
    // start a few frames after zero (timing.json measures it per rendition).
    function start() {
      const starts = (timing && timing.video_start_s) || {};
      const index = hls ? (hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel) : -1;
      const level = hls && hls.levels[index];
      const name = level ? (level.uri || level.url || "").split("?")[0].split("/").slice(-2, -1)[0] : "";
      return starts[name] || 0;
    }
    const frameNow = (t = video.currentTime) => TC.frameAt(t - start(), fps());
    function total() {
      if (Number.isFinite(video.duration)) return video.duration;
      const ranges = video.seekable;
      return ranges.length ? ranges.end(ranges.length - 1) : 0;
    }
    function labelAt(frame) {
      return timing ? TC.label(timing.start_frame + frame, rate) : "--:--:--:--";
    }
    function showTime(mediaTime, presented = false) {
      // A presented frame's own time is its start (rounded by the container's clock): the
      // nearest frame; any other time lies inside a frame: the one it falls in.
      const frame = presented ? Math.max(0, Math.round((mediaTime - start()) * fps())) : frameNow(mediaTime);
      tcEl.textContent = labelAt(frame);
      tcEl.dataset.frame = String(frame);
      trace.frame = frame;
      trace.timecode = tcEl.textContent;
      const length = total();
      played.style.width = length ? `${(100 * mediaTime) / length}%` : "0";
    }
    // While playing: the presented frame's own time (requestVideoFrameCallback), so the
    // label belongs to the picture on screen, not to when timeupdate happened to fire.
    const perFrame = "requestVideoFrameCallback" in HTMLVideoElement.prototype;
    if (perFrame) {
      const onFrame = (_now, meta) => { showTime(meta.mediaTime, true); video.requestVideoFrameCallback(onFrame); };
      video.requestVideoFrameCallback(onFrame);
    }
    for (const event of ["seeked", "timeupdate", "loadedmetadata"]) {
      video.addEventListener(event, () => {
        if (!perFrame || video.paused || event !== "timeupdate") showTime(video.currentTime);
      });
    }

    async function loadTiming() {
      const response = await fetch(`${base}timing.json`, { cache: "no-store" }).catch(() => null);
      if (response && response.ok) {
        timing = await response.json();
      } else {
        // Previews built before timing.json: count from zero at the preview's own rate.
        const level = hls && hls.levels && hls.levels.find((l) => l.frameRate);
        const guess = level ? level.frameRate : 25;
        timing = { fps: guess, timecode_rate: Math.round(guess), drop_frame: false, start_frame: 0,
                   start_timecode: "00:00:00:00", source: "none" };
      }
      rate = TC.rateOf(timing);
      trace.timing = timing;
      $("frame-rate").textContent = `${timing.fps.toFixed(3).replace(/\.?0+$/, "")} fps` +
        (timing.drop_frame ? " DF" : "") + (timing.source === "none" ? " · no source TC" : "");
      showTime(video.currentTime);
    }

    // ---- transport ----
    function stopReverse() { if (reverse) { clearInterval(reverse); reverse = null; } }
    function pause() { stopReverse(); shuttle = 0; video.pause(); }
    function togglePlay() {
      if (video.paused || reverse) { stopReverse(); shuttle = 0; video.playbackRate = Number(rateSelect.value); video.play(); }
      else pause();
    }
    function seekFrame(frame) {
      // Before the duration is known nothing clamps the end (the browser will).
      const last = total() ? Math.max(0, Math.floor((total() - start()) * fps()) - 1) : Infinity;
      const target = Math.min(Math.max(0, frame), last);
      video.currentTime = start() + TC.timeOf(target, fps());
      return target;
    }
    function step(frames) {
      pause();
      return seekFrame(frameNow() + frames);
    }
    function forward() { // L: play, then faster on each press
      stopReverse();
      shuttle = shuttle > 0 ? Math.min(shuttle + 1, SHUTTLE.length) : 1;
      video.playbackRate = SHUTTLE[shuttle - 1];
      video.play();
    }
    function backward() { // J: step backwards on a timer, faster on each press
      video.pause();
      shuttle = shuttle < 0 ? Math.max(shuttle - 1, -SHUTTLE.length) : -1;
      const speed = SHUTTLE[-shuttle - 1];
      stopReverse();
      const every = 1000 / 12; // redraw rate while reversing
      reverse = setInterval(() => {
        if (video.currentTime <= 0) return pause();
        video.currentTime = Math.max(0, video.currentTime - (speed * every) / 1000);
      }, every);
    }
    video.addEventListener("play", () => { playButton.textContent = "❚❚"; });
    video.addEventListener("pause", () => { playButton.textContent = "▶"; });
    playButton.addEventListener("click", togglePlay);
    video.addEventListener("click", togglePlay);
    $("prev").addEventListener("click", () => step(-1));
    $("next").addEventListener("click", () => step(1));

    for (const r of RATES) rateSelect.add(new Option(`${r}×`, String(r), r === 1, r === 1));
    // Back to the page after a choice: the arrow keys step frames, not the list.
    rateSelect.addEventListener("change", () => { video.playbackRate = Number(rateSelect.value); rateSelect.blur(); });

    function fullscreen() {
      if (document.fullscreenElement) document.exitFullscreen();
      else stage.requestFullscreen().catch(() => {});
    }
    $("fullscreen").addEventListener("click", fullscreen);
    $("mute").addEventListener("click", () => { video.muted = !video.muted; });
    video.addEventListener("volumechange", () => { $("mute").textContent = video.muted ? "unmute" : "mute"; });
    const toggleHelp = () => { help.hidden = !help.hidden; };
    $("help-button").addEventListener("click", toggleHelp);

    // ---- renditions (hls.js levels): auto, or one rung pinned ----
    function setHls(instance) {
      hls = instance;
      trace.hls = instance;
      if (!hls) { renditionSelect.disabled = true; return; }
      const H = window.Hls;
      const fill = () => {
        const keep = renditionSelect.value;
        renditionSelect.length = 0;
        renditionSelect.add(new Option("auto", "-1"));
        hls.levels.forEach((level, i) => {
          const kbps = Math.round(level.bitrate / 1000);
          renditionSelect.add(new Option(`${level.height || "?"}p · ${kbps} kb/s`, String(i)));
        });
        renditionSelect.value = hls.levels[Number(keep)] ? keep : "-1";
      };
      hls.on(H.Events.MANIFEST_PARSED, fill);
      hls.on(H.Events.LEVEL_SWITCHED, (_e, data) => {
        trace.level = data.level;
        const auto = renditionSelect.options[0];
        const level = hls.levels[data.level];
        if (auto && level) auto.textContent = `auto (${level.height}p)`;
      });
      if (hls.levels && hls.levels.length) fill();
    }
    renditionSelect.addEventListener("change", () => {
      if (!hls) return;
      // currentLevel switches now (flushing what is buffered); -1 hands it back to ABR.
      hls.currentLevel = Number(renditionSelect.value);
      trace.levelAsked = Number(renditionSelect.value);
      renditionSelect.blur();
    });

    // ---- the scrub bar, with storyboard thumbnails (storyboard.vtt: cues of sprite#xywh=) ----
    function seconds(stamp) {
      return stamp.split(":").reduce((sum, part) => sum * 60 + Number(part), 0);
    }
    function parseStoryboard(text, url) {
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
    async function loadStoryboard() {
      const url = new URL(`${base}storyboard.vtt`, location.href).href;
      const response = await fetch(url, { cache: "no-store" }).catch(() => null);
      if (!response || !response.ok) return;
      cues = parseStoryboard(await response.text(), url);
      trace.storyboardCues = cues.length;
    }
    function fractionAt(event) {
      const box = scrub.getBoundingClientRect();
      return Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    }
    let dragging = false;
    const seekTo = (event) => { const length = total(); if (length) video.currentTime = fractionAt(event) * length; };
    scrub.addEventListener("pointerdown", (event) => { dragging = true; scrub.setPointerCapture(event.pointerId); seekTo(event); });
    scrub.addEventListener("pointerup", () => { dragging = false; });
    scrub.addEventListener("pointermove", (event) => {
      if (dragging) seekTo(event);
      const at = fractionAt(event) * total();
      const cue = cues.find((c) => at >= c.start && at < c.end);
      Object.assign(thumb.style, { display: "block", left: `${fractionAt(event) * 100}%` });
      Object.assign(thumb.style, cue ? {
        width: `${cue.w}px`, height: `${cue.h}px`, backgroundImage: `url("${cue.src}")`,
        backgroundPosition: `-${cue.x}px -${cue.y}px`,
      } : { width: "90px", height: "18px", backgroundImage: "none" });
      thumb.firstElementChild.textContent = labelAt(frameNow(at));
    });
    scrub.addEventListener("pointerleave", () => { thumb.style.display = "none"; });

    // ---- the poster: shown until the first frame is ----
    function showPoster() {
      if (trace.posterAt) return;
      const url = `${base}poster.jpg`;
      const image = new Image();
      image.onload = () => {
        video.poster = url;
        trace.posterAt = Math.round(performance.now());
      };
      image.src = url; // a 404 (still building) just leaves the first frame to come
    }

    // ---- keyboard ----
    const KEYS = {
      " ": togglePlay, k: pause, K: pause, l: forward, L: forward, j: backward, J: backward,
      ArrowLeft: (e) => (e.shiftKey ? seekFrame(frameNow() - Math.round(fps())) : step(-1)),
      ArrowRight: (e) => (e.shiftKey ? seekFrame(frameNow() + Math.round(fps())) : step(1)),
      Home: () => seekFrame(0), End: () => total() && seekFrame(Infinity),
      f: fullscreen, F: fullscreen, m: () => { video.muted = !video.muted; }, "?": toggleHelp,
      Escape: () => { help.hidden = true; },
    };
    document.addEventListener("keydown", (event) => {
      if (event.target instanceof HTMLSelectElement || event.target instanceof HTMLInputElement) return;
      const action = KEYS[event.key];
      if (!action || event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      action(event);
    });

    return { loadTiming, loadStoryboard, setHls, showPoster, seekFrame, step };
  }

  return { create };
})();
