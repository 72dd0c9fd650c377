// While the full preview builds behind the page (player.js starts it once playing): say
// how far it is, ask again when it stands still, and move to the finished ladder on the frame
// on screen. Everything through player.js's `api`, `attach` and `autoplay`.
"use strict";

window.DailiesBuild = (() => {
  const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  function follower({ sha, api, trace, video, controls, say, attach, autoplay, keepGranted }) {
    // After playback starts the build may still run: say which rendition plays and how far
    // the full build is, polling often enough that the words are never long out of date.
    const FOLLOW_S = 2;
    // A build whose status and progress have not moved for this long may have lost its worker:
    // the page asks again (POST), as it did at the start, and the API relaunches a build it
    // finds dead (issue 23). Once per still stretch, not on every poll.
    const STALL_S = 60;
    const onFastRendition = () => Boolean(trace.hls && trace.hls.levels.length &&
      trace.hls.levels.every((level) => /\/first\//.test(level.uri || level.url || "")));

    async function followBuild() {
      let seen = null;
      let stillSince = performance.now();
      for (;;) {
        const res = await api("GET", `/preview/${sha}`);
        if (res.status !== 200) return;
        const { status, error } = res.data;
        if (status === "ready" || status === "missing") {
          await controls.loadStoryboard();
          controls.showPoster();
          say(status === "ready" ? "Preview complete: every rendition, poster and storyboard."
            : "Playing.", "playing");
          // A clip that ended stays on its last picture until the reviewer moves: a new
          // stream cannot show a B-frame encode's last pictures until hls.js ends it, which
          // it did not do after a switch (Chromium: the seek never landed).
          if (onFastRendition() && atLastPicture()) await movedOn();
          // Playback goes on where it is if the switch fails: it is an upgrade, not a need.
          if (onFastRendition()) await upgradeToLadder().catch(() => {});
          controls.loadTiming().catch(() => {}); // the ladder's, with its renditions' clocks
          return;
        }
        if (status === "failed") {
          say(`Showing what exists; the rest of the build failed: ${error || "no reason given"}`,
            "failed", true);
          return;
        }
        const now = `${status} ${res.data.progress}`;
        if (now !== seen) {
          seen = now;
          stillSince = performance.now();
        } else if (performance.now() - stillSince >= STALL_S * 1000) {
          stillSince = performance.now();
          await askAgain();
        }
        // The fast rendition's first-picture time is published just after its playlist: read
        // timing.json again until it is there, so labels match the picture (issue 26).
        const starts = trace.timing && trace.timing.video_start_s;
        if (onFastRendition() && !(starts && "first" in starts)) controls.loadTiming().catch(() => {});
        const pct = typeof res.data.progress === "number" ? `: ${Math.round(res.data.progress * 100)} %` : "";
        say(onFastRendition()
          ? `Fast rendition while the full preview builds${pct}.`
          : `The full preview is still building${pct}.`, "playing");
        await sleep(Math.min(res.retryAfter || FOLLOW_S, FOLLOW_S));
      }
    }

    // The build stood still for STALL_S: POST /api/preview as on opening (no long poll; the
    // answer renews the grant too). Whatever it answers, the next GET says what happens.
    async function askAgain() {
      trace.askedAgain = (trace.askedAgain || 0) + 1;
      trace.events.push({ at: Math.round(performance.now()), phase: "asking-again",
        text: `The build has not moved for ${STALL_S} s: asked for it again.` });
      const res = await api("POST", "/preview", { sha }).catch(() => null);
      if (res && (res.status === 200 || res.status === 202)) keepGranted(res);
    }

    // The fast first rendition was playing when the ladder finished: switch to the ladder's
    // manifest (every rung, for the rendition picker) on the frame on screen, playing or not.
    // The frame, not the time: the ladder's first picture may sit elsewhere on the media clock
    // (a remuxed B-frame master's two frames later), and from a clip that had ended, at its
    // end, the switch by time started again at 0 (issue 26).
    async function upgradeToLadder() {
      const frame = controls.frameOnScreen(); // by the fast rendition's clock
      const paused = video.paused;
      await controls.loadTiming().catch(() => {}); // the ladder's renditions' clocks
      controls.setHls(null);
      trace.hls.destroy();
      await attach(window.DailiesTimecode.timeOf(frame, trace.timing ? trace.timing.fps : 25));
      controls.setHls(trace.hls);
      await firstBuffered(trace.hls); // and with it, which rendition's clock the seek is on
      await canPlay(); // every track's data around the frame, which the seek's time depends on
      controls.seekFrame(frame);
      if (!paused) autoplay();
      trace.upgraded = true;
    }

    // The seek waits for the picture's data: hls.js sizes the media by the playlist, which
    // ends before a B-frame encode's last picture does, so a seek there earlier is cut short
    // (appending the data extends it).
    function firstBuffered(hls) {
      return new Promise((resolve) => {
        const done = (_event, data) => {
          if (data.frag.type !== "main") return;
          hls.off(window.Hls.Events.FRAG_BUFFERED, done);
          resolve();
        };
        hls.on(window.Hls.Events.FRAG_BUFFERED, done);
        setTimeout(resolve, 10000); // nothing buffered: seek all the same
      });
    }

    const atLastPicture = () => video.paused && controls.frameOnScreen() >= controls.lastFrame();
    // The next seek (a step, Home, play from the end), then its picture on screen.
    async function movedOn() {
      trace.waitingToSwitch = true;
      await new Promise((resolve) => video.addEventListener("seeked", resolve, { once: true }));
      await new Promise((resolve) => {
        video.requestVideoFrameCallback(() => resolve());
        setTimeout(resolve, 1000);
      });
      trace.waitingToSwitch = false;
    }
    function canPlay() {
      if (video.readyState >= HTMLMediaElement.HAVE_FUTURE_DATA) return Promise.resolve();
      return new Promise((resolve) => {
        video.addEventListener("canplay", resolve, { once: true });
        setTimeout(resolve, 10000);
      });
    }

    return { follow: followBuild };
  }

  return { follower };
})();
