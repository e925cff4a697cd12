// The desktop of an rdp session through Moorage's Guacamole tunnel.
import Guacamole from "/static/vendor/guacamole-common.js";

const holder = document.getElementById("guac-display");
const status = document.getElementById("desktop-status");
const scheme = location.protocol === "https:" ? "wss" : "ws";
const tunnel = new Guacamole.WebSocketTunnel(
  `${scheme}://${location.host}/api/v1/sessions/${holder.dataset.session}/guacamole`);
const client = new Guacamole.Client(tunnel);
holder.appendChild(client.getDisplay().getElement());
client.onstatechange = (state) => {
  status.textContent = ["idle", "connecting", "waiting", "connected", "disconnecting",
                        "disconnected"][state] || String(state);
};
client.onerror = (error) => { status.textContent = `error: ${error.message}`; };
client.connect(`width=${holder.clientWidth}&height=${holder.clientHeight}&dpi=96`);
const mouse = new Guacamole.Mouse(client.getDisplay().getElement());
mouse.onEach(["mousedown", "mouseup", "mousemove"], (e) => client.sendMouseState(e.state));
const keyboard = new Guacamole.Keyboard(holder);
keyboard.onkeydown = (keysym) => client.sendKeyEvent(1, keysym);
keyboard.onkeyup = (keysym) => client.sendKeyEvent(0, keysym);
window.addEventListener("beforeunload", () => client.disconnect());
window.moorageGuac = client;
