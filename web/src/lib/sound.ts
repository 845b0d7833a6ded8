// The notification sound (issue 18): a short two-note chime made with WebAudio, so nothing is
// downloaded and the edge's static types need no audio entry. Browsers start audio only after the
// page has had a user gesture; before that the chime is silently skipped.
let context: AudioContext | undefined;

function audio(): AudioContext | undefined {
  const Ctor = (globalThis as { AudioContext?: typeof AudioContext; webkitAudioContext?: typeof AudioContext }).AudioContext ??
    (globalThis as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
  if (!Ctor) return undefined;
  context ??= new Ctor();
  return context;
}

/** Plays the chime (about 0.35 s); resolves when it was scheduled, false when the browser cannot. */
export async function playChime(): Promise<boolean> {
  const ctx = audio();
  if (!ctx) return false;
  try {
    if (ctx.state === "suspended") await ctx.resume();
    const start = ctx.currentTime + 0.01;
    for (const [i, frequency] of [880, 1318.5].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.12;
      osc.type = "sine";
      osc.frequency.setValueAtTime(frequency, at);
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.22);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.25);
    }
    return true;
  } catch {
    return false;
  }
}
