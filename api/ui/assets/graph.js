// The graph page (api/ui): lists definitions and executions, draws a
// definition's graph and an execution's graph with each node's live status.
// Plain DOM and SVG; dagre (vendored next to this file) lays the graph out
// left to right. Every piece of data comes from the API's routes, with the
// API key the user entered (sessionStorage, X-API-Key header; never a URL).
"use strict";
(function () {
  const root = document.body.dataset.root;
  const keyName = "workflow-backend.apiKey";
  const svgNS = "http://www.w3.org/2000/svg";
  const pollEveryMs = 1000;
  const $ = (id) => document.getElementById(id);

  // el builds an HTML element with attributes and children (strings become
  // text nodes: nothing from the API is ever parsed as HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    for (const c of children) e.append(c);
    return e;
  }

  // needKey is thrown by api() on a 401: the key form is shown and the view
  // is drawn again once a key is entered.
  class NeedKey extends Error {}

  // api calls the API and returns the envelope's data, or throws an Error
  // with the API's message.
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(keyName);
    if (key) headers["X-API-Key"] = key;
    const init = { method, headers, credentials: "omit", cache: "no-store" };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const res = await fetch(root + path, init);
    let env = null;
    try { env = await res.json(); } catch (_) { /* not JSON: reported below */ }
    if (res.status === 401) {
      sessionStorage.removeItem(keyName);
      throw new NeedKey(env && env.error ? env.error.message : "an API key is required");
    }
    if (!res.ok || !env || env.success === false) {
      const msg = env && env.error ? env.error.code + ": " + env.error.message : "HTTP " + res.status;
      throw new Error(msg);
    }
    return env.data;
  }

  function showMessage(text) {
    const m = $("message");
    m.textContent = text;
    m.hidden = !text;
  }

  // run draws a view and reports its failure on the page.
  async function run(view) {
    try {
      showMessage("");
      await view();
    } catch (err) {
      if (err instanceof NeedKey) {
        $("key-form").hidden = false;
        showMessage(err.message);
        $("key-form").onsubmit = (ev) => {
          ev.preventDefault();
          sessionStorage.setItem(keyName, $("key-input").value.trim());
          $("key-input").value = "";
          $("key-form").hidden = true;
          forget.hidden = false;
          run(view);
        };
        return;
      }
      showMessage(err.message);
    }
  }

  // ---- home: definitions and recent executions ----

  async function home() {
    $("title").textContent = "Definitions and executions";
    const content = $("content");
    const defs = await api("GET", "api/workflows");
    const defList = el("ul", { id: "definitions" });
    for (const d of defs.workflows) {
      defList.append(el("li", {},
        el("a", { href: root + "ui/workflows/" + encodeURIComponent(d.id) }, d.id),
        " " + d.version + (d.name ? " · " + d.name : "")));
    }
    content.replaceChildren(el("h2", {}, "Definitions"), defList);
    // Executions last: a client key may read definitions but list only its
    // own executions; a refusal there still leaves the definitions drawn.
    const exList = el("table", { id: "executions" },
      el("tr", {}, el("th", {}, "execution"), el("th", {}, "definition"), el("th", {}, "status"), el("th", {}, "started")));
    content.append(el("h2", {}, "Recent executions"), exList);
    const exs = await api("GET", "api/executions?pageSize=50");
    for (const x of exs.executions) {
      exList.append(el("tr", { "data-execution-id": x.executionId },
        el("td", {}, el("a", { href: root + "ui/executions/" + encodeURIComponent(x.executionId) }, x.executionId)),
        el("td", {}, x.definitionId + " " + x.version),
        el("td", { class: "status-" + x.status }, x.status),
        el("td", {}, new Date(x.startedAt).toLocaleString())));
    }
  }

  // ---- the graph ----

  // edgeID is the edge's id, or source->target when it has none.
  function edgeID(e) {
    return e.id || e.source + "->" + e.target;
  }

  // edgeLabel is what an edge is drawn with: its label, its outcome (when
  // not the default success) and its condition.
  function edgeLabel(e) {
    const parts = [];
    if (e.label) parts.push(e.label);
    if (e.on && e.on !== "success") parts.push("on " + e.on);
    if (e.condition) parts.push("if " + e.condition);
    return parts.join(" · ");
  }

  const ran = new Set(["running", "waiting", "completed", "failed"]);
  const finished = new Set(["completed", "failed"]);

  // edgeState derives an edge's state from its two nodes' statuses (the
  // interpreter records nodes, not edges):
  //   dead      - its source or its target was skipped: it did not fire;
  //   fired     - its source finished (completed or failed) and its target
  //               ran (running, waiting, completed or failed);
  //   undecided - anything else (the source has not finished, or the
  //               target is still pending).
  // A target reached by another edge makes this edge look fired too; the
  // node statuses cannot tell which incoming edge started it.
  function edgeState(srcStatus, tgtStatus) {
    if (srcStatus === "skipped" || tgtStatus === "skipped") return "dead";
    if (finished.has(srcStatus) && ran.has(tgtStatus)) return "fired";
    return "undecided";
  }

  const nodeW = 230, nodeH = 58;

  // drawGraph lays a definition out with dagre and draws it as SVG; it
  // returns the node and edge elements by id, for setStatuses.
  function drawGraph(def, onNodeClick) {
    const g = new dagre.graphlib.Graph({ multigraph: true });
    g.setGraph({ rankdir: "LR", nodesep: 30, ranksep: 70, edgesep: 15, marginx: 20, marginy: 20 });
    g.setDefaultEdgeLabel(() => ({}));
    for (const n of def.nodes) g.setNode(n.id, { width: nodeW, height: nodeH });
    for (const e of def.edges) {
      const label = edgeLabel(e);
      g.setEdge(e.source, e.target,
        { label, width: label ? Math.min(label.length, 40) * 6.2 + 10 : 0, height: label ? 16 : 0, labelpos: "c" },
        edgeID(e));
    }
    dagre.layout(g);

    const size = g.graph();
    const drawing = svg("svg", {
      id: "graph", width: Math.ceil(size.width), height: Math.ceil(size.height),
      viewBox: "0 0 " + Math.ceil(size.width) + " " + Math.ceil(size.height),
    });
    drawing.append(svg("defs", {},
      svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "10", refY: "5", markerWidth: "9", markerHeight: "9", markerUnits: "userSpaceOnUse", orient: "auto-start-reverse" },
        svg("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))));

    const edges = new Map();
    for (const e of def.edges) {
      const id = edgeID(e);
      const laid = g.edge(e.source, e.target, id);
      const d = laid.points.map((p, i) => (i ? "L" : "M") + p.x.toFixed(1) + "," + p.y.toFixed(1)).join(" ");
      const group = svg("g", { class: "edge", "data-edge-id": id, "data-state": "undecided", "data-on": e.on || "success" },
        svg("path", { d, "marker-end": "url(#arrow)" }));
      const label = edgeLabel(e);
      if (label) {
        // A background the width dagre reserved for the label, so that the
        // edge's line does not run through its text.
        group.append(svg("rect", { x: laid.x - laid.width / 2, y: laid.y - 8, width: laid.width, height: 16, rx: 3, class: "edge-label-bg" }),
          svg("text", { x: laid.x, y: laid.y + 4, "text-anchor": "middle", class: "edge-label" }, clip(label, 40)));
      }
      drawing.append(group);
      edges.set(id, { def: e, el: group });
    }

    const nodes = new Map();
    for (const n of def.nodes) {
      const laid = g.node(n.id);
      const x = laid.x - nodeW / 2, y = laid.y - nodeH / 2;
      const status = svg("text", { x: x + 10, y: y + 50, class: "node-status" });
      const group = svg("g", { class: "node", "data-node-id": n.id, "data-status": "", tabindex: "0" },
        svg("rect", { x, y, width: nodeW, height: nodeH, rx: 6 }),
        svg("text", { x: x + 10, y: y + 18, class: "node-label" }, clip(n.label || n.id, 27)),
        svg("text", { x: x + 10, y: y + 34, class: "node-type" }, clip(n.type + (n.id !== n.label && n.label ? " · " + n.id : ""), 36)),
        status);
      if (def.startNode === n.id) group.classList.add("start");
      if (onNodeClick) {
        group.addEventListener("click", () => onNodeClick(n));
        group.addEventListener("keydown", (ev) => { if (ev.key === "Enter") onNodeClick(n); });
      }
      drawing.append(group);
      nodes.set(n.id, { def: n, el: group, status });
    }
    return { drawing, nodes, edges };
  }

  function clip(s, n) {
    return s.length > n ? s.slice(0, n - 1) + "…" : s;
  }

  // ---- a definition ----

  async function definitionView(id) {
    const version = new URLSearchParams(location.search).get("version");
    const data = version
      ? await api("GET", "api/workflows/" + encodeURIComponent(id) + "/versions/" + encodeURIComponent(version))
      : await api("GET", "api/workflows/" + encodeURIComponent(id));
    $("title").textContent = data.id + " " + data.version;
    $("summary").textContent = data.name || "";
    const def = data.definition;
    const graph = drawGraph(def, (n) => showPanel([
      ["node", n.id], ["label", n.label || ""], ["type", n.type],
      ["config", n.config ? JSON.stringify(n.config, null, 2) : ""],
    ]));
    for (const { el: e } of graph.nodes.values()) e.setAttribute("data-status", "none");
    for (const { el: e } of graph.edges.values()) e.setAttribute("data-state", "none");
    const versions = el("p", { class: "versions" }, "versions:");
    for (const v of data.versions || []) {
      versions.append(" ", el("a", { href: "?version=" + encodeURIComponent(v.version) }, v.version));
    }
    $("content").replaceChildren(graph.drawing, versions);
  }

  // ---- an execution ----

  async function executionView(id) {
    let x = await api("GET", "api/executions/" + encodeURIComponent(id));
    const def = (await api("GET", "api/workflows/" + encodeURIComponent(x.definitionId) +
      "/versions/" + encodeURIComponent(x.version))).definition;
    $("title").textContent = x.executionId;
    let selected = null;
    const graph = drawGraph(def, (n) => { selected = n.id; nodePanel(x, n); });
    const controls = el("div", { id: "controls" });
    $("content").replaceChildren(controls, graph.drawing);

    const update = () => {
      setStatuses(graph, x);
      $("summary").replaceChildren(
        x.definitionId + " " + x.version + " · ",
        el("span", { id: "execution-status", class: "status-" + x.status, "data-status": x.status }, x.status),
        x.uiUrl ? " · " : "",
        x.uiUrl ? el("a", { href: x.uiUrl, target: "_blank", rel: "noopener noreferrer" }, "Temporal Web UI") : "");
      drawControls(controls, x, refresh);
      if (x.nodesError) showMessage(x.nodesError);
      if (selected) nodePanel(x, graph.nodes.get(selected).def);
    };
    const refresh = async () => {
      x = await api("GET", "api/executions/" + encodeURIComponent(id));
      update();
    };
    update();
    // Poll the execution route every second while it runs (one describe
    // and one NodesQuery per poll, as any client of the route costs).
    while (x.status === "running") {
      await new Promise((r) => setTimeout(r, pollEveryMs));
      try {
        await refresh();
      } catch (err) {
        if (err instanceof NeedKey) throw err;
        showMessage(err.message + " (retrying)");
      }
    }
  }

  function setStatuses(graph, x) {
    const byID = new Map(x.nodes.map((n) => [n.id, n]));
    for (const [id, n] of graph.nodes) {
      const st = byID.get(id);
      const status = st ? st.status : "pending";
      n.el.setAttribute("data-status", status);
      const parts = [status];
      if (st && st.attempts > 1) parts.push(st.attempts + " attempts");
      const d = duration(st);
      if (d) parts.push(d);
      n.status.textContent = parts.join(" · ");
    }
    for (const e of graph.edges.values()) {
      const s = byID.get(e.def.source), t = byID.get(e.def.target);
      e.el.setAttribute("data-state", edgeState(s ? s.status : "pending", t ? t.status : "pending"));
    }
  }

  // duration is how long a node ran (so far, when it has not finished).
  function duration(st) {
    if (!st || !st.startedAt) return "";
    const end = st.finishedAt ? new Date(st.finishedAt) : new Date();
    const ms = end - new Date(st.startedAt);
    if (ms < 1000) return ms + " ms";
    if (ms < 60000) return (ms / 1000).toFixed(1) + " s";
    return Math.floor(ms / 60000) + " min " + Math.round((ms % 60000) / 1000) + " s";
  }

  function nodePanel(x, n) {
    const st = x.nodes.find((s) => s.id === n.id) || { status: "pending", attempts: 0 };
    showPanel([
      ["node", n.id], ["label", n.label || ""], ["type", n.type],
      ["status", st.status], ["attempts", String(st.attempts || 0)],
      ["started", st.startedAt ? new Date(st.startedAt).toLocaleString() : ""],
      ["finished", st.finishedAt ? new Date(st.finishedAt).toLocaleString() : ""],
      ["duration", duration(st)], ["error", st.error || ""],
    ], x.uiUrl);
  }

  function showPanel(rows, uiUrl) {
    const panel = $("panel");
    const list = el("dl", {});
    for (const [k, v] of rows) {
      if (!v) continue;
      list.append(el("dt", {}, k), el("dd", { "data-field": k }, v.includes("\n") ? el("pre", {}, v) : v));
    }
    const close = el("button", { type: "button", class: "close" }, "×");
    close.onclick = () => { panel.hidden = true; };
    panel.replaceChildren(close, list);
    if (uiUrl) {
      panel.append(el("a", { href: uiUrl, target: "_blank", rel: "noopener noreferrer" }, "Open in the Temporal Web UI"));
    }
    panel.hidden = false;
  }

  // drawControls: while the execution runs, a cancel button and a signal
  // form, which call the API's own routes (so its access rules apply).
  function drawControls(box, x, refresh) {
    if (x.status !== "running") {
      box.replaceChildren();
      if (x.error) box.append(el("p", { class: "execution-error" }, x.error.code + ": " + x.error.message));
      return;
    }
    if (box.childElementCount) return; // already drawn; keep what is typed
    const path = "api/executions/" + encodeURIComponent(x.executionId);
    const act = async (what) => {
      try { await what(); await refresh(); } catch (err) { showMessage(err.message); }
    };
    const cancel = el("button", { type: "button", id: "cancel" }, "Cancel execution");
    cancel.onclick = () => act(() => api("POST", path + "/cancel"));
    const name = el("input", { id: "signal-name", placeholder: "signal name", required: "" });
    const payload = el("input", { id: "signal-payload", placeholder: "JSON payload (optional)" });
    const form = el("form", { id: "signal-form" }, name, payload, el("button", { type: "submit" }, "Send signal"));
    form.onsubmit = (ev) => {
      ev.preventDefault();
      let body = null;
      try { body = payload.value.trim() ? JSON.parse(payload.value) : null; } catch (err) {
        showMessage("the payload is not JSON: " + err.message);
        return;
      }
      act(() => api("POST", path + "/signals/" + encodeURIComponent(name.value.trim()), body));
    };
    box.replaceChildren(cancel, form);
  }

  // A key entered can be dropped (to enter another).
  const forget = $("forget-key");
  forget.hidden = !sessionStorage.getItem(keyName);
  forget.onclick = () => { sessionStorage.removeItem(keyName); location.reload(); };

  // ---- routing: the view is the part of the path after /ui/ ----

  const at = location.pathname.indexOf("/ui/");
  const parts = location.pathname.slice(at + 4).split("/").map(decodeURIComponent);
  if (parts[0] === "workflows" && parts[1]) run(() => definitionView(parts[1]));
  else if (parts[0] === "executions" && parts[1]) run(() => executionView(parts[1]));
  else run(home);
})();
