// The review page's poster, shown until the first frame is (controls.js asks for it).
// The ladder's poster.jpg once the build is done; before that, the first rendition's first
// picture: first/poster.jpg, made at promotion, or else published just after the first
// rendition's playlist, so asked for again a second later unless a picture is on screen by
// then (a request the reviewer cannot see is one more under a grant that may have lapsed).
// A 404 everywhere just leaves the first frame to come.
"use strict";

window.DailiesPoster = (() => {
  let asking = false; // one round of asks at a time: the page asks as soon as it is granted
  // (promotion made first/poster.jpg) and again once the playlist exists

  function show({ base, trace, video }) {
    if (trace.posterAt || asking) return;
    asking = true;
    const done = () => { asking = false; };
    const attempt = (url, otherwise) => {
      const image = new Image();
      image.onload = () => {
        done();
        if (trace.posterAt) return;
        video.poster = url;
        trace.posterAt = Math.round(performance.now());
        trace.posterUrl = url;
      };
      image.onerror = otherwise;
      image.src = url;
    };
    const first = `${base}first/poster.jpg`;
    attempt(`${base}poster.jpg`, () => attempt(first, () => setTimeout(() => {
      if (video.readyState < HTMLMediaElement.HAVE_CURRENT_DATA) attempt(first, done);
      else done();
    }, 1000)));
  }

  return { show };
})();
