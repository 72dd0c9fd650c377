// SMPTE timecode for the review page: the same sums as dailies/timecode.py (tests compare
// the two frame by frame). Labels count frames at the nominal rate (24 for 23.976, 30 for
// 29.97); drop-frame skips ;00 and ;01 (;00–;03 at 59.94) each minute but every tenth.
"use strict";

window.DailiesTimecode = (() => {
  // timing.json as the preview flow writes it, or the no-timecode default at `fps`.
  function rateOf(timing) {
    const nominal = Math.max(1, timing.timecode_rate || Math.round(timing.fps || 25));
    const dropped = timing.drop_frame && nominal % 30 === 0 ? nominal / 15 : 0;
    return {
      nominal,
      dropped,
      perMinute: nominal * 60 - dropped,
      perTenMinutes: nominal * 600 - 9 * dropped,
      perDay: 144 * (nominal * 600 - 9 * dropped),
    };
  }

  const pad = (n) => String(n).padStart(2, "0");

  // The label of the frame `frame` frames after 00:00:00:00 (wraps at 24 hours).
  function label(frame, rate) {
    let n = ((frame % rate.perDay) + rate.perDay) % rate.perDay;
    if (rate.dropped) {
      const tens = Math.floor(n / rate.perTenMinutes);
      const rest = n % rate.perTenMinutes;
      let skipped = 9 * rate.dropped * tens;
      if (rest >= rate.dropped) {
        skipped += rate.dropped * Math.floor((rest - rate.dropped) / rate.perMinute);
      }
      n += skipped;
    }
    const ff = n % rate.nominal;
    const total = Math.floor(n / rate.nominal);
    const sep = rate.dropped ? ";" : ":";
    return `${pad(Math.floor(total / 3600))}:${pad(Math.floor(total / 60) % 60)}:${pad(total % 60)}${sep}${pad(ff)}`;
  }

  // The index (0 = first) of the frame on screen at media time `t`. A frame is shown from
  // i/fps until (i+1)/fps; the small tolerance keeps i/fps, which floats may round just
  // below, on frame i.
  function frameAt(t, fps) {
    return Math.max(0, Math.floor(t * fps + 1e-3));
  }

  // Where to seek to show frame i: its middle, so no rounding lands on a neighbour.
  function timeOf(i, fps) {
    return (i + 0.5) / fps;
  }

  return { rateOf, label, frameAt, timeOf };
})();
