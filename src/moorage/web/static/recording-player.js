// The player of /recordings/<id>: a terminal's asciicast v2 in asciinema-player, a
// desktop's framed RFB stream (moorage.services.recording_files) in noVNC, fed by a
// stand-in for its websocket that answers the handshake (version 3.8, security type
// None, OK) and then hands over the recorded server messages at their times.
import RFB from "/static/vendor/novnc-rfb.js";

const root = document.getElementById("recording");
const status = document.getElementById("recording-status");
const say = (text) => { status.textContent = text; };

function playTerminal() {
  window.moorageRecordingPlayer = window.AsciinemaPlayer.create(root.dataset.file, root, {
    autoPlay: true,
    idleTimeLimit: 2,
    fit: "width",
    terminalFontSize: "14px",
  });
  say((window.moorageT || ((text) => text))("Playing; pause, seek or go full screen with the player's controls."));
}

// "MRFB1\n", a JSON header line, then per chunk: u64 ms since the start, u32 length, bytes.
function framesOf(buffer) {
  const bytes = new Uint8Array(buffer);
  const magic = new TextDecoder().decode(bytes.subarray(0, 6));
  if (magic !== "MRFB1\n") throw new Error("not a desktop recording");
  let at = bytes.indexOf(10, 6) + 1;
  const view = new DataView(buffer);
  const frames = [];
  while (at + 12 <= bytes.length) {
    const ms = Number(view.getBigUint64(at));
    const length = view.getUint32(at + 8);
    at += 12;
    if (at + length > bytes.length) break;
    frames.push([ms, bytes.slice(at, at + length).buffer]);
    at += length;
  }
  return frames;
}

async function playDesktop() {
  say("loading…");
  const response = await fetch(root.dataset.file, { credentials: "same-origin" });
  if (!response.ok) { say(`the recording could not be read (${response.status})`); return; }
  const frames = framesOf(await response.arrayBuffer());
  const channel = {
    binaryType: "arraybuffer", protocol: "binary", readyState: 0,
    onopen: null, onmessage: null, onclose: null, onerror: null,
    send() { /* the viewer's messages go nowhere: this is a replay */ },
    close() { this.readyState = 3; if (this.onclose) this.onclose({ code: 1000, reason: "", wasClean: true }); },
  };
  const deliver = (data) => { if (channel.onmessage && channel.readyState === 1) channel.onmessage({ data }); };
  const rfb = new RFB(root, channel, { shared: true });
  rfb.viewOnly = true;
  rfb.scaleViewport = true;
  channel.readyState = 1;
  channel.onopen();
  const handshake = [new TextEncoder().encode("RFB 003.008\n"), Uint8Array.of(1, 1), Uint8Array.of(0, 0, 0, 0)];
  handshake.forEach((part) => deliver(part.buffer));
  const start = performance.now();
  const total = frames.length ? frames[frames.length - 1][0] : 0;
  let next = 0;
  function pump() {
    const now = performance.now() - start;
    while (next < frames.length && frames[next][0] <= now) deliver(frames[next++][1]);
    say(`playing ${Math.round(Math.min(now, total) / 1000)} s of ${Math.round(total / 1000)} s`);
    if (next < frames.length) setTimeout(pump, Math.min(200, frames[next][0] - now));
    else say(`played (${Math.round(total / 1000)} s)`);
  }
  pump();
  window.moorageRecordingPlayer = rfb;
}

if (root.dataset.kind === "terminal") playTerminal();
else playDesktop().catch((error) => say(`the recording could not be played: ${error.message}`));
