// The review page at /watch/{sha}#token=…: find the preview on the edge, ask the API to
// build it when it is missing, play as soon as a playlist exists, say what is happening.
"use strict";

(() => {
  const video = document.getElementById("video");
  const statusEl = document.getElementById("status");

  const sha = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "")
    .trim().toLowerCase();
  // The token is in the fragment: it never reaches the edge's or the API's access logs.
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  const base = `/previews/${sha}/`;
  const manifestUrl = `${base}manifest.m3u8`;
  const DEFAULT_RETRY_S = 5;
  // POST /api/preview waits (server-capped) until the first rendition is playable, so the
  // page starts the moment it exists rather than on its next poll.
  const LONG_POLL_S = 8;

  // hls.js loads asynchronously (index.html): the 404 probe and the POST do not wait for it.
  const hlsScript = document.getElementById("hlsjs");
  const hlsLoaded = window.Hls || !hlsScript ? Promise.resolve() : new Promise((resolve) => {
    hlsScript.addEventListener("load", resolve, { once: true });
    hlsScript.addEventListener("error", resolve, { once: true }); // attach() says what is missing
    setTimeout(resolve, 15000); // an error before we listened: attach() reports it
  });

  // What the page did and when (ms since navigation start): read by tests and bench.
  const trace = { phase: "starting", events: [], error: null };
  window.dailiesPlayer = trace;

  class Failure extends Error {}

  function say(text, phase, failed = false) {
    statusEl.textContent = text;
    statusEl.classList.toggle("failed", failed);
    if (phase) trace.phase = phase;
    trace.events.push({ at: Math.round(performance.now()), phase: trace.phase, text });
  }

  const sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

  async function manifestExists() {
    const response = await fetch(manifestUrl, { cache: "no-store" });
    if (response.ok) return true;
    // 403: our grant lapsed (or never came); the caller's next POST /api/preview renews it.
    if (response.status === 404 || response.status === 403) return false;
    throw new Failure(`The edge answered ${response.status} for the playlist.`);
  }

  // `as`: "blob" reads a 200's body as a file (the notes' exports), else JSON.
  async function api(method, path, body, as = "json") {
    const headers = { Authorization: `Bearer ${token}` };
    if (body) headers["Content-Type"] = "application/json";
    const response = await fetch(`/api${path}`, {
      method, headers, cache: "no-store", body: body ? JSON.stringify(body) : undefined,
    });
    let data = {};
    try { data = as === "blob" && response.ok ? await response.blob() : await response.json(); } catch (_) { /* an empty or non-JSON error body */ }
    const header = Number(response.headers.get("Retry-After"));
    return { status: response.status, data, retryAfter: data.retry_after_s || header || null,
      date: response.headers.get("Date") };
  }

  function refusal(res) {
    const detail = typeof res.data.detail === "string" ? ` (${res.data.detail})` : "";
    switch (res.status) {
      case 401: return "The reviewer token in this link was not accepted; ask for a new link.";
      case 403: return "The token in this link may not request previews.";
      case 404: return `No promoted master has this sha256${detail}.`;
      case 422: return `This is not a valid sha256: ${sha}`;
      default: return `The API answered ${res.status}${detail}.`;
    }
  }

  function describe(data) {
    const pct = typeof data.progress === "number" ? ` ${Math.round(data.progress * 100)}%` : "";
    switch (data.status) {
      case "queued": return "Preview queued: waiting for a worker…";
      case "building": return `Building the preview…${pct}`;
      case "ready": return "Preview ready.";
      case "missing": return "No preview yet.";
      default: return `Preview ${data.status}.`;
    }
  }

  // POST /api/preview first: its answer carries the grant (a cookie for /previews/{sha}/)
  // that the edge wants for every object, and it long-polls until a playlist exists. The
  // status GET beside it carries a grant too and answers at once: the poster (promotion made
  // it) shows while the build starts.
  async function waitForPlaylist() {
    if (!token) {
      throw new Failure("This link carries no reviewer token (#token=…), and watching needs " +
        "one: ask whoever shared it for the full review link.");
    }
    say("Asking for the preview…", "requesting");
    api("GET", `/preview/${sha}`)
      .then((res) => { if (res.status === 200) controls.showPoster(); }) // poster.js: once at a time
      .catch(() => {}); // a courtesy: the long poll's answer grants as well
    for (;;) {
      const asked = performance.now();
      const res = await api("POST", "/preview", { sha, wait_s: LONG_POLL_S });
      if (res.status === 429) {
        say("The API asks us to slow down; waiting…", "throttled");
        await sleep(res.retryAfter || DEFAULT_RETRY_S);
        continue;
      }
      if (res.status !== 200 && res.status !== 202) throw new Failure(refusal(res));
      keepGranted(res);
      if (res.data.status === "failed") {
        const wait = res.retryAfter ? ` A new attempt is possible in ${res.retryAfter} s.` : "";
        throw new Failure(`The preview build failed: ${res.data.error || "no reason given"}.${wait}`);
      }
      if (res.status === 200 || res.data.playable) return;
      say(describe(res.data), res.data.status);
      // The server held the request while nothing was playable: ask again at once. A quick
      // answer (a server that does not long-poll) is retried at its own pace.
      const heldS = (performance.now() - asked) / 1000;
      if (heldS < LONG_POLL_S / 2) await sleep(res.retryAfter || DEFAULT_RETRY_S);
      if (await manifestExists()) return;
    }
  }

  // A 403 from the edge: our grant lapsed while watching. hls.js reports it at once (not
  // fatal) and retries the segment with back-off (1, 2, 4, 8, 8, 8 s); asking for a new grant
  // on that first report lets its first retry, a second later, carry the new cookie, where
  // waiting for the fatal error would stall the picture for some 30 s.
  let renewing = null;
  function renewGrant() {
    renewing ||= api("POST", "/preview", { sha }).then((res) => {
      // A token revoked while watching: the picture stops here, with the reason.
      if (res.status === 401 || res.status === 403) {
        if (trace.hls) trace.hls.stopLoad();
        video.pause();
        fail(new Failure(refusal(res)));
      }
      else keepGranted(res);
    }).catch(() => null).finally(() => { renewing = null; });
    return renewing;
  }

  // Grants are short (a revoked token's last one ends with it), so the player renews each at
  // four fifths of its life, before the edge would refuse a segment: no stall at the lapse.
  // Relative to the answer's own clock (expires minus its Date), so a skewed local clock
  // does not matter.
  let renewal = null;
  function keepGranted(res) {
    const expires = Number(res.data.grant_expires_at);
    if (!expires) return;
    const serverNow = Date.parse(res.date || "") / 1000 || Date.now() / 1000;
    clearTimeout(renewal);
    renewal = setTimeout(renewGrant, Math.max(5, 0.8 * (expires - serverNow)) * 1000);
  }

  function attach(startPosition = 0) {
    if (window.Hls && window.Hls.isSupported()) {
      // startPosition 0: an EVENT playlist (still being built) would otherwise start at its
      // live edge, i.e. the end of what exists so far.
      const hls = new window.Hls({ startPosition, enableWorker: true, lowLatencyMode: false });
      let networkRetries = 0;
      hls.on(window.Hls.Events.ERROR, (_event, data) => {
        if (data.response && data.response.code === 403) renewGrant();
        if (!data.fatal) return;
        if (data.type === window.Hls.ErrorTypes.NETWORK_ERROR && networkRetries++ < 10) {
          setTimeout(async () => { await renewing; hls.startLoad(video.currentTime || 0); }, 1000);
        } else if (data.type === window.Hls.ErrorTypes.MEDIA_ERROR) {
          hls.recoverMediaError();
        } else {
          fail(new Failure(`Playback stopped: ${data.details}.`));
          hls.destroy();
        }
      });
      const parsed = new Promise((resolve) => hls.once(window.Hls.Events.MANIFEST_PARSED, resolve));
      hls.loadSource(manifestUrl);
      hls.attachMedia(video);
      window.DailiesStreamEnd.watch({ hls, video, trace }); // a seek waiting on it (stream-end.js)
      trace.hls = hls;
      return parsed;
    }
    if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = manifestUrl; // Safari plays HLS itself
      return new Promise((resolve) => video.addEventListener("loadedmetadata", resolve, { once: true }));
    }
    throw new Failure("This browser cannot play HLS and hls.js did not load " +
      "(/player/vendor/hls.min.js: run `make sync`).");
  }

  async function autoplay() {
    try {
      await video.play();
    } catch (err) {
      if (err.name !== "NotAllowedError") return;
      // Browsers allow muted autoplay only; the controls can unmute.
      video.muted = true;
      await video.play().catch(() => say("Press play to start.", "paused"));
    }
  }

  // Timecode, frame steps, shuttle, renditions, scrub bar, poster: edge/player/controls.js.
  const controls = window.DailiesControls.create({ video, base, trace });
  trace.controls = controls; // tests seek to exact frames through it
  const loadStoryboard = () => controls.loadStoryboard();
  // The build behind the page: status words, asking again, the ladder (build.js).
  const build = window.DailiesBuild.follower({
    sha, api, trace, video, controls, say, attach, autoplay, keepGranted });
  const followBuild = () => (token ? build.follow() : loadStoryboard());

  // ---- main ----
  function fail(err) {
    trace.error = err.message;
    const text = err instanceof Failure ? err.message : `Something went wrong: ${err.message}`;
    say(text, "failed", true);
    const again = document.createElement("button");
    again.textContent = "Try again";
    again.onclick = () => { again.remove(); main(); };
    statusEl.append(again);
  }

  video.addEventListener("playing", () => {
    trace.startedAt = video.currentTime; // 0 unless a player jumped to a live edge
    trace.playingAt = Math.round(performance.now());
    if (trace.phase !== "playing") say("Playing.", "playing");
  }, { once: true });

  async function main() {
    document.getElementById("sha").textContent = sha;
    try {
      if (!/^[0-9a-f]{64}$/.test(sha)) throw new Failure(`This is not a valid sha256: ${sha}`);
      if (token) window.DailiesDocuments.show({ sha, api, trace }).catch(() => {});
      if (token) window.DailiesNotes.show({ sha, api, trace, controls, video }).catch((err) => { trace.notesError = String(err); });
      await waitForPlaylist();
      controls.showPoster(); // the grant came with the answer: the poster shows before play
      say("Starting playback…", "loading");
      await hlsLoaded;
      await attach();
      controls.setHls(trace.hls || null);
      controls.loadTiming().catch(() => {});
      autoplay();
      followBuild().catch(() => {}); // progress is a courtesy; playback does not depend on it
    } catch (err) {
      fail(err);
    }
  }

  main();
})();
