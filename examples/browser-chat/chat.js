// A chat room on Signal Hub in the browser, with the TypeScript client
// (clients/typescript). Everyone in a room subscribes to the topic
// `chat-<room>` and publishes their lines to it; the client reconnects and
// resubscribes by itself. Open it as
//   chat/index.html?hub=ws://127.0.0.1:8080/ws
// from any static web server (the hub's default config lets anyone connect
// from loopback; with JWT auth on, give the client a getToken). Each tab is
// one of its user's devices (a fresh `device` per page, or `&device=...`),
// so the same name in a second tab or browser joins beside the first.
import { HubClient } from "../../clients/typescript/dist/index.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const hubUrl = params.get("hub") || `ws://${location.hostname || "127.0.0.1"}:8080/ws`;

let hub;
let topic;

function line(from, text, mine) {
  const item = document.createElement("li");
  if (mine) item.className = "mine";
  const who = document.createElement("span");
  who.className = "from";
  who.textContent = from;
  item.append(who, document.createTextNode(text));
  $("messages").append(item);
  item.scrollIntoView({ block: "end" });
}

function note(text) {
  const item = document.createElement("li");
  item.className = "note";
  item.textContent = text;
  $("messages").append(item);
}

/** The session ended for good: say why, and stop taking input. */
function ended(name, code, reason) {
  $("text").disabled = true;
  $("send").disabled = true;
  // 4500 duplicate_connection: this very device (tab) connected again elsewhere.
  $("ended").textContent = code === 4500
    ? `${name} joined again as this same device elsewhere, so this one was closed. Reload to join here again.`
    : `Disconnected for good (${reason}). Reload to join again.`;
  $("ended").hidden = false;
}

$("join").addEventListener("submit", async (event) => {
  event.preventDefault();
  const name = $("name").value.trim();
  topic = `chat-${$("room").value.trim()}`;
  const device = params.get("device") || `tab-${Math.random().toString(36).slice(2, 10)}`;
  hub = new HubClient({ url: hubUrl, address: name, device });
  hub.on("connected", ({ resumed }) => {
    $("state").textContent = `connected as ${name}`;
    $("state").className = "connected";
    if (resumed) note("reconnected");
  });
  hub.on("disconnected", ({ code, reason, reconnect }) => {
    $("state").textContent = reconnect ? `reconnecting (${reason})` : `offline (${reason})`;
    $("state").className = reconnect ? "" : "ended";
    if (!reconnect) ended(name, code, reason);
  });
  try {
    await hub.connect();
  } catch (e) {
    $("state").textContent = `cannot join: ${e.message}`;
    return;
  }
  // `from` is the sender's connection (`user/device`): show the user, and
  // mark as mine what any of my tabs said.
  const user = (from) => from.split("/")[0];
  await hub.subscribe(topic, (m) => line(user(m.from), m.payload.text, user(m.from) === name)).ready;
  $("join").hidden = true;
  $("chat").hidden = false;
  note(`you joined ${topic.slice(5)}`);
  $("text").focus();
});

$("say").addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = $("text").value;
  $("text").value = "";
  try {
    await hub.publish(topic, { text });
  } catch (e) {
    note(`not sent (${e.code}): ${text}`);
  }
});
