// The kgrec page: a user's recommendations, why an item is recommended (its graph paths
// drawn as SVG), and a form that adds an item. Plain DOM, no framework, no build step.
// Data reaches the DOM only as text (textContent, attribute values): never as HTML.
"use strict";

(() => {
  const KEY_STORE = "kgrec.apiKey";
  const SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const enc = encodeURIComponent;

  const state = {
    user: null,            // the user whose list is shown
    titles: new Map(),     // item id -> title, from every list seen
    added: new Set(),      // items added from this page
    requests: { users: 0, recs: 0, why: 0 },  // the latest request of each kind wins
  };

  // ------------------------------------------------------------------ DOM helpers
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs)) {
      if (name === "class") node.className = value;
      else node.setAttribute(name, value);
    }
    node.append(...children);  // strings become text nodes
    return node;
  }

  function svgEl(tag, attrs = {}, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function setStatus(text, kind = "") {
    const status = $("status");
    status.textContent = text;
    status.className = "status" + (kind ? " " + kind : "");
  }

  const fmt = (x, digits = 3) => Number(x).toFixed(digits);
  const shorten = (text, n) => (text.length > n ? text.slice(0, n - 1) + "\u2026" : text);

  // ------------------------------------------------------------------ the API
  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY_STORE);
    if (key) headers.Authorization = "Bearer " + key;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(path, init);
    let data = null;
    try {
      data = await resp.json();
    } catch (_) {
      data = null;
    }
    if (!resp.ok) {
      const message = (data && (data.message || data.detail)) || resp.statusText;
      throw new ApiError(resp.status, `${resp.status}: ${message}`);
    }
    return data;
  }

  function report(err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      setStatus(`${err.message}. Enter an API key with the needed scope above.`, "error");
      $("api-key").focus();
    } else {
      setStatus(err instanceof Error ? err.message : String(err), "error");
    }
  }

  // ------------------------------------------------------------------ user picker
  async function loadUsers(prefix = "") {
    const ticket = ++state.requests.users;
    try {
      const data = await api("GET", `/v1/users?limit=50&prefix=${enc(prefix)}`);
      if (ticket !== state.requests.users) return;
      $("user-ids").replaceChildren(...data.users.map((u) => el("option", { value: u })));
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        setStatus("This server needs an API key: enter it above.", "note");
      }
    }
  }

  // ------------------------------------------------------------------ recommendations
  function recommendationsPath(user) {
    const params = new URLSearchParams({ k: String(Number($("k").value) || 10) });
    if ($("new-slots").checked) params.set("new_items", "1");
    return `/v1/users/${enc(user)}/recommendations?${params}`;
  }

  async function showRecommendations(user) {
    const ticket = ++state.requests.recs;
    setStatus(`Loading recommendations for ${user}\u2026`, "busy");
    let data;
    try {
      data = await api("GET", recommendationsPath(user));
    } catch (err) {
      if (ticket === state.requests.recs) report(err);
      return null;
    }
    if (ticket !== state.requests.recs) return null;
    state.user = user;
    history.replaceState(null, "", `?user=${enc(user)}`);
    renderRecommendations(data);
    setStatus(`${data.items.length} items for user ${user}.`, "ok");
    return data;
  }

  function renderRecommendations(data) {
    for (const r of data.items) state.titles.set(r.item_id, r.title);
    const how = data.fallback ? `ranked by ${data.fallback} (the user has no interactions)`
                              : "ranked by the model";
    $("recs-meta").textContent =
      `User ${data.user_id}: ${data.items.length} items, ${how}; model ${data.model_version}.`;
    const top = Math.max(...data.items.map((r) => r.score), 1e-9);
    $("recs").replaceChildren(...data.items.map((r, n) => recommendationRow(r, n, top)));
  }

  function recommendationRow(r, n, top) {
    const fresh = state.added.has(r.item_id);
    const button = el("button", { type: "button", class: "rec", "aria-pressed": "false" },
      el("span", { class: "rank" }, String(n + 1)),
      el("span", { class: "title" }, r.title || r.item_id),
      el("span", { class: "id" }, r.item_id),
      el("meter", { min: "0", max: "1", value: String(Math.max(0, r.score / top)),
                    "aria-label": "relative score" }),
      el("span", { class: "score" }, fmt(r.score)));
    if (fresh) button.append(el("span", { class: "badge" }, "new"));
    button.addEventListener("click", () => {
      for (const b of $("recs").querySelectorAll("button[aria-pressed=true]")) {
        b.setAttribute("aria-pressed", "false");
      }
      button.setAttribute("aria-pressed", "true");
      showExplanation(state.user, r.item_id);
    });
    const li = el("li", { class: fresh ? "fresh" : "" }, button);
    li.dataset.itemId = r.item_id;
    return li;
  }

  // ------------------------------------------------------------------ explanations
  async function showExplanation(user, item) {
    const ticket = ++state.requests.why;
    $("why-summary").textContent = `Explaining ${state.titles.get(item) || item}\u2026`;
    let data;
    try {
      data = await api("GET",
        `/v1/users/${enc(user)}/explanations/${enc(item)}?max_paths=5`);
    } catch (err) {
      if (ticket === state.requests.why) {
        report(err);
        $("why-summary").textContent = "No explanation.";
      }
      return;
    }
    if (ticket !== state.requests.why) return;
    renderExplanation(data);
  }

  function renderExplanation(data) {
    const title = state.titles.get(data.item_id) || data.item_id;
    const parts = Object.entries(data.parts).map(([k, v]) => `${k} ${fmt(v)}`).join(", ");
    $("why-summary").textContent = data.paths.length
      ? `${title} for user ${data.user_id}: score ${fmt(data.score)}; the paths below ` +
        `carry ${Math.round(data.explained * 100)}% of it (${parts}).`
      : `${title} for user ${data.user_id}: score ${fmt(data.score)}; no graph path ` +
        "explains it (the user's own profile and id carry it).";
    const graph = data.paths.length ? drawGraph(data) : null;
    $("why-graph").replaceChildren(...(graph ? [graph] : []));
    $("why-paths").replaceChildren(...data.paths.map((p, n) => pathRow(p, n, graph)));
  }

  function pathRow(path, n, graph) {
    const params = `:params ${JSON.stringify(path.parameters)}`;
    const li = el("li", { class: "path" },
      el("p", { class: "reason" }, path.reason),
      el("p", { class: "meta" }, `${path.kind} path, contribution ${fmt(path.contribution)}`),
      el("details", {},
        el("summary", {}, "Cypher (run it in Neo4j Browser)"),
        el("pre", {}, el("code", {}, `${params}\n${path.cypher}`))));
    const highlight = (on) => {
      if (!graph) return;
      graph.classList.toggle("focus", on);
      for (const e of graph.querySelectorAll(`[data-paths~="${n}"]`)) e.classList.toggle("on", on);
    };
    li.tabIndex = 0;
    li.addEventListener("mouseenter", () => highlight(true));
    li.addEventListener("mouseleave", () => highlight(false));
    li.addEventListener("focus", () => highlight(true));
    li.addEventListener("blur", () => highlight(false));
    return li;
  }

  // ------------------------------------------------------------------ the graph (SVG)
  const NODE_W = 128;
  const NODE_H = 34;
  const ROW_H = 48;
  const MARGIN = 10;
  const LINE_H = 11;
  const WIDTH = 760;

  function nodeLabel(label, id) {
    if (label === "User") return `user ${id}`;
    if (label === "Attribute") {
      const at = id.indexOf(":");
      return at < 0 ? id : `${id.slice(0, at).replaceAll("_", " ")}: ${id.slice(at + 1)}`;
    }
    return state.titles.get(id) || `item ${id}`;
  }

  // Layers: the user on the left, the item on the right, the nodes between them in the
  // columns of their place on the path (a shorter path's middle node sits just left of
  // the item, where the shared attributes are).
  function layout(paths) {
    const cols = Math.max(...paths.map((p) => p.nodes.length));
    const nodes = new Map();
    const edges = new Map();
    const strongest = Math.max(...paths.map((p) => p.contribution), 1e-9);
    paths.forEach((path, n) => {
      const keys = path.nodes.map(([label, id], i) => {
        const key = `${label}\u0000${id}`;
        const col = i === 0 ? 0 : i + (cols - path.nodes.length);
        if (!nodes.has(key)) {
          nodes.set(key, { label, id, col, target: i === path.nodes.length - 1 && i > 0 });
        }
        return key;
      });
      keys.slice(1).forEach((key, i) => {
        const edgeKey = `${keys[i]}\u0001${key}`;
        const edge = edges.get(edgeKey) ||
          { from: keys[i], to: key, type: path.relationships[i], weight: 0, paths: [] };
        edge.weight = Math.max(edge.weight, path.contribution / strongest);
        edge.paths.push(n);
        edges.set(edgeKey, edge);
      });
    });
    const byCol = Array.from({ length: cols }, () => []);
    for (const node of nodes.values()) byCol[node.col].push(node);
    // the relationship types leaving each column, named once above the gap after it
    const captions = Array.from({ length: cols }, () => new Set());
    for (const edge of edges.values()) captions[nodes.get(edge.from).col].add(edge.type);
    const top = MARGIN + LINE_H * Math.max(...captions.map((c) => c.size)) + 8;
    const rows = Math.max(...byCol.map((c) => c.length));
    const height = top + rows * ROW_H + MARGIN;
    const step = (WIDTH - 2 * MARGIN - NODE_W) / Math.max(cols - 1, 1);
    byCol.forEach((col, c) => col.forEach((node, r) => {
      node.x = MARGIN + c * step;
      node.y = top + (height - top - MARGIN) * (r + 0.5) / col.length - NODE_H / 2;
    }));
    const labels = captions.flatMap((types, c) => [...types].map((type, n) => ({
      x: MARGIN + c * step + NODE_W + (step - NODE_W) / 2, y: MARGIN + LINE_H * (n + 1), type,
    })));
    return { nodes, edges, labels, height };
  }

  function drawGraph(data) {
    const { nodes, edges, labels, height } = layout(data.paths);
    const graph = svgEl("svg", {
      viewBox: `0 0 ${WIDTH} ${height}`, role: "img", class: "why",
      "aria-label": `Explanation graph: ${nodes.size} nodes, ${edges.size} relationships`,
    });
    graph.append(svgEl("title", {}, `Why ${data.item_id} is recommended to ${data.user_id}`));
    const defs = svgEl("defs");
    const marker = svgEl("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                                     markerWidth: 8, markerHeight: 8, orient: "auto",
                                     markerUnits: "userSpaceOnUse" });
    marker.append(svgEl("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
    defs.append(marker);
    graph.append(defs);
    for (const { x, y, type } of labels) {
      graph.append(svgEl("text", { x, y, class: "caption", "text-anchor": "middle" }, type));
    }
    for (const edge of edges.values()) graph.append(drawEdge(edge, nodes));
    for (const node of nodes.values()) graph.append(drawNode(node));
    return graph;
  }

  function drawEdge(edge, nodes) {
    const a = nodes.get(edge.from);
    const b = nodes.get(edge.to);
    const forward = b.x >= a.x;
    const x1 = forward ? a.x + NODE_W : a.x;
    const x2 = forward ? b.x : b.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const y2 = b.y + NODE_H / 2;
    const bend = (x2 - x1) / 2;
    const group = svgEl("g", { class: "edge", "data-paths": edge.paths.join(" ") });
    group.append(svgEl("title", {}, edge.type));
    group.append(svgEl("path", {
      d: `M${x1},${y1} C${x1 + bend},${y1} ${x2 - bend},${y2} ${x2},${y2}`,
      "stroke-width": fmt(1.2 + 3 * edge.weight, 2), "marker-end": "url(#arrow)",
    }));
    return group;
  }

  function drawNode(node) {
    const kind = node.target ? "target" : node.label.toLowerCase();
    const label = nodeLabel(node.label, node.id);
    const group = svgEl("g", { class: `node ${kind}`, "data-label": node.label,
                               "data-id": node.id, transform: `translate(${node.x},${node.y})` });
    group.append(svgEl("title", {}, `${node.label} ${node.id}: ${label}`));
    group.append(svgEl("rect", { width: NODE_W, height: NODE_H,
                                 rx: node.label === "Item" ? 6 : NODE_H / 2 }));
    group.append(svgEl("text", { x: NODE_W / 2, y: NODE_H / 2 + 4, "text-anchor": "middle" },
                       shorten(label, 18)));
    return group;
  }

  // ------------------------------------------------------------------ adding an item
  function parseAttributes(text) {
    const attributes = {};
    text.split("\n").forEach((line, n) => {
      if (!line.trim()) return;
      const at = line.indexOf("=");
      const kind = line.slice(0, at).trim();
      const value = line.slice(at + 1).trim();
      if (at < 0 || !kind || !value) {
        throw new Error(`attributes line ${n + 1}: expected kind=value, got ${JSON.stringify(line)}`);
      }
      (attributes[kind] ||= []).push(value);
    });
    return attributes;
  }

  async function addItem() {
    const result = $("add-result");
    let record;
    try {
      record = { id: $("item-id").value.trim(), title: $("item-title").value,
                 attributes: parseAttributes($("item-attributes").value) };
    } catch (err) {
      result.textContent = err.message;
      result.className = "meta error";
      return;
    }
    const description = $("item-description").value.trim();
    if (description) record.description = description;
    result.textContent = "Adding\u2026";
    result.className = "meta busy";
    let data;
    try {
      data = await api("POST", "/v1/items", { items: [record] });
    } catch (err) {
      result.textContent = err.message;
      result.className = "meta error";
      report(err);
      return;
    }
    if (data.rejected) {
      result.textContent = `Rejected: ${data.reasons.join("; ")}`;
      result.className = "meta error";
      return;
    }
    const what = data.added ? "added" : data.updated ? "updated" : "unchanged";
    state.added.add(record.id);
    state.titles.set(record.id, record.title);
    result.textContent = `Item ${record.id} ${what}; model ${data.model_version}.`;
    result.className = "meta ok";
    await showNewItem(record.id, result);
  }

  async function showNewItem(item, result) {
    try {
      const similar = await api("GET", `/v1/items/${enc(item)}/similar?k=3`);
      const names = similar.items.map((r) => r.title || r.item_id).join("; ");
      if (names) result.textContent += ` Closest items: ${names}.`;
    } catch (err) {
      report(err);
    }
    if (!state.user) return;
    const data = await showRecommendations(state.user);
    if (!data) return;
    const rank = data.items.findIndex((r) => r.item_id === item);
    result.textContent += rank >= 0
      ? ` It is #${rank + 1} for user ${state.user}.`
      : ` Not in user ${state.user}'s top ${data.items.length}: raise "How many" or tick ` +
        "the new-item slot.";
    if (rank >= 0) $("recs").children[rank].scrollIntoView({ block: "nearest" });
  }

  // ------------------------------------------------------------------ wiring
  function start() {
    $("api-key").value = sessionStorage.getItem(KEY_STORE) || "";
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("api-key").value.trim();
      if (key) sessionStorage.setItem(KEY_STORE, key);
      else sessionStorage.removeItem(KEY_STORE);
      setStatus(key ? "Key kept for this tab." : "Key cleared.", "ok");
      loadUsers($("user-id").value.trim());
      if (state.user) showRecommendations(state.user);
    });
    let typing = 0;
    $("user-id").addEventListener("input", () => {
      clearTimeout(typing);
      typing = setTimeout(() => loadUsers($("user-id").value.trim()), 200);
    });
    $("user-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const user = $("user-id").value.trim();
      if (user) showRecommendations(user);
    });
    $("item-form").addEventListener("submit", (event) => {
      event.preventDefault();
      addItem();
    });
    loadUsers();
    const user = new URLSearchParams(location.search).get("user");
    if (user) {
      $("user-id").value = user;
      showRecommendations(user);
    }
  }

  start();
})();
