/**
 * The web page served at `GET /`: one self-contained HTML document (inline CSS and JavaScript, no
 * build step, no external resource) to start workflows, follow a run live, stop it with a reason,
 * read the interrupt banner, resume it, and list the runs.
 *
 * - Every run has a URL, `#/runs/<id>`: a reload, a bookmark and back/forward show the same run.
 * - A run shows its status (`cancelling` while a stop drains, `lost` with a Resume button when its
 *   process is gone), its progress (of the workflow's expected steps when it says, else of the steps
 *   begun; the same numbers as the runs table), its result in full (pretty-printed JSON, wrapped text)
 *   or the partial output of an interrupted stream, its events, and a timeline: one row per step
 *   (nested by address), one bar per call from its start to its end, coloured by status, the steps a
 *   resume replayed from the checkpoint hatched, the interrupt as a vertical line and each attempt as
 *   a band. The timeline is built from the run's events (the stream replays the whole history).
 * - The run card is a list of sections (`section(...)` in the script), one of them the "✋ Waiting for
 *   you" card: each question a step asked a person (`info.inputs`) with its prompt, where it was asked,
 *   its deadline and what happens then, and a way to answer it: Approve / Reject (with an optional
 *   reason) for an approval, one button per choice, or a small form built from the answer's JSON
 *   Schema (text, number, yes/no, a select, one field per property of a simple object, else JSON). The
 *   answer is POSTed to `/api/executions/:id/inputs/:inputId`; a refusal shows the server's message
 *   in the card. The runs table says how many questions a run has and filters the runs that wait
 *   ("Needs me"); the timeline draws each wait striped, from the question to its answer (or to the end
 *   of a parked attempt); the events say `✋ waiting for you: …` and `✓ answered …` as the CLI does.
 * - Errors are the server's readable messages (every error body is `{ _tag, message }`).
 *
 * Security: the token is entered once and kept in `sessionStorage` (this tab only); every request
 * sends it as `Authorization: Bearer`. The event stream is read with `fetch` and a stream reader
 * (not `EventSource`, which cannot send headers), so the token never goes into a URL, and a dropped
 * stream reconnects with `Last-Event-ID`. The script builds the DOM (HTML and SVG) with
 * `createElement(NS)` and text nodes only: event text is never parsed as HTML. A
 * Content-Security-Policy with the hashes of the inline script and style blocks everything else.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

const style = String.raw`
:root { color-scheme: light dark; --fg: #1d232b; --muted: #5d6875; --bg: #f6f7f9; --card: #fff; --line: #d9dee4;
  --accent: #2458d6; --danger: #c2352b; --ok: #1f8a4c; --warn: #b86e00; --int: #8a3fd1; --hover: rgba(36, 88, 214, .08);
  --band: rgba(36, 88, 214, .05); --band2: rgba(36, 88, 214, .11); --wait: #8a5a00; --wait-bg: rgba(212, 160, 23, .16); }
@media (prefers-color-scheme: dark) { :root { --fg: #e7ebf0; --muted: #9aa6b2; --bg: #14181d; --card: #1c2128;
  --line: #2d343d; --accent: #6d9bff; --danger: #ff6b5e; --ok: #4cc38a; --warn: #f0a742; --int: #c489ff;
  --hover: rgba(109, 155, 255, .12); --band: rgba(109, 155, 255, .06); --band2: rgba(109, 155, 255, .13);
  --wait: #e3b341; --wait-bg: rgba(227, 179, 65, .14); } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
a { color: var(--accent); }
:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
header { display: flex; align-items: center; flex-wrap: wrap; gap: 4px 12px; padding: 10px 20px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 17px; margin: 0; } header .who { color: var(--muted); margin-left: auto; }
header button { margin-top: 0; }
main, #login { display: grid; gap: 16px; padding: 16px 20px; max-width: 1280px; margin: 0 auto; }
main { grid-template-columns: minmax(300px, 1fr) 2.7fr; align-items: start; }
main > * { min-width: 0; } .side { display: grid; gap: 16px; min-width: 0; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; min-width: 0; }
.card h2 { font-size: 15px; margin: 0 0 4px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.card h2 code { font-size: 13px; overflow-wrap: anywhere; }
.card h3 { font-size: 12px; margin: 16px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
label { display: block; margin: 8px 0 4px; color: var(--muted); font-size: 12px; }
input, select, textarea { width: 100%; font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; margin-top: 10px; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
button.ok { background: var(--ok); border-color: var(--ok); }
button:disabled { opacity: .5; cursor: default; }
.error { color: var(--danger); margin: 6px 0 0; overflow-wrap: anywhere; } .error:empty { display: none; }
.note { color: var(--warn); margin: 6px 0 0; } .note:empty { display: none; }
.muted { color: var(--muted); }
.meta { color: var(--muted); margin: 0 0 6px; overflow-wrap: anywhere; }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid currentColor; white-space: nowrap; }
.s-running { color: var(--accent); } .s-awaiting { color: var(--wait); background: var(--wait-bg); font-weight: 600; } .s-cancelling { color: var(--warn); } .s-completed { color: var(--ok); }
.s-interrupted { color: var(--int); } .s-failed { color: var(--danger); } .s-lost { color: var(--warn); }
.banner { border: 1px solid var(--int); border-left-width: 4px; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.banner strong { color: var(--int); } .banner p { margin: 4px 0 0; }
.banner.lost { border-color: var(--warn); } .banner.lost strong { color: var(--warn); }
.banner dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 12px; margin: 6px 0 0; }
.banner dt { color: var(--muted); } .banner dd { margin: 0; overflow-wrap: anywhere; }
.waiting { border: 1px solid var(--wait); border-left-width: 4px; border-radius: 6px; padding: 8px 12px; margin: 8px 0; background: var(--wait-bg); }
.waiting > h3 { margin: 0 0 2px; color: var(--wait); font-size: 14px; text-transform: none; letter-spacing: 0; display: flex; gap: 8px; flex-wrap: wrap; align-items: baseline; }
.waiting > h3 .muted { font-weight: 400; font-size: 12px; }
.waiting .parked { margin: 0 0 4px; font-size: 12px; color: var(--muted); }
.ask { padding: 8px 0 4px; border-top: 1px dashed var(--wait); min-width: 0; } .ask:first-of-type { border-top: 0; }
.ask .prompt { margin: 0; font-weight: 600; font-size: 15px; overflow-wrap: anywhere; white-space: pre-wrap; }
.ask .where { margin: 2px 0 0; color: var(--muted); font-size: 12px; overflow-wrap: anywhere; }
.ask .deadline { margin: 4px 0 0; font-size: 12px; overflow-wrap: anywhere; }
.ask pre.output { margin: 6px 0 0; max-height: 160px; }
.ask form { margin: 0; } .ask .actions button { margin-top: 10px; }
.ask label .req { color: var(--danger); } .ask label .hint { color: var(--muted); font-weight: 400; }
.ask label.check { display: flex; gap: 8px; align-items: center; color: var(--fg); font-size: 14px; }
.ask input[type=checkbox] { width: auto; margin: 0; }
.ask details { margin: 6px 0 0; font-size: 12px; color: var(--muted); } .ask details pre { white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 0; }
.ask-status { margin: 6px 0 0; color: var(--ok); font-weight: 600; overflow-wrap: anywhere; } .ask-status:empty { display: none; }
.ask-status.busy { color: var(--muted); font-weight: 400; }
.ask.answered .controls { display: none; }
.answered-note { margin: 8px 0 0; color: var(--ok); overflow-wrap: anywhere; } .answered-note:empty { display: none; }
.bar { height: 6px; border-radius: 3px; background: var(--line); overflow: hidden; margin: 10px 0 4px; }
.bar div { height: 100%; width: 0; background: var(--accent); transition: width .2s; }
.actions { display: flex; gap: 8px; flex-wrap: wrap; }
pre.output { white-space: pre-wrap; overflow-wrap: anywhere; background: var(--bg); border: 1px solid var(--line); border-radius: 6px;
  padding: 8px 10px; margin: 0 0 8px; max-height: 420px; overflow: auto; }
pre.failure { color: var(--danger); }
.caption { margin: 0 0 4px; color: var(--muted); font-size: 12px; }
.timeline-box { overflow: auto; max-height: 520px; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
.timeline-box svg { display: block; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
.timeline-box p { margin: 10px 12px; }
.tl-band { fill: var(--band); } .tl-band.odd { fill: var(--band2); }
.tl-band-label { font-size: 11px; font-weight: 600; fill: var(--muted); }
.tl-tick { stroke: var(--line); stroke-width: 1; } .tl-tick-label { font-size: 10px; fill: var(--muted); }
.tl-gutter { stroke: var(--line); stroke-width: 1; }
.tl-break { fill: var(--card); } .tl-break-edge { stroke: var(--muted); stroke-dasharray: 3 3; } .tl-break-label { font-size: 10px; fill: var(--muted); }
.tl-row { cursor: pointer; } .tl-row:focus { outline: none; }
.tl-row-bg { fill: transparent; } .tl-row:hover .tl-row-bg, .tl-row.selected .tl-row-bg { fill: var(--hover); }
.tl-row:focus-visible .tl-row-bg { stroke: var(--accent); stroke-width: 2; }
.tl-label { font-size: 12px; fill: var(--fg); } .tl-kind { font-size: 10px; fill: var(--muted); }
.seg { stroke-width: 1; }
.st-completed { fill: var(--ok); } .st-failed { fill: var(--danger); } .st-retried { fill: var(--warn); }
.st-interrupted { fill: var(--int); } .st-awaiting { fill: var(--wait-bg); stroke: var(--wait); }
.tl-wait { fill: url(#tl-wait); stroke: var(--wait); stroke-width: 1; } .wait-bg { fill: var(--card); } .wait-line { stroke: var(--wait); stroke-width: 3; }
.st-cancelled, .st-lost { fill: var(--muted); opacity: .6; }
.st-running { fill: var(--accent); animation: pulse 1.2s ease-in-out infinite; }
.st-recovered { fill: url(#tl-hatch); stroke: var(--ok); }
.hatch-bg { fill: var(--card); } .hatch-line { stroke: var(--ok); stroke-width: 2.5; }
.tl-interrupt { stroke: var(--int); stroke-width: 2; stroke-dasharray: 5 3; }
.tl-interrupt-label { font-size: 11px; font-weight: 600; fill: var(--int); }
@keyframes pulse { 50% { opacity: .5; } }
@media (prefers-reduced-motion: reduce) { .st-running { animation: none; } .bar div { transition: none; } }
.legend { display: flex; flex-wrap: wrap; gap: 4px 14px; font-size: 12px; color: var(--muted); margin: 6px 0 0; padding: 0; list-style: none; }
.legend i { display: inline-block; width: 18px; height: 10px; border-radius: 2px; vertical-align: -1px; margin-right: 5px; }
.sw-completed { background: var(--ok); } .sw-failed { background: var(--danger); } .sw-retried { background: var(--warn); }
.sw-interrupted { background: var(--int); } .sw-running { background: var(--accent); }
.sw-awaiting { border: 1px solid var(--wait); background: repeating-linear-gradient(135deg, var(--wait) 0 3px, transparent 3px 6px); }
.sw-recovered { border: 1px solid var(--ok); background: repeating-linear-gradient(135deg, var(--ok) 0 2px, transparent 2px 5px); }
.legend i.sw-line { width: 0; border-left: 2px dashed var(--int); border-radius: 0; height: 12px; margin: 0 8px; }
.sw-band { background: var(--band2); border: 1px solid var(--line); }
.details { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin-top: 8px; }
.details h4 { margin: 0; font-size: 13px; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.details ol { margin: 6px 0; padding-left: 20px; } .details li { overflow-wrap: anywhere; }
.details button { margin-top: 0; }
#events { list-style: none; margin: 0; padding: 0; max-height: 320px; overflow: auto; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
#events li { padding: 2px 0; border-bottom: 1px dotted var(--line); white-space: pre-wrap; overflow-wrap: anywhere; }
#events li.k-interrupted, #events li.k-finished, #events li.k-started, #events li.k-waiting, #events li.k-input { font-weight: 600; }
#events li.k-waiting { color: var(--wait); }
#events li.k-output { color: var(--muted); font-style: italic; }
.table-box { overflow-x: auto; }
table { width: 100%; border-collapse: collapse; } th, td { text-align: left; vertical-align: top; padding: 5px 6px; border-bottom: 1px solid var(--line); }
td code { overflow-wrap: anywhere; } td .sub { display: block; color: var(--muted); font-size: 12px; } td.num { white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: 12px; } tbody tr { cursor: pointer; }
td .questions { color: var(--wait); font-size: 12px; font-weight: 600; white-space: nowrap; }
#runs-card h2 button { margin: 0 0 0 auto; padding: 2px 10px; font-size: 12px; }
button.toggle { background: transparent; color: var(--fg); border-color: var(--line); }
button.toggle.attention { border-color: var(--wait); color: var(--wait); font-weight: 600; }
button.toggle[aria-pressed="true"] { background: var(--wait-bg); border-color: var(--wait); color: var(--fg); }
tbody tr:hover, tbody tr.selected { background: var(--hover); }
[hidden] { display: none !important; }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } #run-card { order: -1; } #no-run { display: none; } }
@media (max-width: 600px) {
  header { padding: 8px 12px; } header .tagline { display: none; }
  main, #login { padding: 10px; gap: 10px; } .card { padding: 12px; }
}
`

const script = String.raw`
"use strict";
(() => {
  const KEY = "agent-interrupt-token";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  // A run is followed live while an attempt is under way or waits.
  const isActive = (status) => status === "running" || status === "cancelling" || status === "awaiting";
  // Parked: the attempt ended while a step waits for a person; no process holds the run, an answer resumes it.
  const isParked = (info) => info.status === "awaiting" && info.finishedAt !== undefined;
  const symbols = { started: "▶", completed: "✓", failed: "✗", interrupted: "■", cancelling: "…", recovered: "↺", retrying: "↻", awaiting: "⏸", human_intervention: "✋" };

  const state = {
    token: sessionStorage.getItem(KEY),
    id: null,          // the run in the URL (#/runs/<id>)
    info: null,        // its ExecutionInfo
    model: null,       // its events, folded for the timeline
    lastEventId: 0,    // the last event id seen: where the stream resumes
    follower: null,    // the AbortController of its event stream, while one is read
    dateSkew: null,    // the server's clock minus ours, by its Date header (to the second)
    focus: null,       // the timeline step shown in the details
    ticker: null,      // re-renders the timeline while the run is live
    tickerEvery: 0,    // its interval (ms)
    runsTimer: null,
    runs: [],          // the last runs list
    needsMe: false,    // the runs table shows only the runs that wait for an answer
    outputs: new Map() // the live output line of each streaming step (address#occurrence/attempt)
  };

  // --- DOM: text is always a text node, never parsed as HTML -------------------------------------
  const build = (node, attrs, children) => {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (typeof value === "function") node.addEventListener(key.replace(/^on/, ""), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) if (child !== undefined && child !== null && child !== false) node.append(child);
    return node;
  };
  const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
  const svg = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  // Rebuilds a node's content only when what it shows changed (keeps selections and scroll positions).
  const changed = (node, key) => { if (node.__key === key) return false; node.__key = key; return true; };

  // --- formatting ------------------------------------------------------------------------------------
  const parseTime = (iso) => { const t = Date.parse(iso); return Number.isNaN(t) ? null : t; };
  const clock = (ms) => new Date(ms).toLocaleTimeString();
  const time = (iso) => { const t = parseTime(iso); return t === null ? String(iso === undefined ? "" : iso) : clock(t); };
  const trimZero = (text) => text.replace(/\.0$/, "");
  const duration = (ms) => {
    if (!(ms >= 0)) return "";
    if (ms < 1000) return Math.round(ms) + " ms";
    if (ms < 60000) return trimZero((ms / 1000).toFixed(ms < 10000 ? 1 : 0)) + " s";
    const s = Math.round(ms / 1000);
    if (s < 3600) return Math.floor(s / 60) + " min" + (s % 60 ? " " + (s % 60) + " s" : "");
    if (s < 86400) return Math.floor(s / 3600) + " h" + (Math.floor(s / 60) % 60 ? " " + (Math.floor(s / 60) % 60) + " min" : "");
    return Math.floor(s / 86400) + " d" + (Math.floor(s / 3600) % 24 ? " " + (Math.floor(s / 3600) % 24) + " h" : "");
  };
  const short = (value, max) => { const text = typeof value === "string" ? value : JSON.stringify(value); return text.length > max ? text.slice(0, max - 1) + "…" : text; };
  const fit = (text, chars) => chars < 2 ? "" : text.length > chars ? text.slice(0, Math.max(1, Math.floor(chars) - 1)) + "…" : text;
  // A result in full: text as it is, anything else as indented JSON.
  const pretty = (value) => typeof value === "string" ? value : JSON.stringify(value, null, 2);
  const plural = (n, word) => n + " " + word + (n === 1 ? "" : "s");
  // A value as JSON, clipped (how the CLI shows an answer).
  const json = (value, max) => { const text = JSON.stringify(value === undefined ? null : value); return text.length <= (max || 90) ? text : text.slice(0, (max || 90) - 1) + "…"; };

  // Steps done, of what: the workflow's expected steps when it says (its total never jumps), else the
  // steps begun so far. The run card and the runs table both show this.
  const progressOf = (p) => {
    const done = p.done !== undefined ? p.done : p.completed + p.recovered;
    if (p.total !== undefined) return { done, total: Math.max(p.total, done), expected: true };
    return { done, total: Math.max(done, p.started - p.retrying + p.recovered), expected: false };
  };

  // --- requests: errors are the server's own messages ({ _tag, message }) ------------------------------
  class Unauthorized extends Error {}
  const statusMessages = {
    400: "The server refused the request.", 401: "The server rejected the token.", 404: "Not found.",
    409: "The run is not in a state that allows this.", 413: "The request is too large.",
    429: "Too many requests: try again in a moment.", 500: "The server failed; its log says why.",
    502: "The server is unreachable behind its proxy.", 503: "The server is unavailable: try again."
  };
  const messageOf = (status, text) => {
    let data = null;
    try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
    if (data && typeof data.message === "string" && data.message !== "") return data.message;
    return statusMessages[status] || "The server answered with status " + status + ".";
  };
  const unreachable = "Cannot reach the server: check that it still runs, then try again.";
  const runPath = (id, rest) => "/api/executions/" + encodeURIComponent(id) + (rest || "");

  async function api(method, path, body) {
    const headers = { authorization: "Bearer " + state.token };
    if (body !== undefined) headers["content-type"] = "application/json";
    let response;
    try {
      response = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
    } catch (e) { throw new Error(unreachable); }
    const date = parseTime(response.headers.get("date"));
    if (date !== null) state.dateSkew = date - Date.now();
    const text = await response.text();
    if (response.status === 401) { signOut("The server rejected the token: enter it again."); throw new Unauthorized("unauthorized"); }
    if (!response.ok) { const error = new Error(messageOf(response.status, text)); error.status = response.status; throw error; }
    return text === "" ? null : JSON.parse(text);
  }
  const report = (node) => (error) => { if (!(error instanceof Unauthorized)) node.textContent = (error && error.message) || String(error); };

  // --- URL: #/runs/<id> ----------------------------------------------------------------------------------
  const hrefOf = (id) => "#/runs/" + encodeURIComponent(id);
  const idFromUrl = () => {
    const match = /^#\/runs\/([^/?#]+)$/.exec(location.hash);
    if (match === null) return null;
    try { return decodeURIComponent(match[1]); } catch (e) { return null; }
  };
  // Shows a run: a new history entry, so back and forward move between runs.
  const go = (id) => { const href = id === null ? "#/" : hrefOf(id); if (location.hash === href) route(); else location.hash = href; };
  function route() {
    if (state.token === null) return;
    const id = idFromUrl();
    if (id !== state.id) open(id);
  }
  window.addEventListener("hashchange", route);

  // --- token -------------------------------------------------------------------------------------------
  function signOut(message) {
    state.token = null; sessionStorage.removeItem(KEY);
    close();
    if (state.runsTimer) { clearInterval(state.runsTimer); state.runsTimer = null; }
    $("app").hidden = true; $("login").hidden = false; $("signout").hidden = true; $("who").textContent = "";
    $("login-error").textContent = message || "";
    $("token").focus();
  }
  async function signIn() {
    $("login").hidden = true; $("app").hidden = false; $("signout").hidden = false;
    $("who").textContent = "token set for this tab";
    route();
    try {
      const workflows = await api("GET", "/api/workflows");
      const picker = $("workflow");
      picker.replaceChildren(...workflows.map((w) => h("option", { value: w.name }, w.name)));
      const pick = () => {
        const w = workflows.find((x) => x.name === picker.value);
        $("workflow-description").textContent = w ? w.description + (w.steps !== undefined ? " (" + plural(w.steps, "step") + ")" : "") : "";
        $("input").value = w ? JSON.stringify(w.example) : "{}";
      };
      picker.onchange = pick; pick();
      await refreshRuns();
      if (state.runsTimer === null) state.runsTimer = setInterval(() => { refreshRuns().catch(() => {}); }, 2000);
    } catch (error) { report($("start-error"))(error); }
  }
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (value === "") { $("login-error").textContent = "Enter the token the server printed (or AGENT_INTERRUPT_TOKEN)."; return; }
    state.token = value; sessionStorage.setItem(KEY, value); $("token").value = ""; $("login-error").textContent = "";
    signIn();
  });
  $("signout").addEventListener("click", () => signOut(""));

  // --- the runs table ----------------------------------------------------------------------------------
  function runRow(run) {
    const { done, total } = progressOf(run.progress);
    const selected = run.executionId === state.id;
    const row = h("tr", { "data-id": run.executionId, "data-testid": "run-row", "data-status": run.status, class: selected ? "selected" : null },
      h("td", {},
        h("code", {}, h("a", { href: hrefOf(run.executionId), "aria-current": selected ? "page" : null }, run.executionId)),
        h("span", { class: "sub" }, run.workflow + (run.startedBy ? " · " + run.startedBy : "") + " · " + time(run.createdAt))),
      h("td", {}, h("span", { class: "badge s-" + run.status }, run.status),
        run.status === "awaiting" && run.inputs && run.inputs.length > 0
          ? h("span", { class: "questions", "data-testid": "run-questions" }, " · " + plural(run.inputs.length, "question")) : null),
      h("td", { class: "num", "data-testid": "run-steps", title: "steps done / " + (run.progress.total !== undefined ? "expected" : "begun") }, done + " / " + total));
    row.addEventListener("click", (event) => { if (!event.target.closest("a")) go(run.executionId); });
    return row;
  }
  // The selected run's row shows the freshest of the two answers, so the table and the card agree.
  const fresher = (a, b) => (b !== null && b.lastSequence > a.lastSequence) ? b : a;
  async function refreshRuns() {
    state.runs = await api("GET", "/api/executions");
    renderRuns();
    const mine = state.runs.find((run) => run.executionId === state.id);
    if (mine && state.info && (mine.lastSequence > state.info.lastSequence || mine.status !== state.info.status)) refreshSelected();
  }
  // "Needs me": the runs that wait for an answer (their count on the toggle), or every run.
  function renderRuns() {
    const runs = state.runs.map((run) => run.executionId === state.id ? fresher(run, state.info) : run);
    const waiting = runs.filter((run) => run.status === "awaiting");
    const toggle = $("needs-me");
    $("needs-me-count").textContent = String(waiting.length);
    toggle.setAttribute("aria-pressed", state.needsMe ? "true" : "false");
    toggle.classList.toggle("attention", waiting.length > 0);
    const shown = state.needsMe ? waiting : runs;
    const rows = shown.map(runRow);
    const empty = state.needsMe ? "No run waits for you." : "No runs yet.";
    keepingFocus(() => $("runs").replaceChildren(...(rows.length > 0 ? rows : [h("tr", {}, h("td", { colspan: 3, class: "muted", "data-testid": "runs-empty" }, empty))])));
  }
  $("needs-me").addEventListener("click", () => { state.needsMe = !state.needsMe; renderRuns(); refreshRuns().catch(() => {}); });

  function updateRow(info) {
    const old = Array.from($("runs").querySelectorAll("tr[data-id]")).find((row) => row.getAttribute("data-id") === info.executionId);
    if (old) keepingFocus(() => old.replaceWith(runRow(info)));
  }
  // Rows are rebuilt as runs change: the link that had the keyboard focus keeps it.
  function keepingFocus(replace) {
    const active = document.activeElement;
    const row = active && $("runs").contains(active) ? active.closest("tr[data-id]") : null;
    const id = row ? row.getAttribute("data-id") : null;
    replace();
    if (id === null) return;
    const again = Array.from($("runs").querySelectorAll("tr[data-id]")).find((r) => r.getAttribute("data-id") === id);
    const link = again ? again.querySelector("a") : null;
    if (link) link.focus({ preventScroll: true });
  }
  const highlightRows = () => {
    for (const row of $("runs").querySelectorAll("tr[data-id]")) {
      const selected = row.getAttribute("data-id") === state.id;
      row.classList.toggle("selected", selected);
      const link = row.querySelector("a");
      if (link) { if (selected) link.setAttribute("aria-current", "page"); else link.removeAttribute("aria-current"); }
    }
  };

  // --- start -------------------------------------------------------------------------------------------------
  $("start-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("start-error").textContent = "";
    let input;
    try { input = JSON.parse($("input").value || "{}"); } catch (e) { $("start-error").textContent = "The input is not valid JSON."; return; }
    const button = $("start"); button.disabled = true;
    try {
      const started = await api("POST", "/api/executions", { workflow: $("workflow").value, input });
      go(started.executionId);
      refreshRuns().catch(() => {});
    } catch (error) { report($("start-error"))(error); } finally { button.disabled = false; }
  });

  // --- the timeline model: the run's events folded into attempts and steps ----------------------------------
  // An attempt: from its ExecutionStarted to its ExecutionFinished, with its interrupts. A step (an
  // actor call, by address and occurrence): its segments, one per call attempt per run attempt.
  // A wait: from a step's question (its awaiting event) to its answer (the input event), or to the end
  // of the attempt (parked, interrupted); by input id.
  const newModel = () => ({ attempts: [], steps: new Map(), waits: new Map(), lastTs: 0, skew: null });

  function fold(model, sequence, kind, e) {
    const ts = parseTime(e.timestamp || e.at || (e.signal && e.signal.triggeredAt));
    if (ts === null) return;
    model.lastTs = Math.max(model.lastTs, ts);
    // the server's clock against ours (running bars grow to the server's "now")
    const skew = ts - Date.now();
    model.skew = model.skew === null ? skew : Math.max(model.skew, skew);
    if (kind === "started") {
      model.attempts.push({ index: model.attempts.length, n: e.attempt, start: ts, end: null, status: null, lastTs: ts, startedBy: e.startedBy, recoverable: e.recoverable, interrupts: [] });
      return;
    }
    let attempt = model.attempts[model.attempts.length - 1];
    if (attempt === undefined) { // its start is older than the history the server keeps
      attempt = { index: 0, n: 1, start: ts, end: null, status: null, lastTs: ts, interrupts: [] };
      model.attempts.push(attempt);
    }
    attempt.lastTs = Math.max(attempt.lastTs, ts);
    if (kind === "execution") foldStep(model, attempt, sequence, e, ts);
    else if (kind === "input") {
      const wait = model.waits.get(e.inputId);
      if (wait === undefined || e.status !== "answered") return;
      if (wait.end === null) wait.end = ts;
      wait.answered = { value: e.value, answeredBy: e.answeredBy, defaulted: e.defaulted === true };
      const segment = wait.segment;
      if (segment.end === null && segment.status === "awaiting" && segment.waits.every((w) => w.end !== null)) segment.status = "running";
    }
    else if (kind === "interrupted") attempt.interrupts.push({ at: ts, requested: parseTime(e.signal.triggeredAt), signal: e.signal, via: e.via });
    else if (kind === "finished") {
      attempt.end = ts; attempt.status = e.status;
      for (const step of model.steps.values()) {
        for (const segment of step.segments) {
          if (segment.attempt === attempt && segment.end === null) {
            segment.end = ts;
            segment.status = e.status === "interrupted" ? "interrupted" : e.status === "awaiting" ? "awaiting" : "cancelled";
          }
        }
      }
      for (const wait of model.waits.values()) {
        if (wait.attempt === attempt && wait.end === null) { wait.end = ts; wait.parked = e.status === "awaiting"; }
      }
    }
  }

  function foldStep(model, attempt, sequence, e, ts) {
    const key = e.address + "#" + e.occurrence;
    let step = model.steps.get(key);
    if (step === undefined) {
      step = { key, address: e.address, occurrence: e.occurrence, actor: e.actor, kind: e.kind, first: sequence, segments: [] };
      model.steps.set(key, step);
    }
    const mine = step.segments.filter((s) => s.attempt === attempt);
    const last = mine[mine.length - 1];
    const open = last !== undefined && last.end === null ? last : undefined;
    const keep = (segment) => {
      for (const field of ["message", "detail", "executionTime", "stopLatency", "errorTag"]) if (e[field] !== undefined) segment[field] = e[field];
      if ("result" in e) segment.result = e.result;
      if ("partialOutput" in e) segment.partialOutput = e.partialOutput;
      return segment;
    };
    switch (e.status) {
      case "started":
        step.segments.push({ attempt, call: e.attempt, start: ts, end: null, status: "running", input: e.detail });
        break;
      case "completed": case "failed": case "interrupted": {
        // no start in the history (a journal read back): the call ran for its executionTime
        const segment = open || step.segments[step.segments.push({ attempt, call: e.attempt, start: e.executionTime !== undefined ? ts - e.executionTime : ts, end: null }) - 1];
        segment.end = ts; segment.status = e.status;
        for (const wait of segment.waits || []) if (wait.end === null) wait.end = ts;
        keep(segment);
        break;
      }
      case "retrying":
        if (last !== undefined && last.status === "failed") { last.status = "retried"; last.retry = e.detail || e.message; }
        break;
      case "recovered":
        step.segments.push(keep({ attempt, call: e.attempt, start: ts, end: ts, status: "recovered" }));
        break;
      case "awaiting": case "human_intervention": {
        const segment = open || step.segments[step.segments.push({ attempt, call: e.attempt, start: ts, end: null }) - 1];
        segment.status = "awaiting";
        const input = e.input || {};
        const wait = { inputId: input.inputId, prompt: input.prompt || e.message || "", kind: input.kind, attempt, segment, start: ts, end: null, parked: false, answered: null };
        (segment.waits || (segment.waits = [])).push(wait);
        if (wait.inputId !== undefined) model.waits.set(wait.inputId, wait);
        break;
      }
    }
  }

  // Steps in tree order: each after the step whose address path is the longest prefix of its own.
  function orderSteps(model) {
    const list = Array.from(model.steps.values()).sort((a, b) => a.first - b.first);
    const byPath = new Map();
    for (const step of list) {
      step.path = step.address.split("::").slice(0, -1);
      step.children = [];
      const key = step.path.join("::");
      if (!byPath.has(key)) byPath.set(key, step);
    }
    const roots = [];
    for (const step of list) {
      let parent = null;
      for (let n = step.path.length - 1; n > 0 && parent === null; n--) parent = byPath.get(step.path.slice(0, n).join("::")) || null;
      (parent === null || parent === step ? roots : parent.children).push(step);
    }
    const out = [];
    const walk = (step) => { out.push(step); step.children.forEach(walk); };
    roots.forEach(walk);
    return out;
  }
  const depthOf = (step) => Math.max(0, step.address.split("::").length - 2);
  const nameOf = (step) => {
    const last = step.path[step.path.length - 1] || step.actor;
    const name = last === step.actor ? step.actor : step.actor + " · " + last;
    return step.occurrence > 1 ? name + " #" + step.occurrence : name;
  };
  const statusWords = { completed: "completed", failed: "failed", retried: "failed, then retried", interrupted: "interrupted",
    recovered: "recovered from the checkpoint (not run again)", running: "running", awaiting: "waiting for an answer", cancelled: "cancelled", lost: "unfinished (lost)" };
  const niceSteps = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 144e5, 216e5, 432e5, 864e5];
  const niceStep = (ms) => niceSteps.find((s) => s >= ms) || Math.ceil(ms / 864e5) * 864e5;

  // --- the run card: a list of sections -------------------------------------------------------------
  // Each section builds its node once and renders the run ({ id, info, model }) into it. A new card
  // of the run is one more section() call, placed where it should show.
  const sections = [];
  const section = (name, spec) => sections.push({ name, node: null, ...spec });

  section("banner", {
    build: () => h("div", {},
      h("div", { class: "banner", id: "banner", "data-testid": "banner", role: "status", hidden: true }),
      h("div", { class: "banner lost", id: "lost-note", "data-testid": "lost-note", role: "status", hidden: true })),
    render: ({ info }) => {
      const banner = $("banner");
      const signal = info.interrupt;
      banner.hidden = !signal;
      if (signal && changed(banner, JSON.stringify([signal, info.status, info.checkpoint, info.checkpointId, info.checkpointDetail, info.interruptStages]))) {
        const draining = info.status === "cancelling";
        const checkpoint = info.checkpointId ? info.checkpointId + " (saved)"
          : draining ? "saved once the run stops"
          : info.checkpoint === "not_saved" ? "not saved"
          : info.checkpoint === "failed" ? "failed to save" + (info.checkpointDetail ? ": " + info.checkpointDetail : "") : "—";
        const rows = [
          ["Reason", signal.reason, "banner-reason"],
          ["Message", signal.message || "—", "banner-message"],
          ["By", signal.triggeredBy || "—", "banner-by"],
          ["At", time(signal.triggeredAt), "banner-at"],
          ["Stages", info.interruptStages.map((s) => s.stage).join(" → ") || "requested", "banner-stages"],
          ["Checkpoint", checkpoint, "banner-checkpoint"]
        ];
        banner.replaceChildren(
          h("strong", {}, draining ? "Stopping… the run drains (cancelling) before it stops" : "Interrupted"),
          h("dl", {}, ...rows.flatMap(([label, value, id]) => [h("dt", {}, label), h("dd", { "data-testid": id, title: label === "At" ? signal.triggeredAt : null }, value)])));
      }
      const lost = $("lost-note");
      lost.hidden = info.status !== "lost";
      if (!lost.hidden && changed(lost, info.owner || "")) {
        lost.replaceChildren(h("strong", {}, "Lost"),
          h("p", {}, "The process that ran it" + (info.owner ? " (" + info.owner + ")" : "") + " is gone: nothing holds its lease. " +
            "Resume continues it here from its journal; the steps it finished are not run again."));
      }
    }
  });

  // --- the "waiting for you" card: the questions the run's steps asked a person ------------------------
  // One entry per waiting input (info.inputs), built once and kept while it is listed, so what is typed
  // in it survives the re-renders. An answer is POSTed; the entry says "Answered" and goes once the run
  // no longer lists the input. A refusal (400) shows the server's message and the form stays; an answer
  // that came from elsewhere first (409) or an input that is gone (404) shows the message until dismissed.
  const asks = new Map(); // inputId → { request, node, controls, error, status, deadline, sending, answered, keep }

  section("waiting", {
    build: () => h("div", {},
      h("div", { class: "waiting", id: "waiting", "data-testid": "waiting", role: "region", "aria-labelledby": "waiting-title", hidden: true },
        h("h3", { id: "waiting-title" }, "✋ Waiting for you", h("span", { class: "muted", id: "waiting-count" })),
        h("p", { class: "parked", id: "waiting-parked", "data-testid": "waiting-parked", hidden: true },
          "Parked: no process holds this run while it waits. Your answer resumes it; the steps it finished are not run again."),
        h("div", { id: "waiting-list" })),
      h("p", { class: "answered-note", id: "answered-note", "data-testid": "answered-note", role: "status", tabindex: -1 })),
    reset: () => { asks.clear(); $("waiting-list").replaceChildren(); $("answered-note").textContent = ""; },
    render: ({ id, info }) => {
      const listed = new Set(info.inputs.map((request) => request.inputId));
      const list = $("waiting-list");
      let lostFocus = false;
      for (const [inputId, ask] of asks) {
        if (listed.has(inputId) || ask.sending || ask.keep) continue;
        lostFocus = lostFocus || ask.node.contains(document.activeElement);
        ask.node.remove(); asks.delete(inputId);
      }
      let i = 0;
      for (const request of info.inputs) {
        let ask = asks.get(request.inputId);
        if (ask === undefined) { ask = makeAsk(id, request); asks.set(request.inputId, ask); }
        if (list.children[i] !== ask.node) list.insertBefore(ask.node, list.children[i] || null);
        i++;
      }
      for (const ask of asks.values()) renderDeadline(ask);
      const open = Array.from(asks.values()).filter((ask) => !ask.answered).length;
      $("waiting").hidden = asks.size === 0;
      $("waiting-count").textContent = open > 1 ? plural(open, "question") : "";
      $("waiting-parked").hidden = !(isParked(info) && info.inputs.length > 0);
      // the answered entry had the focus: it goes to the next question, or to what was said of the answer
      if (lostFocus) {
        const next = list.querySelector(".ask:not(.answered) button:not([disabled]), .ask:not(.answered) input, .ask:not(.answered) textarea, .ask:not(.answered) select");
        (next || $("answered-note")).focus({ preventScroll: true });
      }
    }
  });

  // A deadline and what happens then: the default becomes the answer, or the run stops (timeout).
  function renderDeadline(ask) {
    const request = ask.request;
    if (ask.deadline === null) return;
    const at = parseTime(request.deadline);
    const now = Date.now() + (state.dateSkew || 0);
    const left = at === null ? null : at - now;
    const when = at === null ? String(request.deadline) : clock(at) + (left > 0 ? " (in " + duration(Math.max(1000, Math.round(left / 1000) * 1000)) + ")" : " (passed)");
    const then = request.default !== undefined ? "then the default is the answer: " + json(request.default, 120) : "then the run stops (timeout)";
    const text = "⏱ Answer by " + when + "; " + then + ".";
    if (ask.deadline.textContent !== text) ask.deadline.textContent = text;
  }

  function makeAsk(runId, request) {
    const promptId = "ask-prompt-" + request.inputId;
    const ask = { request, runId, sending: false, answered: null, keep: false };
    ask.error = h("p", { class: "error", role: "alert", "data-testid": "ask-error" });
    ask.status = h("p", { class: "ask-status", role: "status", "data-testid": "ask-status" });
    ask.deadline = request.deadline !== undefined ? h("p", { class: "deadline", "data-testid": "ask-deadline", title: request.deadline }) : null;
    ask.controls = h("div", { class: "controls" },
      request.kind === "approval" ? approvalControls(ask) : Array.isArray(request.choices) ? choiceControls(ask) : formControls(ask));
    ask.node = h("div", { class: "ask", role: "group", "aria-labelledby": promptId, "data-testid": "ask", "data-input-id": request.inputId, "data-kind": request.kind },
      h("p", { class: "prompt", id: promptId, "data-testid": "ask-prompt" }, request.prompt),
      h("p", { class: "where" }, (request.kind === "approval" ? "Approval asked by " : "Asked by ") , h("code", {}, request.address + (request.occurrence > 1 ? " #" + request.occurrence : "")), " · ", h("code", {}, request.inputId)),
      request.tool !== undefined ? h("p", { class: "where" }, "Tool ", h("code", {}, request.tool), request.toolInput !== undefined ? " with" : "") : null,
      request.toolInput !== undefined ? h("pre", { class: "output", "data-testid": "ask-tool-input", tabindex: 0 }, short(pretty(request.toolInput), 2000)) : null,
      ask.deadline, ask.controls, ask.error, ask.status);
    renderDeadline(ask);
    return ask;
  }

  // The answer, POSTed; the controls are disabled meanwhile.
  async function send(ask, value) {
    if (ask.sending || ask.answered) return;
    const id = ask.runId, inputId = ask.request.inputId;
    const fields = Array.from(ask.controls.querySelectorAll("button, input, select, textarea"));
    const focused = fields.includes(document.activeElement) ? document.activeElement : null;
    ask.sending = true;
    for (const field of fields) field.disabled = true;
    ask.error.textContent = ""; ask.status.textContent = "Sending…"; ask.status.className = "ask-status busy";
    try {
      const receipt = await api("POST", runPath(id, "/inputs/" + encodeURIComponent(inputId)), { value });
      ask.answered = receipt;
      ask.node.classList.add("answered");
      ask.status.className = "ask-status";
      ask.status.textContent = "✓ Answered: " + json(receipt.value) + (receipt.answeredBy ? " (by " + receipt.answeredBy + ")" : "");
      if (id === state.id) $("answered-note").textContent = "✓ Answered " + inputId + ": " + json(receipt.value) + (receipt.answeredBy ? " (by " + receipt.answeredBy + ")" : "") + ".";
    } catch (error) {
      ask.status.textContent = ""; ask.status.className = "ask-status";
      if (!(error instanceof Unauthorized)) ask.error.textContent = (error && error.message) || String(error);
      if (error && (error.status === 404 || error.status === 409)) {
        // answered elsewhere first, or gone: nothing to answer here any more
        ask.keep = true;
        const dismiss = h("button", { type: "button", class: "secondary", "data-testid": "ask-dismiss", onclick: () => { ask.keep = false; renderRun(); } }, "Dismiss");
        ask.controls.replaceChildren(h("div", { class: "actions" }, dismiss));
        dismiss.focus({ preventScroll: true });
      } else {
        for (const field of fields) field.disabled = false;
        if (focused !== null) focused.focus({ preventScroll: true });
      }
    } finally {
      ask.sending = false;
    }
    if (id !== state.id) return;
    wake();
    await refreshSelected();
    follow(id);
  }

  function approvalControls(ask) {
    const key = ask.request.inputId;
    const reason = h("input", { id: "reason-" + key, "data-testid": "reject-reason", maxlength: 1000, placeholder: "e.g. not this week", autocomplete: "off" });
    const reject = h("button", { type: "button", class: "danger", "data-testid": "reject", "aria-expanded": "false", "aria-controls": "reject-" + key }, "Reject…");
    const closeForm = () => { form.hidden = true; reject.setAttribute("aria-expanded", "false"); reject.focus(); };
    const form = h("form", { id: "reject-" + key, "data-testid": "reject-form", hidden: true, novalidate: true,
        onsubmit: (event) => { event.preventDefault(); const why = reason.value.trim(); send(ask, why === "" ? { approved: false } : { approved: false, reason: why }); },
        onkeydown: (event) => { if (event.key === "Escape") closeForm(); } },
      h("label", { for: "reason-" + key }, "Why reject it? (optional)"), reason,
      h("div", { class: "actions" },
        h("button", { type: "submit", class: "danger", "data-testid": "reject-confirm" }, "Reject"),
        h("button", { type: "button", class: "secondary", onclick: closeForm }, "Cancel")));
    reject.addEventListener("click", () => { form.hidden = false; reject.setAttribute("aria-expanded", "true"); reason.focus(); });
    return h("div", {},
      h("div", { class: "actions" },
        h("button", { type: "button", class: "ok", "data-testid": "approve", onclick: () => send(ask, { approved: true }) }, "Approve"),
        reject),
      form);
  }

  function choiceControls(ask) {
    const fallback = ask.request.default === undefined ? null : JSON.stringify(ask.request.default);
    return h("div", { class: "actions", role: "group", "aria-label": "Choices" },
      ...ask.request.choices.map((choice) => {
        const text = JSON.stringify(choice);
        return h("button", { type: "button", "data-testid": "choice", "data-value": text, title: text === fallback ? "the default once the deadline passes" : null,
          onclick: () => send(ask, choice) }, text, text === fallback ? " (default)" : null);
      }));
  }

  // --- a small form from the answer's JSON Schema ---------------------------------------------------------
  const NON_FINITE = ["Infinity", "-Infinity", "NaN"];
  // What a JSON Schema asks for: string, number, boolean, enum, an object of those, or any JSON.
  function shapeOf(schema) {
    if (schema === null || typeof schema !== "object" || Array.isArray(schema)) return { kind: "json" };
    if (Array.isArray(schema.enum)) return { kind: "enum", values: schema.enum };
    if ("const" in schema) return { kind: "enum", values: [schema.const] };
    const branches = schema.anyOf || schema.oneOf;
    if (Array.isArray(branches)) {
      const shapes = branches.map(shapeOf);
      if (shapes.length > 0 && shapes.every((s) => s.kind === "enum")) return { kind: "enum", values: shapes.flatMap((s) => s.values) };
      // a number that may also be "Infinity", "-Infinity" or "NaN" (how Schema.Number writes those)
      const numbers = shapes.filter((s) => s.kind === "number");
      if (numbers.length === 1 && shapes.every((s) => s.kind === "number" || (s.kind === "enum" && s.values.every((v) => NON_FINITE.includes(v))))) return numbers[0];
      return { kind: "json" };
    }
    switch (schema.type) {
      case "string": return { kind: "string", schema };
      case "number": return { kind: "number", schema };
      case "integer": return { kind: "number", integer: true, schema };
      case "boolean": return { kind: "boolean" };
      case "object": {
        const properties = schema.properties;
        if (properties === null || typeof properties !== "object" || Array.isArray(properties)) return { kind: "json" };
        const required = Array.isArray(schema.required) ? schema.required : [];
        const fields = Object.entries(properties).map(([name, s]) => ({ name, shape: shapeOf(s), required: required.includes(name) }));
        if (fields.length === 0 || fields.some((f) => f.shape.kind === "json" || f.shape.kind === "object")) return { kind: "json" };
        return { kind: "object", fields };
      }
    }
    return { kind: "json" };
  }
  // A short note of a field's limits, from its schema.
  function hintOf(shape) {
    const s = shape.schema || {};
    if (shape.kind === "number") {
      const low = s.minimum !== undefined && s.minimum > -9007199254740991 ? s.minimum : s.exclusiveMinimum;
      const high = s.maximum !== undefined && s.maximum < 9007199254740991 ? s.maximum : s.exclusiveMaximum;
      const what = shape.integer ? "a whole number" : "a number";
      return low !== undefined && high !== undefined ? what + ", " + low + " to " + high : low !== undefined ? what + " from " + low : high !== undefined ? what + " up to " + high : what;
    }
    if (shape.kind === "string") {
      if (s.minLength !== undefined && s.maxLength !== undefined) return s.minLength + " to " + s.maxLength + " characters";
      if (s.minLength !== undefined) return "at least " + plural(s.minLength, "character");
      if (s.maxLength !== undefined) return "at most " + plural(s.maxLength, "character");
    }
    return "";
  }
  const labelOf = (value) => typeof value === "string" ? value : JSON.stringify(value);

  // One field: its nodes, and read() → { value } | { empty: true } | { error }.
  // required: true (marked *), false ("optional"), null (the whole answer: needed, not marked).
  function fieldOf(shape, key, name, required, initial) {
    const id = "ask-" + key;
    const hint = hintOf(shape);
    const label = (text) => h("label", { for: id }, text, required === true ? h("span", { class: "req", title: "required" }, " *") : required === false ? h("span", { class: "hint" }, " (optional)") : null,
      hint ? h("span", { class: "hint" }, " — " + hint) : null);
    const common = { id, "data-testid": "ask-field", "data-name": name, "aria-required": required === true ? "true" : null };
    switch (shape.kind) {
      case "string": {
        const input = h("input", { ...common, type: "text", autocomplete: "off", spellcheck: "false" });
        if (typeof initial === "string") input.value = initial;
        return { nodes: [label(name), input], focus: input, read: () => input.value === "" && required === false ? { empty: true } : { value: input.value } };
      }
      case "number": {
        const input = h("input", { ...common, type: "number", inputmode: shape.integer ? "numeric" : "decimal", step: shape.integer ? 1 : "any" });
        if (typeof initial === "number") input.value = String(initial);
        return { nodes: [label(name), input], focus: input, read: () => {
          const text = input.value.trim();
          if (text === "") return input.validity && input.validity.badInput ? { error: name + ": not a number" } : required !== false ? { error: name + ": enter a number" } : { empty: true };
          const n = Number(text);
          return Number.isFinite(n) ? { value: n } : { error: name + ": not a number" };
        } };
      }
      case "boolean": {
        if (required === false) {
          const select = h("select", common, h("option", { value: "" }, "— (leave out)"), h("option", { value: "true" }, "yes (true)"), h("option", { value: "false" }, "no (false)"));
          if (typeof initial === "boolean") select.value = String(initial);
          return { nodes: [label(name), select], focus: select, read: () => select.value === "" ? { empty: true } : { value: select.value === "true" } };
        }
        const box = h("input", { ...common, type: "checkbox" });
        box.checked = initial === true;
        return { nodes: [h("label", { class: "check", for: id }, box, name, required === true ? h("span", { class: "req", title: "required" }, " *") : null)], focus: box, read: () => ({ value: box.checked }) };
      }
      case "enum": {
        const select = h("select", common,
          required === false ? h("option", { value: "" }, "— (leave out)") : null,
          ...shape.values.map((v, i) => h("option", { value: String(i) }, labelOf(v))));
        const at = shape.values.findIndex((v) => JSON.stringify(v) === JSON.stringify(initial));
        if (at >= 0) select.value = String(at);
        return { nodes: [label(name), select], focus: select, read: () => select.value === "" ? { empty: true } : { value: shape.values[Number(select.value)] } };
      }
      default: {
        const area = h("textarea", { ...common, rows: 4, spellcheck: "false", placeholder: "JSON, e.g. " + exampleOf(shape.schema) });
        if (initial !== undefined) area.value = JSON.stringify(initial, null, 2);
        return { nodes: [label(name + " (JSON)"), area], focus: area, read: () => {
          const text = area.value.trim();
          if (text === "") return { error: "Enter the answer as JSON." };
          try { return { value: JSON.parse(text) }; } catch (e) { return { error: "Not valid JSON: " + ((e && e.message) || "parse error") + ". Nothing was sent." }; }
        } };
      }
    }
  }
  // A tiny example of a JSON Schema's value, for a placeholder.
  function exampleOf(schema) {
    if (!schema || typeof schema !== "object") return '"text"';
    if (schema.type === "array") return "[" + exampleOf(schema.items) + "]";
    if (schema.type === "object") return "{ … }";
    if (schema.type === "number" || schema.type === "integer") return "1";
    if (schema.type === "boolean") return "true";
    return '"text"';
  }

  function formControls(ask) {
    const request = ask.request;
    const key = request.inputId;
    const shape = shapeOf(request.jsonSchema);
    if (shape.kind === "boolean") {
      return h("div", { class: "actions" },
        h("button", { type: "button", "data-testid": "answer-yes", onclick: () => send(ask, true) }, "Yes"),
        h("button", { type: "button", class: "secondary", "data-testid": "answer-no", onclick: () => send(ask, false) }, "No"));
    }
    let fields;
    if (shape.kind === "object") {
      const initial = request.default !== null && typeof request.default === "object" ? request.default : {};
      fields = shape.fields.map((f, i) => ({ name: f.name, field: fieldOf(f.shape, key + "-" + i, f.name, f.required, initial[f.name]) }));
    } else {
      const field = fieldOf(shape.kind === "json" ? { kind: "json", schema: request.jsonSchema } : shape, key, "Your answer", null, request.default);
      fields = [{ name: null, field }];
    }
    const submit = (event) => {
      event.preventDefault();
      ask.error.textContent = "";
      let value = {};
      for (const { name, field } of fields) {
        const read = field.read();
        if (read.error !== undefined) { ask.error.textContent = read.error; field.focus.focus(); return; }
        if (name === null) value = read.empty ? "" : read.value;
        else if (!read.empty) value[name] = read.value;
      }
      send(ask, value);
    };
    return h("form", { novalidate: true, autocomplete: "off", onsubmit: submit, "data-testid": "ask-form" },
      ...fields.flatMap(({ field }) => field.nodes),
      shape.kind === "json" ? h("details", {}, h("summary", {}, "The answer's JSON Schema"), h("pre", {}, JSON.stringify(request.jsonSchema, null, 2))) : null,
      h("div", { class: "actions" }, h("button", { type: "submit", "data-testid": "ask-submit" }, "Send answer")));
  }


  section("progress", {
    build: () => h("div", {},
      h("div", { class: "bar", role: "progressbar", id: "bar-track", "aria-label": "Steps done", "aria-valuemin": 0 }, h("div", { id: "bar" })),
      h("p", { class: "muted", id: "progress-text", "data-testid": "progress" })),
    render: ({ info }) => {
      const p = info.progress;
      const { done, total, expected } = progressOf(p);
      $("bar").style.width = (total === 0 ? 0 : Math.round(100 * done / total)) + "%";
      $("bar-track").setAttribute("aria-valuemax", String(total)); $("bar-track").setAttribute("aria-valuenow", String(done));
      $("progress-text").textContent = (expected ? done + " of " + plural(total, "step") + " done" : done + " done of " + plural(total, "step") + " begun") +
        (p.recovered > 0 ? " (" + p.recovered + " replayed from the checkpoint)" : "") +
        (p.retrying > 0 ? ", " + p.retrying + " retried" : "") + (p.failed - p.retrying > 0 ? ", " + (p.failed - p.retrying) + " failed" : "") +
        " · " + plural(p.events, "event") + (info.runs > 1 ? " · attempt " + info.runs : "");
    }
  });

  section("actions", {
    build: () => h("div", {},
      h("div", { class: "actions" },
        h("button", { class: "danger", id: "stop", type: "button", "data-testid": "stop", hidden: true, onclick: openStopForm }, "Stop"),
        h("button", { id: "resume", type: "button", "data-testid": "resume", hidden: true, onclick: resume }, "Resume")),
      h("form", { id: "stop-form", "data-testid": "stop-form", hidden: true, onsubmit: stop, onkeydown: (e) => { if (e.key === "Escape") closeStopForm(); } },
        h("label", { for: "stop-reason" }, "Reason"),
        h("select", { id: "stop-reason", "data-testid": "stop-reason" },
          ...["user_cancelled", "priority_override", "resource_limit", "custom"].map((r) => h("option", { value: r }, r))),
        h("label", { for: "stop-message" }, "Why? (optional)"),
        h("input", { id: "stop-message", "data-testid": "stop-message", maxlength: 1000, placeholder: "e.g. wrong topic" }),
        h("div", { class: "actions" },
          h("button", { class: "danger", type: "submit", id: "stop-confirm", "data-testid": "stop-confirm" }, "Stop now"),
          h("button", { class: "secondary", type: "button", id: "stop-cancel", onclick: closeStopForm }, "Cancel")))),
    render: ({ info }) => {
      const status = info.status;
      const stop = $("stop");
      stop.hidden = !isActive(status);
      stop.disabled = status === "cancelling";
      stop.textContent = status === "cancelling" ? "Stopping…" : "Stop";
      if (stop.hidden || stop.disabled) $("stop-form").hidden = true;
      const button = $("resume");
      button.hidden = !(status === "lost" || ((status === "interrupted" || status === "failed") && info.checkpoint === "saved"));
      button.textContent = status === "failed" ? "Retry from the checkpoint" : "Resume";
    }
  });

  section("result", {
    build: () => h("div", { id: "result-section", hidden: true }),
    render: ({ info, model }) => {
      const node = $("result-section");
      if (!changed(node, info.executionId + ":" + info.lastSequence + ":" + state.lastEventId + ":" + info.status)) return;
      const parts = [];
      if (info.status === "completed") {
        parts.push(h("h3", {}, "Result"));
        parts.push("result" in info ? h("pre", { class: "output", "data-testid": "result", tabindex: 0 }, pretty(info.result)) : h("p", { class: "muted" }, "It completed with a value that is not JSON."));
      }
      if (info.error !== undefined) parts.push(h("h3", {}, "Error"), h("pre", { class: "output failure", "data-testid": "failure", tabindex: 0 }, info.error));
      if (info.status !== "completed") {
        // the output the interrupted streams of the latest attempt had produced
        const attempt = model.attempts[model.attempts.length - 1];
        for (const step of orderSteps(model)) {
          for (const segment of step.segments) {
            if (segment.attempt !== attempt || segment.partialOutput === undefined) continue;
            parts.push(h("h3", {}, "Partial output"),
              h("p", { class: "caption" }, nameOf(step) + " (" + step.kind + ") was interrupted" + (segment.end !== null ? " after " + duration(segment.end - segment.start) : "") + "; it had produced:"),
              h("pre", { class: "output", "data-testid": "partial-output", "data-address": step.address, tabindex: 0 }, pretty(segment.partialOutput)));
          }
        }
      }
      node.replaceChildren(...parts);
      node.hidden = parts.length === 0;
    }
  });

  section("timeline", {
    build: () => h("div", { id: "timeline-section", "data-testid": "timeline-section" },
      h("h3", { id: "timeline-title" }, "Timeline"),
      h("div", { class: "timeline-box", id: "timeline", "data-testid": "timeline", role: "group", "aria-labelledby": "timeline-title" }),
      h("ul", { class: "legend", "aria-label": "Legend" },
        ...[["completed", "completed"], ["failed", "failed"], ["retried", "failed, retried"], ["interrupted", "interrupted"],
          ["recovered", "recovered from the checkpoint"], ["running", "running"], ["awaiting", "waiting for you"], ["line", "interrupt"], ["band", "attempt"]]
          .map(([name, text]) => h("li", {}, h("i", { class: "sw-" + name }), text))),
      h("div", { class: "details", id: "step-details", "data-testid": "step-details", hidden: true })),
    render: (run) => { renderTimeline(run); renderDetails(run); }
  });

  section("events", {
    build: () => h("div", {}, h("h3", {}, "Events"), h("ol", { id: "events", "data-testid": "events" })),
    reset: () => { $("events").replaceChildren(); state.outputs = new Map(); },
    render: () => {}
  });

  // --- the timeline picture -----------------------------------------------------------------------
  const ROW = 24, TOP = 40, BOTTOM = 24;

  function renderTimeline({ info, model }) {
    const box = $("timeline");
    const steps = orderSteps(model);
    if (steps.length === 0 && model.attempts.length === 0) {
      if (changed(box, "empty")) box.replaceChildren(h("p", { class: "muted" }, "No steps yet."));
      return;
    }
    box.__key = null;
    const live = isActive(info.status);
    // now, by the server's clock: the freshest of what its events and its Date header say
    const skews = [model.skew, state.dateSkew].filter((s) => s !== null);
    const now = Math.max(model.lastTs, Date.now() + (skews.length === 0 ? 0 : Math.max(...skews)));
    // one span per attempt: start to end (to now while it runs; to its last event when it was lost)
    const spans = model.attempts.map((attempt, i) => {
      const last = i === model.attempts.length - 1;
      const end = attempt.end !== null ? attempt.end : last && live ? now : attempt.lastTs;
      const status = attempt.end !== null ? attempt.status : last && live ? info.status : last && info.status !== "lost" ? "unfinished" : "lost";
      return { attempt, start: attempt.start, end: Math.max(end, attempt.start), live: attempt.end === null && last && live, status };
    });
    for (const step of steps) {
      for (const segment of step.segments) {
        const span = spans[segment.attempt.index];
        span.start = Math.min(span.start, segment.start);
        if (segment.end !== null) span.end = Math.max(span.end, segment.end);
      }
    }
    // The time axis, one scale (px per ms) for every attempt, side by side: a long pause between two
    // is a fixed-width break (not to scale), and a short attempt gets a band wide enough to read
    // (its bars keep the scale; the band is padded).
    const busy = spans.reduce((sum, span) => sum + Math.max(1, span.end - span.start), 0);
    const items = [];
    spans.forEach((span, i) => {
      if (i > 0) {
        const gap = span.start - spans[i - 1].end;
        if (gap > 0) items.push({ gap, long: gap > 1000 && gap > busy * 0.06 });
      }
      items.push({ span, length: Math.max(1, span.end - span.start) });
    });
    const width0 = Math.max(box.clientWidth || 800, 560);
    const labelWidth = width0 >= 760 ? 230 : 150;
    const x0 = labelWidth + 10;
    const BREAK = 48;
    let chartWidth = width0 - x0 - 16;
    const minBand = Math.max(40, Math.min(120, chartWidth / spans.length / 2));
    const widthAt = (k) => items.reduce((sum, item) => sum + (item.span ? Math.max(minBand, item.length * k) : item.long ? BREAK : item.gap * k), 0);
    chartWidth = Math.max(chartWidth, widthAt(0) + 40); // many attempts: the chart grows, its box scrolls
    let low = 0, high = chartWidth;
    for (let i = 0; i < 48; i++) { const k = (low + high) / 2; if (widthAt(k) <= chartWidth) low = k; else high = k; }
    const msToPx = low;
    const breaks = [];
    let cursor = x0;
    for (const item of items) {
      if (item.span) { item.span.x = cursor; item.span.width = Math.max(minBand, item.length * msToPx); cursor += item.span.width; }
      else if (item.long) { breaks.push({ x: cursor, gap: item.gap }); cursor += BREAK; }
      else cursor += item.gap * msToPx;
    }
    const width = x0 + chartWidth + 16;
    const X = (span, t) => span.x + Math.min(Math.max(t - span.start, 0), span.width / Math.max(msToPx, 1e-9)) * msToPx;
    const height = TOP + steps.length * ROW + BOTTOM;
    const bottom = height - BOTTOM + 4;

    const picture = svg("svg", { width, height, role: "group", "aria-label": "Timeline of " + plural(steps.length, "step") + " in " + plural(spans.length, "attempt") },
      svg("defs", {}, svg("pattern", { id: "tl-hatch", patternUnits: "userSpaceOnUse", width: 6, height: 6, patternTransform: "rotate(45)" },
        svg("rect", { class: "hatch-bg", width: 6, height: 6 }), svg("line", { class: "hatch-line", x1: 1, y1: 0, x2: 1, y2: 6 })),
        svg("pattern", { id: "tl-wait", patternUnits: "userSpaceOnUse", width: 7, height: 7, patternTransform: "rotate(45)" },
          svg("rect", { class: "wait-bg", width: 7, height: 7 }), svg("line", { class: "wait-line", x1: 1.5, y1: 0, x2: 1.5, y2: 7 }))));
    // attempts as bands
    spans.forEach((span, i) => {
      // an attempt that ended while a step waited for a person: parked
      const shownStatus = span.status === "awaiting" && span.attempt.end !== null ? "parked (waits for an answer)" : span.status;
      const label = "Attempt " + span.attempt.n + (i > 0 ? " (resume)" : "") + " · " + shownStatus;
      picture.append(svg("rect", { class: "tl-band" + (i % 2 ? " odd" : ""), x: span.x, y: 0, width: span.width, height,
        "data-testid": "timeline-attempt", "data-attempt": span.attempt.n, "data-status": span.status },
        svg("title", {}, label + " · from " + clock(span.start) + (span.attempt.startedBy ? " by " + span.attempt.startedBy : "") + ", " + duration(span.end - span.start) + (span.live ? " so far" : ""))));
      const brief = "#" + span.attempt.n + " · " + (span.status === "awaiting" && span.attempt.end !== null ? "parked" : span.status);
      picture.append(svg("text", { class: "tl-band-label", x: span.x + 5, y: 13 }, fit(span.width > label.length * 6.4 + 10 ? label : brief, (span.width - 8) / 6.4)));
    });
    for (const pause of breaks) {
      const a = pause.x, b = a + BREAK;
      picture.append(svg("rect", { class: "tl-break", x: a, y: 0, width: BREAK, height }, svg("title", {}, duration(pause.gap) + " between the attempts (shortened)")));
      picture.append(svg("line", { class: "tl-break-edge", x1: a, x2: a, y1: 0, y2: height }), svg("line", { class: "tl-break-edge", x1: b, x2: b, y1: 0, y2: height }));
      picture.append(svg("text", { class: "tl-break-label", x: (a + b) / 2, y: 30, "text-anchor": "middle" }, "+" + duration(pause.gap).replace(/ \d+ \w+$/, "")));
    }
    // ticks: time since the start of each attempt
    const every = niceStep(80 / Math.max(msToPx, 1e-9));
    for (const span of spans) {
      let lastLabel = -Infinity;
      for (let t = 0; t * msToPx <= span.width - 1 && t / every < 400; t += every) {
        const x = X(span, span.start + t);
        picture.append(svg("line", { class: "tl-tick", x1: x, x2: x, y1: 18, y2: bottom }));
        if (x - lastLabel >= 60 && x < span.x + span.width - 24) {
          picture.append(svg("text", { class: "tl-tick-label", x: x + 3, y: 30 }, t === 0 ? "0" : "+" + duration(t)));
          lastLabel = x;
        }
      }
    }
    picture.append(svg("line", { class: "tl-gutter", x1: x0 - 4, x2: x0 - 4, y1: 0, y2: height }),
      svg("text", { class: "tl-band-label", x: 8, y: 30 }, "Step"));
    // one row per step, one bar per call
    const focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.getAttribute("data-key") : null;
    let refocus = null;
    steps.forEach((step, i) => {
      const y = TOP + i * ROW;
      const depth = depthOf(step);
      const lastSegment = step.segments[step.segments.length - 1];
      const statusOf = (segment) => segment.end !== null || spans[segment.attempt.index].live ? segment.status : spans[segment.attempt.index].status === "lost" ? "lost" : "cancelled";
      const status = lastSegment ? statusOf(lastSegment) : "running";
      const name = nameOf(step);
      const row = svg("g", { class: "tl-row" + (state.focus === step.key ? " selected" : ""), tabindex: 0, role: "button",
        "aria-pressed": state.focus === step.key ? "true" : "false", "aria-label": name + " (" + step.kind + "): " + (statusWords[status] || status),
        "data-testid": "timeline-step", "data-key": step.key, "data-address": step.address, "data-depth": depth, "data-status": status,
        onclick: () => toggleStep(step.key),
        onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggleStep(step.key); } } });
      row.append(svg("rect", { class: "tl-row-bg", x: 1, y: y + 1, width: width - 2, height: ROW - 2, rx: 3 }));
      const indent = 8 + depth * 14;
      const room = (labelWidth - indent) / 6.6 - step.kind.length - 1;
      row.append(svg("text", { class: "tl-label", x: indent, y: y + 16 }, fit(name, room), svg("tspan", { class: "tl-kind", dx: 6 }, step.kind)),
        svg("title", {}, step.address + " #" + step.occurrence));
      for (const segment of step.segments) {
        const span = spans[segment.attempt.index];
        const shown = statusOf(segment);
        const end = segment.end !== null ? segment.end : span.end;
        let a = X(span, segment.start), b = X(span, end);
        if (shown === "recovered") {
          // replayed at the resume, not run: drawn at the resume for as long as it once ran, within the attempt
          const limit = span.x + span.width;
          b = Math.max(Math.min(a + Math.max(10, (segment.executionTime || 0) * msToPx), limit), a + 6);
        }
        const took = shown === "recovered" ? (segment.executionTime !== undefined ? "; it once ran " + duration(segment.executionTime) : "") : " after " + duration(end - segment.start) + (segment.end === null && span.live ? " so far" : "");
        row.append(svg("rect", { class: "seg st-" + shown + (shown === "recovered" ? " hatched" : ""), x: a, y: y + 5, width: Math.max(3, b - a), height: ROW - 10, rx: 3,
          "data-testid": "timeline-bar", "data-status": shown, "data-attempt": span.attempt.n, "data-hatched": shown === "recovered" ? "true" : null },
          svg("title", {}, name + " — " + (statusWords[shown] || shown) + took + " (attempt " + span.attempt.n + (segment.call > 1 ? ", call attempt " + segment.call : "") + ")" +
            (segment.message ? ": " + short(segment.message, 200) : ""))));
        // the waits for a person within the call: striped, from the question to its answer
        for (const wait of segment.waits || []) {
          const wa = X(span, wait.start), wb = X(span, wait.end !== null ? wait.end : end);
          row.append(svg("rect", { class: "seg tl-wait", x: wa, y: y + 5, width: Math.max(3, wb - wa), height: ROW - 10, rx: 3,
            "data-testid": "timeline-wait", "data-input-id": wait.inputId, "data-attempt": span.attempt.n,
            "data-state": wait.parked ? "parked" : wait.answered ? "answered" : wait.end !== null ? "ended" : "waiting" },
            svg("title", {}, "✋ " + wait.prompt + " — " + waitWords(wait, end))));
        }
      }
      picture.append(row);
      if (focused === step.key) refocus = row;
    });
    // interrupts as vertical lines
    for (const span of spans) {
      for (const cut of span.attempt.interrupts) {
        const x = X(span, cut.at);
        const text = "■ " + cut.signal.reason + (cut.signal.triggeredBy ? " · " + cut.signal.triggeredBy : "");
        const right = x > x0 + chartWidth * 0.55;
        picture.append(svg("line", { class: "tl-interrupt", x1: x, x2: x, y1: 16, y2: bottom, "data-testid": "timeline-interrupt", "data-attempt": span.attempt.n }),
          svg("text", { class: "tl-interrupt-label", x: right ? x - 5 : x + 5, y: height - 7, "text-anchor": right ? "end" : "start" }, text,
            svg("title", {}, "Interrupt (" + cut.signal.reason + ") requested " + (cut.requested !== null ? clock(cut.requested) : "?") + ", took effect " + clock(cut.at) +
              (cut.via ? " via " + cut.via : "") + (cut.signal.message ? ": " + cut.signal.message : ""))));
      }
    }
    box.replaceChildren(picture);
    if (refocus !== null) refocus.focus({ preventScroll: true });
  }

  // What became of a wait, in words.
  function waitWords(wait, end) {
    const took = duration((wait.end !== null ? wait.end : end) - wait.start);
    const answer = wait.answered ? "answered " + json(wait.answered.value, 60) + (wait.answered.defaulted ? " (the default: the deadline passed)" : wait.answered.answeredBy ? " by " + wait.answered.answeredBy : "") : "";
    if (wait.parked) return "waited " + took + ", then parked (no process held the run)" + (answer ? "; " + answer + ", which resumed it" : " until it is answered");
    if (wait.answered) return "waited " + took + ", " + answer;
    if (wait.end !== null) return "waited " + took + ", unanswered when the attempt ended";
    return "waiting for you for " + took + " so far";
  }

  const toggleStep = (key) => { state.focus = state.focus === key ? null : key; renderRun(); };

  function renderDetails({ model }) {
    const node = $("step-details");
    const step = state.focus === null ? undefined : model.steps.get(state.focus);
    node.hidden = step === undefined;
    if (step === undefined || !changed(node, step.key + ":" + state.lastEventId)) return;
    const items = step.segments.map((segment) => {
      const took = segment.status === "recovered" ? "" : segment.end !== null ? ", " + duration(segment.end - segment.start) : "";
      return h("li", {}, "Attempt " + segment.attempt.n + (segment.call > 1 ? ", call attempt " + segment.call : "") + ": " + (statusWords[segment.status] || segment.status) +
        took + " at " + clock(segment.end !== null ? segment.end : segment.start) + (segment.message ? " — " + segment.message : "") + (segment.retry ? " (" + segment.retry + ")" : ""));
    });
    for (const segment of step.segments) {
      for (const wait of segment.waits || []) items.push(h("li", { "data-testid": "step-wait" }, "✋ Attempt " + segment.attempt.n + ": " + wait.prompt + " — " + waitWords(wait, state.model.lastTs)));
    }
    const withResult = step.segments.filter((s) => "result" in s).pop();
    const partials = step.segments.filter((s) => s.partialOutput !== undefined);
    node.replaceChildren(
      h("h4", {}, nameOf(step), h("span", { class: "muted" }, step.kind), h("code", { class: "muted" }, step.address + " #" + step.occurrence)),
      h("ol", {}, ...items),
      withResult ? h("p", { class: "caption" }, "Result") : null,
      withResult ? h("pre", { class: "output", tabindex: 0 }, pretty(withResult.result)) : null,
      ...partials.flatMap((s) => [h("p", { class: "caption" }, "Partial output (attempt " + s.attempt.n + ", interrupted)"), h("pre", { class: "output", tabindex: 0 }, pretty(s.partialOutput))]),
      h("button", { type: "button", class: "secondary", onclick: () => toggleStep(step.key) }, "Close"));
  }

  // --- the selected run ---------------------------------------------------------------------------
  for (const s of sections) { s.node = s.build(); $("run-sections").append(s.node); }

  let renderTimer = null;
  const scheduleRender = () => { if (renderTimer === null) renderTimer = setTimeout(() => { renderTimer = null; renderRun(); }, 60); };
  window.addEventListener("resize", scheduleRender);

  function renderRun() {
    const info = state.info;
    $("run-sections").hidden = info === null;
    if (info === null) return;
    const status = $("run-status");
    status.textContent = info.status; status.className = "badge s-" + info.status;
    $("run-meta").textContent = info.workflow + (info.startedBy ? " · started by " + info.startedBy : "") + " · " + time(info.createdAt) +
      (info.runs > 1 ? " · " + plural(info.runs, "attempt") : "") + (info.owner ? " · on " + info.owner : "");
    const run = { id: state.id, info, model: state.model };
    for (const s of sections) s.render(run);
    // live: twice a second; parked (nothing runs): every 5 s, for its deadline's countdown
    const every = !isActive(info.status) ? 0 : isParked(info) ? 5000 : 500;
    if (state.ticker !== null && state.tickerEvery !== every) { clearInterval(state.ticker); state.ticker = null; }
    if (every > 0 && state.ticker === null) { state.ticker = setInterval(scheduleRender, every); state.tickerEvery = every; }
  }

  function close() {
    if (state.follower) state.follower.abort();
    state.follower = null;
    if (state.ticker !== null) { clearInterval(state.ticker); state.ticker = null; }
    state.id = null; state.info = null; state.model = newModel(); state.lastEventId = 0; state.focus = null;
    for (const s of sections) {
      if (s.reset) s.reset();
      if (s.node) for (const n of [s.node, ...s.node.querySelectorAll("*")]) n.__key = null;
    }
    $("run-error").textContent = ""; $("stream-note").textContent = "";
    $("stop-form").hidden = true;
  }

  async function open(id) {
    close();
    state.id = id;
    highlightRows();
    $("run-card").hidden = id === null; $("no-run").hidden = id !== null;
    document.title = id === null ? "agent-interrupt" : id + " · agent-interrupt";
    if (id === null) return;
    $("run-id").textContent = id; $("run-status").textContent = ""; $("run-status").className = "badge"; $("run-meta").textContent = "";
    renderRun();
    const info = await refreshSelected();
    if (info !== null && id === state.id) follow(id);
  }

  async function refreshSelected() {
    const id = state.id;
    if (id === null) return null;
    try {
      const info = await api("GET", runPath(id));
      if (id !== state.id) return null;
      state.info = info;
      updateRow(info);
      renderRun();
      if (isActive(info.status) && state.follower === null) follow(id);
      return info;
    } catch (error) {
      if (id === state.id) report($("run-error"))(error);
      return null;
    }
  }
  let refreshTimer = null;
  const refreshSoon = () => { if (refreshTimer === null) refreshTimer = setTimeout(() => { refreshTimer = null; refreshSelected(); }, 120); };

  function describe(kind, e) {
    switch (kind) {
      case "execution": {
        if (e.input) return waitingLine(e, e.input);
        let line = (symbols[e.status] || "·") + " " + e.address + " " + e.status;
        if (e.attempt > 1) line += " (attempt " + e.attempt + ")";
        if (e.executionTime !== undefined) line += " " + Math.round(e.executionTime) + " ms";
        const answer = e.kind === "llm" && e.result && typeof e.result.text === "string" ? JSON.stringify(e.result.text) : undefined;
        const text = e.status === "completed" && answer !== undefined ? answer : e.message || e.detail;
        if (text) line += " — " + short(text, 160);
        if (e.usage) line += " [tokens: " + e.usage.inputTokens + " in, " + e.usage.outputTokens + " out]";
        return line;
      }
      case "started": return "○ attempt " + e.attempt + " started" + (e.startedBy ? " by " + e.startedBy : "") + (e.recoverable ? " (" + plural(e.recoverable, "step") + " to replay)" : "");
      case "group": return "◆ " + e.name + " " + e.status + " " + e.completed + "/" + e.total;
      case "log": return "! " + e.level + ": " + e.message;
      case "interrupted": return "■ interrupt: " + e.signal.reason + " by " + (e.signal.triggeredBy || "?") + (e.signal.message ? " — " + e.signal.message : "");
      case "input":
        return e.status === "answered"
          ? "✓ answered " + e.inputId + ": " + json(e.value) + (e.defaulted ? " (the default: the deadline passed)" : e.answeredBy ? " (by " + e.answeredBy + ")" : "")
          : "✗ answer refused " + e.inputId + ": " + (e.message || "invalid");
      case "finished":
        if (e.status === "awaiting") return "⏸ finished: awaiting — waiting for an answer: nothing runs until it comes, from any process";
        return "● finished: " + e.status + (e.checkpointId ? " (checkpoint " + e.checkpointId + ")" : " (checkpoint " + e.checkpoint + ")") + (e.detail ? " — " + short(e.detail, 160) : "");
      default: return kind;
    }
  }

  // A question for a person, as the CLI prints it: what it asks, how to answer, until when.
  function waitingLine(e, input) {
    const how = input.kind === "approval" ? "approve or reject" : Array.isArray(input.choices) ? "one of " + input.choices.map((c) => JSON.stringify(c)).join(", ") : null;
    const until = input.deadline === undefined ? "" : " (until " + time(input.deadline) + ", then " + (input.default === undefined ? "a timeout" : JSON.stringify(input.default)) + ")";
    return "✋ waiting for you: " + input.prompt + (how === null ? "" : " — " + how) + until + " [" + input.inputId + " at " + e.address + "]";
  }

  // Adds a line to the events list, which keeps showing the newest line while it is scrolled to the end.
  function addLine(item) {
    const list = $("events");
    const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 8;
    list.append(item);
    if (atEnd) list.scrollTop = list.scrollHeight;
  }

  function onEvent(id, sequence, kind, data) {
    if (id !== state.id) return;
    let event;
    try { event = JSON.parse(data); } catch (e) { return; }
    if (kind === "output") {
      // tokens arriving: appended to the step's live line (one line per step and attempt)
      const key = event.address + "#" + event.occurrence + "/" + event.attempt;
      let line = state.outputs.get(key);
      if (line === undefined) {
        line = h("li", { class: "k-output", "data-testid": "output", "data-address": event.address }, "┆ ");
        state.outputs.set(key, line);
        addLine(line);
      }
      line.textContent += event.delta;
      const list = $("events");
      if (list.scrollTop + list.clientHeight >= list.scrollHeight - 40) list.scrollTop = list.scrollHeight;
      return;
    }
    fold(state.model, sequence, kind, event);
    addLine(h("li", { class: "k-" + kind + (kind === "execution" && event.input ? " k-waiting" : ""), "data-testid": "event", "data-kind": kind }, time(event.timestamp || event.at || (event.signal && event.signal.triggeredAt)) + "  " + describe(kind, event)));
    scheduleRender();
    refreshSoon();
  }

  // A pause of the event-stream loop that wake() ends early.
  let wakeUp = null;
  const nap = (ms) => new Promise((resolve) => {
    const done = () => { clearTimeout(timer); if (wakeUp === done) wakeUp = null; resolve(); };
    const timer = setTimeout(done, ms);
    wakeUp = done;
  });
  const wake = () => { if (wakeUp !== null) wakeUp(); };

  // Server-Sent Events over fetch (the token goes in a header), from after the last id seen. The
  // stream ends after the attempt's end, or at once when the run is not running; it is read again
  // while the run is active (a resume, a dropped connection).
  async function follow(id) {
    if (state.follower !== null) return;
    const control = new AbortController();
    state.follower = control;
    let failures = 0;
    try {
      while (!control.signal.aborted && state.id === id) {
        const before = state.lastEventId;
        try {
          const headers = { authorization: "Bearer " + state.token, accept: "text/event-stream" };
          if (state.lastEventId > 0) headers["last-event-id"] = String(state.lastEventId);
          const response = await fetch(runPath(id, "/events"), { headers, cache: "no-store", signal: control.signal });
          if (response.status === 401) { signOut("The server rejected the token: enter it again."); return; }
          if (!response.ok || response.body === null) {
            const message = messageOf(response.status, await response.text());
            if (response.status < 500) { $("run-error").textContent = message; return; }
            throw new Error(message);
          }
          failures = 0; $("stream-note").textContent = "";
          const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = "";
          let current = { id: null, event: "message", data: [] };
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let newline;
            while ((newline = buffer.indexOf("\n")) >= 0) {
              let line = buffer.slice(0, newline);
              buffer = buffer.slice(newline + 1);
              if (line.endsWith("\r")) line = line.slice(0, -1);
              if (line === "") {
                if (state.follower !== control) return; // another run was opened meanwhile
                if (current.data.length > 0) {
                  const sequence = current.id === null ? state.lastEventId : Number(current.id);
                  if (current.id !== null) state.lastEventId = sequence;
                  onEvent(id, sequence, current.event, current.data.join("\n"));
                }
                current = { id: null, event: "message", data: [] };
                continue;
              }
              if (line.startsWith(":")) continue;
              const colon = line.indexOf(":");
              const field = colon < 0 ? line : line.slice(0, colon);
              let text = colon < 0 ? "" : line.slice(colon + 1);
              if (text.startsWith(" ")) text = text.slice(1);
              if (field === "id") current.id = text;
              else if (field === "event") current.event = text;
              else if (field === "data") current.data.push(text);
            }
          }
        } catch (error) {
          if (control.signal.aborted) return;
          failures++;
          $("stream-note").textContent = (error && error.message && error.message !== "Failed to fetch" ? error.message + " " : "") + "Reconnecting to the event stream…";
        }
        if (failures > 0) { await sleep(Math.min(5000, 250 * 2 ** failures)); continue; }
        // the stream ended: follow on only while the run is active (a resume started meanwhile); a
        // parked run is looked at less often (an answer from this page wakes the loop at once)
        const info = await refreshSelected();
        if (info === null || !isActive(info.status)) return;
        if (state.lastEventId === before) await nap(isParked(info) ? 3000 : 500);
      }
    } finally {
      if (state.follower === control) state.follower = null;
    }
  }

  // --- stop and resume ----------------------------------------------------------------------------
  function openStopForm() { $("stop-form").hidden = false; $("stop-message").focus(); }
  function closeStopForm() { $("stop-form").hidden = true; $("stop").focus(); }
  async function stop(event) {
    event.preventDefault();
    const id = state.id;
    const body = { reason: $("stop-reason").value };
    const message = $("stop-message").value.trim();
    if (message !== "") body.message = message;
    const button = $("stop-confirm"); button.disabled = true; $("run-error").textContent = "";
    try {
      const receipt = await api("POST", runPath(id, "/interrupt"), body);
      $("stop-form").hidden = true; $("stop-message").value = "";
      if (receipt && receipt._tag === "AlreadyInterrupted") $("run-error").textContent = "It is already being stopped (" + receipt.signal.reason + " by " + (receipt.signal.triggeredBy || "?") + ").";
      await refreshSelected();
    } catch (error) { report($("run-error"))(error); } finally { button.disabled = false; }
  }
  async function resume() {
    const id = state.id; const button = $("resume"); button.disabled = true; $("run-error").textContent = "";
    try {
      await api("POST", runPath(id, "/resume"));
      if (id !== state.id) return;
      addLine(h("li", { class: "muted" }, "— resumed from checkpoint —"));
      await refreshSelected();
      follow(id);
    } catch (error) { report($("run-error"))(error); } finally { button.disabled = false; }
  }

  if (state.token) signIn(); else signOut("");
})();
`

const body = `
<header>
  <h1>agent-interrupt</h1>
  <span class="muted tagline">stop agent workflows at any moment without losing work</span>
  <span class="who" id="who"></span>
  <button class="secondary" id="signout" type="button" hidden>Forget token</button>
</header>
<section id="login" hidden>
  <form class="card" id="login-form" autocomplete="off">
    <h2>API token</h2>
    <p class="muted">Paste the bearer token the server printed at start-up (or its AGENT_INTERRUPT_TOKEN). It is kept in this tab only.</p>
    <label for="token">Token</label>
    <input id="token" type="password" data-testid="token-input" spellcheck="false">
    <button type="submit" data-testid="token-submit">Use token</button>
    <p class="error" id="login-error" role="alert"></p>
  </form>
</section>
<main id="app" hidden>
  <div class="side">
    <section class="card" aria-labelledby="start-title">
      <h2 id="start-title">Start a run</h2>
      <form id="start-form">
        <label for="workflow">Workflow</label>
        <select id="workflow" data-testid="workflow"></select>
        <p class="muted" id="workflow-description"></p>
        <label for="input">Input (JSON)</label>
        <textarea id="input" rows="3" data-testid="input" spellcheck="false"></textarea>
        <button type="submit" id="start" data-testid="start">Start</button>
        <p class="error" id="start-error" role="alert"></p>
      </form>
    </section>
    <section class="card" id="runs-card" aria-labelledby="runs-title">
      <h2><span id="runs-title">Runs</span><button type="button" class="toggle" id="needs-me" data-testid="needs-me" aria-pressed="false"
        title="Show only the runs that wait for an answer">✋ Needs me <span id="needs-me-count" data-testid="needs-me-count">0</span></button></h2>
      <div class="table-box">
        <table>
          <thead><tr><th>Run</th><th>Status</th><th title="steps done / expected (or begun)">Steps</th></tr></thead>
          <tbody id="runs" data-testid="runs"></tbody>
        </table>
      </div>
    </section>
  </div>
  <section class="card" id="run-card" data-testid="run-card" aria-labelledby="run-title" hidden>
    <h2 id="run-title">Run <code id="run-id" data-testid="run-id"></code><span id="run-status" class="badge" data-testid="run-status" aria-live="polite"></span></h2>
    <p class="meta" id="run-meta" data-testid="run-meta"></p>
    <p class="error" id="run-error" role="alert" data-testid="run-error"></p>
    <p class="note" id="stream-note" role="status"></p>
    <div id="run-sections" hidden></div>
  </section>
  <section class="card" id="no-run">
    <p class="muted">Start a run, or pick one in the list: each run has its own address (#/runs/&lt;id&gt;).</p>
  </section>
</main>
`

/**
 * The page's HTML document.
 *
 * @category constructors
 * @since 0.1.0
 */
export const html: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>agent-interrupt</title>
<link rel="icon" href="data:,">
<style>${style}</style>
</head>
<body>${body}<script>${script}</script>
</body>
</html>
`

const sha256 = (text: string) => `'sha256-${createHash("sha256").update(text, "utf8").digest("base64")}'`

/**
 * The page's Content-Security-Policy: only its own inline script and style (by hash), requests to
 * its own origin, no framing, no forms posted anywhere, no base URL.
 *
 * @category constructors
 * @since 0.1.0
 */
export const contentSecurityPolicy: string = [
  "default-src 'none'",
  `script-src ${sha256(script)}`,
  `style-src ${sha256(style)}`,
  "connect-src 'self'",
  "img-src data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join("; ")

/**
 * The headers the page is served with.
 *
 * @category constructors
 * @since 0.1.0
 */
export const headers: Readonly<Record<string, string>> = {
  "content-security-policy": contentSecurityPolicy,
  "cache-control": "no-store",
  "x-frame-options": "DENY"
}
