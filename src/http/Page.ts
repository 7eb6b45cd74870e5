/**
 * The web page served at `GET /`: one self-contained HTML document (inline CSS and JavaScript, no
 * build step) to start workflows, watch their events live, stop them with a reason, see the
 * interrupt banner, resume them, and list the runs.
 *
 * Security: the token is entered once and kept in `sessionStorage` (this tab only); every request
 * sends it as `Authorization: Bearer`. The event stream is read with `fetch` and a stream reader
 * (not `EventSource`, which cannot send headers), so the token never goes into a URL, and a dropped
 * stream reconnects with `Last-Event-ID`. The scripts build the DOM with `createElement` and
 * `textContent` only: event text is never parsed as HTML. A Content-Security-Policy with the hashes
 * of the inline script and style blocks everything else.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"

const style = `
:root { color-scheme: light dark; --fg: #1d232b; --muted: #5d6875; --bg: #f6f7f9; --card: #fff; --line: #d9dee4;
  --accent: #2458d6; --danger: #c2352b; --ok: #1f8a4c; --warn: #b86e00; }
@media (prefers-color-scheme: dark) { :root { --fg: #e7ebf0; --muted: #9aa6b2; --bg: #14181d; --card: #1c2128;
  --line: #2d343d; --accent: #6d9bff; --danger: #ff6b5e; --ok: #4cc38a; --warn: #f0a742; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 12px; padding: 12px 20px; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 17px; margin: 0; } header .who { color: var(--muted); margin-left: auto; }
main, #login { display: grid; gap: 16px; padding: 16px 20px; max-width: 1100px; margin: 0 auto; }
main { grid-template-columns: minmax(280px, 1fr) 2fr; align-items: start; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; }
.card h2 { font-size: 15px; margin: 0 0 10px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
.card h3 { font-size: 13px; margin: 14px 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .04em; }
#runs-card { grid-column: 1 / -1; }
label { display: block; margin: 8px 0 4px; color: var(--muted); font-size: 12px; }
input, select, textarea { width: 100%; font: inherit; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px; background: var(--bg); color: var(--fg); }
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; margin-top: 10px; }
button.secondary { background: transparent; color: var(--accent); }
button.danger { background: var(--danger); border-color: var(--danger); }
button:disabled { opacity: .45; cursor: default; }
.error { color: var(--danger); min-height: 1em; margin: 6px 0 0; }
.muted { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
.badge { font-size: 12px; padding: 1px 8px; border-radius: 10px; border: 1px solid currentColor; }
.s-running { color: var(--accent); } .s-stopping { color: var(--warn); } .s-completed { color: var(--ok); }
.s-interrupted { color: var(--danger); } .s-failed { color: var(--danger); } .s-lost { color: var(--warn); }
.banner { border: 1px solid var(--danger); border-left-width: 4px; border-radius: 6px; padding: 8px 12px; margin: 8px 0; }
.banner strong { color: var(--danger); } .banner dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 6px 0 0; }
.banner dt { color: var(--muted); } .banner dd { margin: 0; word-break: break-all; }
.bar { height: 6px; border-radius: 3px; background: var(--line); overflow: hidden; margin: 8px 0 4px; }
.bar div { height: 100%; width: 0; background: var(--accent); transition: width .2s; }
#events { list-style: none; margin: 0; padding: 0; max-height: 360px; overflow: auto; font-family: ui-monospace, SFMono-Regular, Menlo, monospace; font-size: 12px; }
#events li { padding: 2px 0; border-bottom: 1px dotted var(--line); white-space: pre-wrap; word-break: break-word; }
#events li.k-interrupted, #events li.k-finished { font-weight: 600; }
#events li.k-output { color: var(--muted); font-style: italic; }
table { width: 100%; border-collapse: collapse; } th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { color: var(--muted); font-weight: 500; font-size: 12px; } tbody tr { cursor: pointer; } tbody tr:hover, tbody tr.selected { background: var(--bg); }
.actions { display: flex; gap: 8px; flex-wrap: wrap; }
[hidden] { display: none !important; }
@media (max-width: 760px) { main { grid-template-columns: 1fr; } }
`

const script = `
"use strict";
(() => {
  const KEY = "agent-interrupt-token";
  const $ = (id) => document.getElementById(id);
  const symbols = { started: "▶", completed: "✓", failed: "✗", interrupted: "■", cancelling: "…", recovered: "↺", retrying: "↻", awaiting: "⏸", human_intervention: "✋" };
  let token = sessionStorage.getItem(KEY);
  let selected = null;
  let info = null;
  let lastEventId = 0;
  let follower = null;
  // The live output of each streaming event (address#occurrence): one line that grows token by token.
  let outputs = new Map();
  let refreshTimer = null;

  // Builds an element; children are nodes or strings (text nodes: never parsed as HTML).
  const h = (tag, attrs, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value; else node.setAttribute(key, String(value));
    }
    for (const child of children) node.append(child === undefined || child === null ? "" : child);
    return node;
  };
  const clear = (node) => { while (node.firstChild) node.removeChild(node.firstChild); };
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const time = (iso) => { const d = new Date(iso); return isNaN(d.getTime()) ? String(iso) : d.toLocaleTimeString(); };
  const short = (value, max) => { const text = typeof value === "string" ? value : JSON.stringify(value); return text.length > max ? text.slice(0, max - 1) + "…" : text; };

  // Steps of the current run: done (completed or replayed) of those begun (attempts minus retries, plus replays).
  const steps = (p) => [p.completed + p.recovered, p.started - p.retrying + p.recovered];

  class Unauthorized extends Error {}

  async function api(method, path, body) {
    const headers = { authorization: "Bearer " + token };
    if (body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(path, { method, headers, cache: "no-store", body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    let data = null;
    try { data = text === "" ? null : JSON.parse(text); } catch (e) { data = null; }
    if (response.status === 401) { signOut("The server rejected the token."); throw new Unauthorized("unauthorized"); }
    if (!response.ok) throw new Error((data && (data.message || data._tag)) || ("HTTP " + response.status));
    return data;
  }
  const report = (node) => (error) => { if (!(error instanceof Unauthorized)) node.textContent = error.message || String(error); };

  // --- token -------------------------------------------------------------------
  function signOut(message) {
    token = null; sessionStorage.removeItem(KEY); selected = null;
    if (follower) follower.abort();
    if (refreshTimer) clearInterval(refreshTimer);
    $("app").hidden = true; $("login").hidden = false; $("signout").hidden = true; $("who").textContent = "";
    $("login-error").textContent = message || "";
  }
  async function signIn() {
    $("login").hidden = true; $("app").hidden = false; $("signout").hidden = false;
    $("who").textContent = "token set for this tab";
    try {
      const workflows = await api("GET", "/api/workflows");
      const picker = $("workflow"); clear(picker);
      for (const w of workflows) picker.append(h("option", { value: w.name }, w.name));
      const pick = () => {
        const w = workflows.find((x) => x.name === picker.value);
        $("workflow-description").textContent = w ? w.description : "";
        $("input").value = w ? JSON.stringify(w.example) : "{}";
      };
      picker.onchange = pick; pick();
      await refreshRuns();
      refreshTimer = setInterval(() => { refreshRuns().catch(() => {}); }, 2000);
    } catch (error) { report($("start-error"))(error); }
  }
  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    if (value === "") { $("login-error").textContent = "Enter the token the server printed (or AGENT_INTERRUPT_TOKEN)."; return; }
    token = value; sessionStorage.setItem(KEY, token); $("token").value = "";
    signIn();
  });
  $("signout").addEventListener("click", () => signOut(""));

  // --- runs list -----------------------------------------------------------------
  async function refreshRuns() {
    const runs = await api("GET", "/api/executions");
    const body = $("runs"); clear(body);
    if (runs.length === 0) body.append(h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No runs yet.")));
    for (const run of runs) {
      const row = h("tr", { "data-id": run.executionId, "data-testid": "run-row", class: run.executionId === selected ? "selected" : "" },
        h("td", {}, h("code", {}, run.executionId)),
        h("td", {}, run.workflow),
        h("td", {}, h("span", { class: "badge s-" + run.status }, run.status)),
        h("td", {}, steps(run.progress).join(" / ")),
        h("td", {}, run.startedBy),
        h("td", {}, time(run.createdAt)));
      row.addEventListener("click", () => select(run.executionId));
      body.append(row);
      if (run.executionId === selected && info && run.status !== info.status) refreshSelected();
    }
  }

  // --- start ---------------------------------------------------------------------------
  $("start-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("start-error").textContent = "";
    let input;
    try { input = JSON.parse($("input").value || "{}"); } catch (e) { $("start-error").textContent = "The input is not valid JSON."; return; }
    const button = $("start"); button.disabled = true;
    try {
      const started = await api("POST", "/api/executions", { workflow: $("workflow").value, input });
      await select(started.executionId);
      refreshRuns().catch(() => {});
    } catch (error) { report($("start-error"))(error); } finally { button.disabled = false; }
  });

  // --- the selected run ------------------------------------------------------------------
  async function select(id) {
    if (follower) follower.abort();
    selected = id; info = null; lastEventId = 0; outputs = new Map();
    clear($("events")); $("run-error").textContent = ""; $("stop-form").hidden = true;
    $("run-card").hidden = false; $("run-id").textContent = id;
    for (const row of document.querySelectorAll("#runs tr")) row.classList.toggle("selected", row.getAttribute("data-id") === id);
    await refreshSelected();
    follow(id);
  }

  async function refreshSelected() {
    const id = selected;
    if (id === null) return;
    try {
      const next = await api("GET", "/api/executions/" + encodeURIComponent(id));
      if (id === selected) { info = next; render(); }
    } catch (error) { report($("run-error"))(error); }
  }
  let pending = null;
  const refreshSoon = () => { if (pending === null) pending = setTimeout(() => { pending = null; refreshSelected(); }, 120); };

  function render() {
    const status = $("run-status");
    status.textContent = info.status; status.className = "badge s-" + info.status;
    const p = info.progress;
    const [done, total] = steps(p);
    $("bar").style.width = (total === 0 ? 0 : Math.round(100 * done / total)) + "%";
    $("progress-text").textContent = done + " of " + total + " steps done" +
      (p.recovered > 0 ? " (" + p.recovered + " replayed from the checkpoint)" : "") +
      (p.retrying > 0 ? ", " + p.retrying + " retried" : "") + ", " + p.events + " events" +
      (info.runs > 1 ? " in run " + info.runs : "");
    const running = info.status === "running";
    $("stop").hidden = !(running || info.status === "stopping"); $("stop").disabled = !running;
    if (!running) $("stop-form").hidden = true;
    $("resume").hidden = !((info.status === "interrupted" || info.status === "lost") && info.checkpointId);
    const banner = $("banner"); clear(banner);
    const signal = info.interrupt;
    banner.hidden = !signal;
    if (signal) {
      const rows = [
        ["Reason", signal.reason, "banner-reason"],
        ["Message", signal.message || "—", "banner-message"],
        ["By", signal.triggeredBy || "—", "banner-by"],
        ["At", signal.triggeredAt, "banner-at"],
        ["Checkpoint", info.checkpointId ? info.checkpointId + " (saved)" : info.status === "stopping" ? "saving…" : (info.checkpoint || "none"), "banner-checkpoint"]
      ];
      banner.append(h("strong", {}, info.status === "stopping" ? "Stopping…" : "Interrupted"),
        h("dl", {}, ...rows.flatMap(([label, value, id]) => [h("dt", {}, label), h("dd", { "data-testid": id }, value)])));
    }
    if (info.error) $("run-error").textContent = info.error;
  }

  function describe(kind, e) {
    switch (kind) {
      case "execution": {
        let line = (symbols[e.status] || "·") + " " + e.address + " " + e.status;
        if (e.attempt > 1) line += " (attempt " + e.attempt + ")";
        if (e.executionTime !== undefined) line += " " + Math.round(e.executionTime) + " ms";
        const answer = e.kind === "llm" && e.result && typeof e.result.text === "string" ? JSON.stringify(e.result.text) : undefined;
        const text = e.status === "completed" && answer !== undefined ? answer : e.message || e.detail;
        if (text) line += " — " + short(text, 160);
        if (e.usage) line += " [tokens: " + e.usage.inputTokens + " in, " + e.usage.outputTokens + " out]";
        return line;
      }
      case "group": return "◆ " + e.name + " " + e.status + " " + e.completed + "/" + e.total;
      case "log": return "! " + e.level + ": " + e.message;
      case "interrupted": return "■ interrupt: " + e.signal.reason + " by " + (e.signal.triggeredBy || "?") + (e.signal.message ? " — " + e.signal.message : "");
      case "finished": return "● finished: " + e.status + (e.checkpointId ? " (checkpoint " + e.checkpointId + ")" : " (checkpoint " + e.checkpoint + ")");
      default: return kind;
    }
  }

  function onEvent(id, kind, data) {
    if (id !== selected) return;
    let event;
    try { event = JSON.parse(data); } catch (e) { return; }
    const list = $("events");
    if (kind === "output") {
      // tokens arriving: appended to the event's live line (a new line per event and attempt)
      const key = event.address + "#" + event.occurrence + "/" + event.attempt;
      let line = outputs.get(key);
      if (line === undefined) {
        line = h("li", { class: "k-output", "data-testid": "output", "data-address": event.address }, "┆ ");
        outputs.set(key, line);
        list.append(line);
      }
      line.textContent += event.delta;
      list.scrollTop = list.scrollHeight;
      return;
    }
    list.append(h("li", { class: "k-" + kind, "data-testid": "event", "data-kind": kind }, time(event.timestamp || (event.signal && event.signal.triggeredAt)) + "  " + describe(kind, event)));
    list.scrollTop = list.scrollHeight;
    refreshSoon();
  }

  // Server-Sent Events over fetch, so the token goes in a header; resumes after the last id.
  async function follow(id) {
    const control = new AbortController();
    follower = control;
    let attempt = 0;
    while (!control.signal.aborted && selected === id) {
      let finished = false;
      try {
        const headers = { authorization: "Bearer " + token, accept: "text/event-stream" };
        if (lastEventId > 0) headers["last-event-id"] = String(lastEventId);
        const response = await fetch("/api/executions/" + encodeURIComponent(id) + "/events", { headers, cache: "no-store", signal: control.signal });
        if (response.status === 401) { signOut("The server rejected the token."); return; }
        if (!response.ok || response.body === null) { $("run-error").textContent = "Event stream: HTTP " + response.status; return; }
        attempt = 0;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        let current = { id: null, event: "message", data: [] };
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let newline;
          while ((newline = buffer.indexOf("\\n")) >= 0) {
            let line = buffer.slice(0, newline);
            buffer = buffer.slice(newline + 1);
            if (line.endsWith("\\r")) line = line.slice(0, -1);
            if (line === "") {
              if (current.data.length > 0) {
                if (current.id !== null) lastEventId = Number(current.id);
                onEvent(id, current.event, current.data.join("\\n"));
                if (current.event === "finished") finished = true;
              }
              current = { id: null, event: "message", data: [] };
              continue;
            }
            if (line.startsWith(":")) continue;
            const colon = line.indexOf(":");
            const field = colon < 0 ? line : line.slice(0, colon);
            let value2 = colon < 0 ? "" : line.slice(colon + 1);
            if (value2.startsWith(" ")) value2 = value2.slice(1);
            if (field === "id") current.id = value2;
            else if (field === "event") current.event = value2;
            else if (field === "data") current.data.push(value2);
          }
        }
        if (finished) { refreshSelected(); return; }
      } catch (error) {
        if (control.signal.aborted) return;
      }
      attempt++;
      await sleep(Math.min(5000, 200 * 2 ** attempt));
    }
  }

  // --- stop and resume --------------------------------------------------------------------------
  $("stop").addEventListener("click", () => { $("stop-form").hidden = false; $("stop-message").focus(); });
  $("stop-cancel").addEventListener("click", () => { $("stop-form").hidden = true; });
  $("stop-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { reason: $("stop-reason").value };
    const message = $("stop-message").value.trim();
    if (message !== "") body.message = message;
    const button = $("stop-confirm"); button.disabled = true;
    try {
      await api("POST", "/api/executions/" + encodeURIComponent(selected) + "/interrupt", body);
      $("stop-form").hidden = true; $("stop-message").value = "";
      await refreshSelected();
    } catch (error) { report($("run-error"))(error); } finally { button.disabled = false; }
  });
  $("resume").addEventListener("click", async () => {
    const id = selected; const button = $("resume"); button.disabled = true; $("run-error").textContent = "";
    try {
      await api("POST", "/api/executions/" + encodeURIComponent(id) + "/resume");
      $("events").append(h("li", { class: "muted" }, "— resumed from checkpoint —"));
      await refreshSelected();
      if (follower) follower.abort();
      follow(id);
    } catch (error) { report($("run-error"))(error); } finally { button.disabled = false; }
  });

  if (token) signIn(); else signOut("");
})();
`

const body = `
<header>
  <h1>agent-interrupt</h1>
  <span class="muted">stop agent workflows at any moment without losing work</span>
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
  <section class="card">
    <h2>Start a run</h2>
    <form id="start-form">
      <label for="workflow">Workflow</label>
      <select id="workflow" data-testid="workflow"></select>
      <p class="muted" id="workflow-description"></p>
      <label for="input">Input (JSON)</label>
      <textarea id="input" rows="4" data-testid="input" spellcheck="false"></textarea>
      <button type="submit" id="start" data-testid="start">Start</button>
      <p class="error" id="start-error" role="alert"></p>
    </form>
  </section>
  <section class="card" id="run-card" hidden>
    <h2>Run <code id="run-id" data-testid="run-id"></code><span id="run-status" class="badge" data-testid="run-status"></span></h2>
    <div class="banner" id="banner" data-testid="banner" hidden></div>
    <div class="bar"><div id="bar"></div></div>
    <p class="muted" id="progress-text" data-testid="progress"></p>
    <div class="actions">
      <button class="danger" id="stop" type="button" data-testid="stop" hidden>Stop</button>
      <button id="resume" type="button" data-testid="resume" hidden>Resume</button>
    </div>
    <form id="stop-form" data-testid="stop-form" hidden>
      <label for="stop-reason">Reason</label>
      <select id="stop-reason" data-testid="stop-reason">
        <option value="user_cancelled">user_cancelled</option>
        <option value="priority_override">priority_override</option>
        <option value="resource_limit">resource_limit</option>
        <option value="custom">custom</option>
      </select>
      <label for="stop-message">Why? (optional)</label>
      <input id="stop-message" data-testid="stop-message" maxlength="1000" placeholder="e.g. wrong topic">
      <div class="actions">
        <button class="danger" type="submit" id="stop-confirm" data-testid="stop-confirm">Stop now</button>
        <button class="secondary" type="button" id="stop-cancel">Cancel</button>
      </div>
    </form>
    <p class="error" id="run-error" role="alert" data-testid="run-error"></p>
    <h3>Events</h3>
    <ol id="events" data-testid="events"></ol>
  </section>
  <section class="card" id="runs-card">
    <h2>Runs</h2>
    <table>
      <thead><tr><th>Execution</th><th>Workflow</th><th>Status</th><th>Steps</th><th>Started by</th><th>Created</th></tr></thead>
      <tbody id="runs" data-testid="runs"></tbody>
    </table>
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
