// The end of stream, signalled when hls.js has not signalled it and a seek waits on it.
//
// hls.js calls MediaSource.endOfStream() once every track has its last fragment buffered and
// its first audio-track switch has completed; it completes that switch only on a tick that
// finds the media not seeking. A seek made before such a tick (End pressed within a tenth of
// a second of the page pausing on its first frame) therefore waits for the end of stream, and
// the decoder keeps a B-frame encode's last picture until it comes: the seek never ended and
// the picture stayed where it was. So a seek to the last pictures still waiting after a
// moment, with the playing rendition buffered from there to its last fragment's end, signals
// the end itself (hls.js's own BUFFER_EOS: its buffer controller ends the stream; an append
// reopens it).
"use strict";

window.DailiesStreamEnd = (() => {
  const WAIT_MS = 250; // a seek in buffered data lands in a frame or two; this one is waiting
  // How near the end a seek must be to need the end of stream: the decoder holds back as many
  // pictures as B-frames reorder (x264: up to 3 or 4), under a quarter second at 24 fps. Only
  // there: a seek elsewhere that is slow (a loaded box) is not ended early.
  const TAIL_S = 0.25;

  function watch({ hls, video, trace }) {
    let timer = null;

    // Sought to within the last pictures, with every track buffered from there to the end of
    // the playing rendition's last fragment (video.buffered is what all tracks have).
    function nearTheEndAndBuffered() {
      const index = hls.currentLevel >= 0 ? hls.currentLevel : hls.loadLevel;
      const details = hls.levels[index] && hls.levels[index].details;
      if (!details || details.live || !details.fragments.length) return false;
      const last = details.fragments[details.fragments.length - 1];
      const end = last.start + last.duration;
      const at = video.currentTime, ranges = video.buffered;
      if (at < end - TAIL_S) return false;
      for (let i = 0; i < ranges.length; i++) {
        // Within one picture (1/24 s) of the end: the sum of a playlist's rounded durations.
        if (ranges.start(i) <= at && ranges.end(i) >= end - 0.04) return true;
      }
      return false;
    }

    function onSeeking() {
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (!video.seeking || video.readyState >= 2 || !nearTheEndAndBuffered()) return;
        trace.streamEnded = (trace.streamEnded || 0) + 1;
        hls.trigger(window.Hls.Events.BUFFER_EOS, {});
      }, WAIT_MS);
    }
    const onSeeked = () => clearTimeout(timer);
    video.addEventListener("seeking", onSeeking);
    video.addEventListener("seeked", onSeeked);
    // The page makes a new hls.js for the ladder: this one's watch ends with it.
    hls.on(window.Hls.Events.DESTROYING, () => {
      clearTimeout(timer);
      video.removeEventListener("seeking", onSeeking);
      video.removeEventListener("seeked", onSeeked);
    });
  }

  return { watch };
})();
