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
    // A rendition picked while paused is the one the next seek shows (manualLevel).
    function playingLevel() {
      if (!hls) return null;
      const index = hls.manualLevel >= 0 ? hls.manualLevel
        : hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel;
      return hls.levels[index] || null;
    }
    function start() {
      const starts = (timing && timing.video_start_s) || {};
      const level = playingLevel();
      const name = level ? (level.uri || level.url || "").split("?")[0].split("/").slice(-2, -1)[0] : "";
      return starts[name] || 0;
    }
    // No later than the last picture: past it (audio running on) the last one stays on screen.
    const frameNow = (t = video.currentTime) => Math.min(lastFrame(), TC.frameAt(t - start(), fps()));
    function total() {
      if (Number.isFinite(video.duration)) return video.duration;
      const ranges = video.seekable;
      return ranges.length ? ranges.end(ranges.length - 1) : 0;
    }
    // The scrub bar spans the master (timing.json's duration_s) from the start: a playlist
    // still being published is only as long as what exists so far. Frame sums keep total().
    const barLength = () => Math.max(total(), (timing && timing.duration_s) || 0);
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
      const length = barLength();
      played.style.width = length ? `${(100 * mediaTime) / length}%` : "0";
      // The scrub bar is a slider to assistive tech: its value is the frame, read as timecode.
      scrub.setAttribute("aria-valuenow", String(frame));
      scrub.setAttribute("aria-valuetext", tcEl.textContent);
      if (Number.isFinite(lastFrame())) scrub.setAttribute("aria-valuemax", String(lastFrame()));
    }
    // While playing: the presented frame's own time (requestVideoFrameCallback), so the
    // label belongs to the picture on screen, not to when timeupdate happened to fire.
    const perFrame = "requestVideoFrameCallback" in HTMLVideoElement.prototype;
    let presented = null; // the media time of the picture on screen, while it plays
    if (perFrame) {
      const onFrame = (_now, meta) => {
        presented = meta.mediaTime;
        showTime(meta.mediaTime, true);
        video.requestVideoFrameCallback(onFrame);
      };
      video.requestVideoFrameCallback(onFrame);
    }
    // The frame on screen: while playing, the presented picture's (currentTime runs ahead of
    // it by up to a frame); paused, the one currentTime falls in.
    const frameOnScreen = () => Math.min(lastFrame(), !video.paused && presented !== null
      ? Math.max(0, Math.round((presented - start()) * fps())) : frameNow());
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
    // The last picture. The playlist's segment durations are the video's own (ffmpeg's HLS
    // muxer times segments by the video's packets), so they count its frames. The media's
    // duration is no count: it is the longest track's (audio that runs on past the video put
    // End on frames that do not exist, the picture staying on whatever was shown), or the
    // playlist's without the first picture's offset. It serves only where no playlist is
    // known (Safari's own HLS). Before either is known nothing clamps the end.
    function lastFrame() {
      const level = playingLevel();
      const details = (level && level.details) ||
        ((hls && hls.levels.find((l) => l.details)) || {}).details;
      if (details && details.totalduration) return Math.max(0, Math.round(details.totalduration * fps()) - 1);
      return total() ? Math.max(0, Math.round((total() - start()) * fps()) - 1) : Infinity;
    }
    let wanted = null; // a seek the media's length cut short
    function seekFrame(frame) {
      const target = Math.min(Math.max(0, frame), lastFrame());
      const time = timeIn(target);
      video.currentTime = wanted = time;
      return target;
    }
    // Where to seek to show a frame: its middle, or, where the media has data for only the
    // start of it, the middle of that. A last picture that outlasts the sound by less than a
    // frame lies beyond what the element calls buffered (every track's data) until the
    // stream is ended, and a seek past that waits for it.
    function timeIn(frame) {
      const from = start() + frame / fps(), middle = start() + TC.timeOf(frame, fps());
      for (let i = 0; i < video.buffered.length; i++) {
        const end = video.buffered.end(i);
        if (video.buffered.start(i) <= from && end > from + 0.002 && end < middle) return (from + end) / 2;
      }
      return middle;
    }
    // hls.js sizes the media by the playlist, which ends before a B-frame encode's last
    // picture does: a seek there lands short until that picture's data is appended.
    video.addEventListener("durationchange", () => {
      if (wanted !== null && video.paused && video.currentTime < wanted && video.duration >= wanted) {
        video.currentTime = wanted;
      }
    });
    video.addEventListener("seeked", () => { if (video.currentTime >= wanted) wanted = null; });
    function step(frames) {
      const from = frameOnScreen();
      pause();
      return seekFrame(from + frames);
    }
    // Paused from play (space, K, a click): settle on the picture on screen. currentTime had
    // run into the next frame in about half the pauses, so the label named a frame not shown
    // and the next → moved only the label. A pause that seeks itself (a step, Home) is left
    // alone, and so is J's, which steps on a timer.
    video.addEventListener("pause", () => {
      if (video.seeking || reverse || presented === null) return;
      const frame = Math.max(0, Math.round((presented - start()) * fps()));
      if (frame !== frameNow()) seekFrame(frame);
    });
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
      wanted = null;
      reverse = setInterval(() => {
        if (video.currentTime <= 0) return pause();
        video.currentTime = Math.max(0, video.currentTime - (speed * every) / 1000);
      }, every);
    }
    // The glyph for the eye, the name for a screen reader (a glyph alone names nothing).
    video.addEventListener("play", () => { playButton.textContent = "❚❚"; playButton.setAttribute("aria-label", "Pause"); });
    video.addEventListener("pause", () => { playButton.textContent = "▶"; playButton.setAttribute("aria-label", "Play"); });
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
    // The help is a modal dialog: focus moves into it, Esc or its button closes it and
    // gives focus back to whatever opened it.
    let helpOpener = null;
    function closeHelp() {
      if (help.hidden) return;
      help.hidden = true;
      if (helpOpener) helpOpener.focus();
    }
    function toggleHelp() {
      if (!help.hidden) return closeHelp();
      helpOpener = document.activeElement;
      help.hidden = false;
      help.focus();
    }
    $("help-button").addEventListener("click", toggleHelp);
    $("help-close").addEventListener("click", closeHelp);

    // ---- renditions (renditions.js): auto, or one rung pinned ----
    const picker = window.DailiesRenditions.create({
      select: renditionSelect, video, trace, frameOnScreen, seekFrame });
    function setHls(instance) {
      hls = instance;
      presented = null; // a new source: no picture of it on screen yet
      if (hls) trace.hls = instance;
      picker.attach(hls);
    }

    // ---- the scrub bar, with storyboard thumbnails (storyboard.js) ----
    async function loadStoryboard() {
      cues = await window.DailiesStoryboard.load(base);
      trace.storyboardCues = cues.length;
    }
    function fractionAt(event) {
      const box = scrub.getBoundingClientRect();
      return Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    }
    let dragging = false;
    // Never past the last picture: the bar may span audio that runs on after it.
    const seekTo = (event) => {
      const length = barLength();
      wanted = null;
      if (length) video.currentTime = Math.min(fractionAt(event) * length, start() + TC.timeOf(lastFrame(), fps()));
    };
    scrub.addEventListener("pointerdown", (event) => { dragging = true; scrub.setPointerCapture(event.pointerId); seekTo(event); });
    scrub.addEventListener("pointerup", () => { dragging = false; });
    scrub.addEventListener("pointermove", (event) => {
      if (dragging) seekTo(event);
      const at = fractionAt(event) * barLength();
      const cue = cues.find((c) => at >= c.start && at < c.end);
      Object.assign(thumb.style, { display: "block", left: `${fractionAt(event) * 100}%` });
      Object.assign(thumb.style, cue ? {
        width: `${cue.w}px`, height: `${cue.h}px`, backgroundImage: `url("${cue.src}")`,
        backgroundPosition: `-${cue.x}px -${cue.y}px`,
      } : { width: "90px", height: "18px", backgroundImage: "none" });
      thumb.firstElementChild.textContent = labelAt(frameNow(at));
    });
    scrub.addEventListener("pointerleave", () => { thumb.style.display = "none"; });

    const showPoster = () => window.DailiesPoster.show({ base, trace, video }); // poster.js

    // ---- keyboard ----
    const KEYS = {
      " ": togglePlay, k: pause, K: pause, l: forward, L: forward, j: backward, J: backward,
      // Every jump pauses, as a frame step does: a label read while playing is already stale.
      ArrowLeft: (e) => step(e.shiftKey ? -Math.round(fps()) : -1),
      ArrowRight: (e) => step(e.shiftKey ? Math.round(fps()) : 1),
      Home: () => { pause(); seekFrame(0); }, End: () => { pause(); if (total()) seekFrame(Infinity); },
      f: fullscreen, F: fullscreen, m: () => { video.muted = !video.muted; }, "?": toggleHelp,
      Escape: closeHelp,
    };
    // The slider's own keys (ARIA: up is more), on the scrub bar only: a second a press.
    scrub.addEventListener("keydown", (event) => {
      const by = { ArrowUp: 1, PageUp: 10, ArrowDown: -1, PageDown: -10 }[event.key];
      if (!by) return;
      event.preventDefault();
      step(by * Math.round(fps()));
    });
    document.addEventListener("keydown", (event) => {
      // A list keeps ↑/↓ (choosing in it) but not ←/→: those step frames wherever focus is,
      // where a focused speed list would otherwise change the speed.
      const stepKey = event.key === "ArrowLeft" || event.key === "ArrowRight";
      if (event.target instanceof HTMLSelectElement && stepKey) event.target.blur();
      else if (event.target instanceof HTMLSelectElement || event.target instanceof HTMLInputElement ||
               event.target instanceof HTMLTextAreaElement) return;
      const action = KEYS[event.key];
      if (!action || event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      action(event);
    });

    return { loadTiming, loadStoryboard, setHls, showPoster, seekFrame, step, frameOnScreen, lastFrame };
  }

  return { create };
})();
