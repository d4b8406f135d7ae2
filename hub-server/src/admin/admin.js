// The Signal Hub admin page. Everything it shows and does goes through the
// server API (/api/...) with the admin token the operator typed in; the token
// stays in this tab's sessionStorage and is sent only to this origin.
"use strict";

const TOKEN_KEY = "signal-hub-admin-token";
const POLL_MS = 1000;
const TOPICS_EVERY = 2; // polls
const POINTS = 120; // two minutes of samples per chart

const $ = (id) => document.getElementById(id);

/** An API error as one line: `code: message (hint)`. */
class ApiError extends Error {
  constructor(status, body) {
    const text = body && body.code
      ? `${body.code}: ${body.message}${body.hint ? ` (${body.hint})` : ""}`
      : `HTTP ${status}`;
    super(text);
    this.status = status;
  }
}

async function api(method, path, body) {
  const token = sessionStorage.getItem(TOKEN_KEY) || "";
  const response = await fetch(path, {
    method,
    headers: {
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

/** A line chart on a canvas: a few series sharing one y axis. */
class Chart {
  constructor(canvas, series) {
    this.canvas = canvas;
    this.series = series.map((s) => ({ ...s, values: [] }));
    this.width = 0;
    this.height = canvas.height;
    this.ctx = canvas.getContext("2d");
  }

  /** Matches the drawing surface to the width the page gives the canvas. */
  fit() {
    const width = Math.max(160, Math.round(this.canvas.clientWidth || this.canvas.width));
    if (width === this.width) return;
    const ratio = window.devicePixelRatio || 1;
    this.width = width;
    this.canvas.width = width * ratio;
    this.canvas.height = this.height * ratio;
    this.ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  }

  push(values) {
    this.series.forEach((s, i) => {
      s.values.push(values[i]);
      if (s.values.length > POINTS) s.values.shift();
    });
    // For tests and for anyone inspecting the page: the newest values.
    this.canvas.dataset.last = JSON.stringify(values);
    this.canvas.dataset.points = String(this.series[0].values.length);
    this.draw();
  }

  draw() {
    this.fit();
    const { ctx, width, height } = this;
    const left = 48, right = 8, top = 18, bottom = 16;
    const plotW = width - left - right, plotH = height - top - bottom;
    const max = Math.max(1, ...this.series.flatMap((s) => s.values));
    const scale = niceCeiling(max);
    ctx.clearRect(0, 0, width, height);
    ctx.font = "11px system-ui, sans-serif";
    ctx.strokeStyle = "#e3e6ea";
    ctx.fillStyle = "#5b6673";
    ctx.lineWidth = 1;
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - (plotH * i) / 4;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + plotW, y);
      ctx.stroke();
      ctx.fillText(formatNumber((scale * i) / 4), 4, y + 4);
    }
    // The time axis: a sample a second, the newest at the right.
    const span = Math.round((POINTS - 1) * POLL_MS / 60000);
    ctx.textBaseline = "alphabetic";
    ctx.fillText(`${span} min ago`, left, height - 3);
    const now = "now";
    ctx.fillText(now, left + plotW - ctx.measureText(now).width, height - 3);
    const middle = `${span / 2} min ago`;
    ctx.fillText(middle, left + plotW / 2 - ctx.measureText(middle).width / 2, height - 3);
    let legendX = left;
    for (const s of this.series) {
      ctx.strokeStyle = s.color;
      ctx.lineWidth = 2;
      ctx.beginPath();
      s.values.forEach((v, i) => {
        const x = left + (plotW * i) / (POINTS - 1);
        const y = top + plotH - (plotH * v) / scale;
        if (i === 0) ctx.moveTo(x, y);
        else ctx.lineTo(x, y);
      });
      ctx.stroke();
      ctx.fillStyle = s.color;
      const last = s.values.length ? formatNumber(s.values[s.values.length - 1]) : "–";
      const label = `${s.name} ${last}`;
      ctx.fillText(label, legendX, 12);
      legendX += ctx.measureText(label).width + 16;
    }
  }
}

function niceCeiling(v) {
  const power = 10 ** Math.floor(Math.log10(v));
  // Four grid lines: ceilings that divide by four into short labels.
  for (const step of [1, 2, 4, 8, 10]) if (step * power >= v) return step * power;
  return 10 * power;
}

function formatNumber(v) {
  if (v >= 1e6) return `${(v / 1e6).toFixed(1)}M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)}k`;
  if (Number.isInteger(v)) return String(v);
  return v < 1 ? String(Math.round(v * 100) / 100) : v.toFixed(1);
}

let charts = null;
// Charts follow the page's width (a phone, a wide screen).
window.addEventListener("resize", () => {
  if (charts) Object.values(charts).forEach((chart) => chart.draw());
});
let previous = null; // the last /api/node answer and when it came
let timer = null;
let polls = 0;

async function poll() {
  try {
    const node = await api("GET", "/api/node");
    const now = performance.now();
    $("node").textContent = `node ${node.node_id} · v${node.version}${node.draining ? " · draining" : ""}`;
    $("connections").textContent = node.connections;
    $("registered").textContent = node.registered;
    $("topics").textContent = node.topics;
    let publications = 0, deliveries = 0;
    if (previous) {
      const seconds = Math.max((now - previous.at) / 1000, 0.001);
      publications = Math.max(0, node.publications_total - previous.node.publications_total) / seconds;
      deliveries = Math.max(0, node.deliveries_total - previous.node.deliveries_total) / seconds;
      $("publication-rate").textContent = formatNumber(publications);
      $("delivery-rate").textContent = formatNumber(deliveries);
    }
    previous = { node, at: now };
    charts.sessions.push([node.connections, node.registered]);
    charts.rates.push([publications, deliveries]);
    charts.topics.push([node.topics]);
    if (polls++ % TOPICS_EVERY === 0) await refreshTopics();
  } catch (e) {
    if (e.status === 401) return signOut(e.message);
    $("node").textContent = `cannot reach the server: ${e.message}`;
  }
}

async function refreshTopics() {
  const prefix = encodeURIComponent($("topic-prefix").value);
  const { topics } = await api("GET", `/api/topics?limit=100&prefix=${prefix}`);
  const rows = topics.map((t) => {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = t.name;
    const count = document.createElement("td");
    count.textContent = t.subscribers;
    row.append(name, count);
    return row;
  });
  $("topic-rows").replaceChildren(...rows);
}

function start() {
  $("login").hidden = true;
  $("dashboard").hidden = false;
  $("sign-out").hidden = false;
  charts = {
    sessions: new Chart($("chart-sessions"), [
      { name: "connections", color: "#2b6cb0" },
      { name: "addresses", color: "#38a169" },
    ]),
    rates: new Chart($("chart-rates"), [
      { name: "publications/s", color: "#d69e2e" },
      { name: "deliveries/s", color: "#805ad5" },
    ]),
    topics: new Chart($("chart-topics"), [{ name: "topics", color: "#dd6b20" }]),
  };
  previous = null;
  poll();
  timer = setInterval(poll, POLL_MS);
}

function signOut(why) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(timer);
  $("dashboard").hidden = true;
  $("sign-out").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = why || "";
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  try {
    await api("GET", "/api/node");
    $("token").value = "";
    $("login-error").textContent = "";
    start();
  } catch (e) {
    signOut(e.message);
  }
}

let found = null;

async function find(event) {
  event.preventDefault();
  const address = $("find-address").value.trim();
  $("disconnect-box").hidden = true;
  try {
    const { online } = await api("GET", `/api/online?address=${encodeURIComponent(address)}`);
    found = online ? address : null;
    $("find-result").textContent = online ? `${address} is online` : `${address} is offline`;
    $("disconnect-box").hidden = !online;
  } catch (e) {
    $("find-result").textContent = e.message;
  }
}

async function disconnect(code) {
  if (!found) return;
  try {
    const { disconnected } = await api("POST", "/api/disconnect", { address: found, code });
    $("find-result").textContent = disconnected
      ? `${found} was told to close (${code})`
      : `${found} has no session on this node`;
    $("disconnect-box").hidden = true;
  } catch (e) {
    $("find-result").textContent = e.message;
  }
}

async function publish(event) {
  event.preventDefault();
  let payload;
  try {
    payload = JSON.parse($("publish-payload").value);
  } catch (e) {
    $("publish-result").textContent = `the payload is not JSON: ${e.message}`;
    return;
  }
  try {
    const topic = $("publish-topic").value.trim();
    const answer = await api("POST", "/api/publish", { topic, payload });
    const offset = answer.offset === undefined || answer.offset === null ? "" : `, offset ${answer.offset}`;
    $("publish-result").textContent = `published to ${topic}: ${answer.recipients} subscribers here${offset}`;
  } catch (e) {
    $("publish-result").textContent = e.message;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", signIn);
  $("sign-out").addEventListener("click", () => signOut(""));
  $("find-form").addEventListener("submit", find);
  $("disconnect").addEventListener("click", () => disconnect("disconnected"));
  $("kick").addEventListener("click", () => disconnect("kicked"));
  $("publish-form").addEventListener("submit", publish);
  $("topic-prefix").addEventListener("input", () => refreshTopics().catch(() => {}));
  if (sessionStorage.getItem(TOKEN_KEY)) start();
});
