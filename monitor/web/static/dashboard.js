// The duty dashboard: data from /api every 5 s, countdowns redrawn every second from the
// deadlines in that data (so a slow refresh never freezes a clock on screen).
"use strict";

const KINDS = {
  acknowledge: "确认收到", release: "权威发布", press_conference: "新闻发布会",
  follow_up: "后续发布", close: "关闭事件", regrade: "调整级别", merge: "合并", split: "拆分",
};
const EVENTS = {
  opened: "事件生成", updated: "事件更新", graded: "级别变化", assigned: "指定责任单位",
  deadline_warning: "时限预警", deadline_breached: "超时", action_recorded: "登记处置",
  closed: "事件关闭", unacknowledged: "未确认升级", merged: "已合并", split: "已拆分",
};

let token = null;
let current = null; // incident id shown in the detail view
let actionId = newId();

function newId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function beijing(iso) {
  return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
}

function span(ms) {
  const s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  const pad = (n) => String(n).padStart(2, "0");
  return `${h}小时${pad(m)}分${pad(sec)}秒`;
}

function countdown(clock) {
  const e = el("span", "", "countdown");
  e.dataset.deadline = clock.deadline;
  e.dataset.status = clock.status;
  e.dataset.label = clock.label;
  drawCountdown(e);
  return e;
}

function drawCountdown(e) {
  const label = e.dataset.label;
  if (e.dataset.status !== "running") {
    e.textContent = `${label}：${e.dataset.statusLabel || ""}`;
    return;
  }
  const left = new Date(e.dataset.deadline).getTime() - Date.now();
  e.classList.toggle("overdue", left < 0);
  e.classList.toggle("soon", left >= 0 && left < 3600 * 1000);
  e.textContent = left >= 0 ? `${label}：剩余 ${span(left)}` : `${label}：已超时 ${span(left)}`;
}

function clockItems(clocks) {
  return clocks.map((c) => {
    const e = countdown(c);
    e.dataset.statusLabel = c.status_label;
    drawCountdown(e);
    return e;
  });
}

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${token}` }, options.headers || {});
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(body.error || `HTTP ${resp.status}`);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function showError(msg) {
  document.getElementById("error").textContent = msg;
}

function renderList(rows) {
  const tbody = document.getElementById("incidents");
  tbody.replaceChildren();
  if (!rows.length) {
    const tr = el("tr");
    const td = el("td", "暂无事件");
    td.colSpan = 6;
    tr.append(td);
    tbody.append(tr);
  }
  for (const r of rows) {
    const tr = el("tr");
    tr.dataset.incident = r.id;
    const title = el("td");
    const a = el("a", r.title);
    a.href = `#incident/${encodeURIComponent(r.id)}`;
    title.append(a, el("br"), el("small", r.id));
    const clocks = el("td");
    for (const c of clockItems(r.clocks)) clocks.append(c, el("br"));
    if (!r.clocks.length) clocks.textContent = "—";
    tr.append(
      title,
      el("td", `${r.grade}级（${r.grade_label}）`, `grade grade-${r.grade}`),
      el("td", r.state_label),
      el("td", r.bodies.join("、") || "—"),
      clocks,
      el("td", String(r.posts)),
    );
    tbody.append(tr);
  }
}

function renderDetail(d) {
  document.getElementById("d-title").textContent = `${d.title}（${d.grade}级 ${d.grade_label}）`;
  document.getElementById("d-meta").textContent =
    `${d.id} · ${d.state_label} · 责任单位：${d.bodies.join("、") || "—"} · 首帖 ${beijing(d.first_seen)}`;
  const clocks = document.getElementById("d-clocks");
  clocks.replaceChildren(...clockItems(d.clocks).map((c) => { const li = el("li"); li.append(c); return li; }));
  const acts = document.getElementById("d-actions");
  acts.replaceChildren(...d.actions.map((a) =>
    el("li", `${beijing(a.at)} ${KINDS[a.kind] || a.kind} · ${a.by}${a.url ? " · " + a.url : ""}`)));
  if (!d.actions.length) acts.append(el("li", "暂无"));
  const tl = document.getElementById("timeline");
  tl.replaceChildren(...d.timeline.map((e) => el("li", `${beijing(e.at)} ${e.text}`)));
  document.getElementById("act-form").classList.toggle("hidden", !d.can_act);
}

async function renderCandidates(id) {
  const ul = document.getElementById("d-candidates");
  const found = await api(`/api/incidents/${encodeURIComponent(id)}/candidates`);
  ul.replaceChildren();
  if (!found.length) ul.append(el("li", "暂无"));
  for (const c of found) {
    const li = el("li", `${beijing(c.published_at)} ${c.account}（相似度 ${c.similarity}）${c.url} `);
    const b = el("button", "确认为发布");
    b.onclick = async () => {
      try {
        await api(`/api/incidents/${encodeURIComponent(id)}/candidates/${encodeURIComponent(c.id)}/confirm`, { method: "POST" });
        document.getElementById("act-result").textContent = "已确认，发布时间按官方发帖时间记录";
        refresh();
      } catch (err) { showError(err.message); }
    };
    li.append(b);
    ul.append(li);
  }
}

async function refresh() {
  if (!token) return;
  try {
    if (current) {
      renderDetail(await api(`/api/incidents/${encodeURIComponent(current)}`));
      await renderCandidates(current);
    } else {
      renderList(await api("/api/incidents"));
    }
    showError("");
  } catch (err) {
    showError(err.message);
    if (err.status === 401) logout();
  }
}

function route() {
  const m = location.hash.match(/^#incident\/(.+)$/);
  current = m ? decodeURIComponent(m[1]) : null;
  document.getElementById("list-view").classList.toggle("hidden", !!current);
  document.getElementById("detail-view").classList.toggle("hidden", !current);
  refresh();
}

function logout() {
  token = null;
  localStorage.removeItem("monitorToken");
  document.getElementById("login").classList.remove("hidden");
}

async function login(t) {
  token = t;
  try {
    const me = await api("/api/me");
    localStorage.setItem("monitorToken", t);
    document.getElementById("login").classList.add("hidden");
    document.getElementById("who").textContent = `当前用户：${me.name}（${me.role}${me.body ? " · " + me.body : ""}）`;
    route();
  } catch (err) {
    showError(err.message);
    logout();
  }
}

async function submitAction(ev) {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { id: actionId, kind: form.get("kind") };
  for (const f of ["url", "channel", "place", "grade", "reason"]) {
    if (form.get(f)) body[f] = form.get(f);
  }
  if (form.get("at")) body.at = new Date(form.get("at")).toISOString();
  try {
    await api(`/api/incidents/${encodeURIComponent(current)}/actions`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    actionId = newId(); // a retry after an error keeps the id, so it is recorded once
    document.getElementById("act-result").textContent = `已登记：${KINDS[body.kind]}`;
    ev.target.reset();
    refresh();
  } catch (err) {
    document.getElementById("act-result").textContent = `未登记：${err.message}`;
  }
}

function start() {
  const params = new URLSearchParams(location.search);
  document.getElementById("login").onsubmit = (ev) => {
    ev.preventDefault();
    login(document.getElementById("token").value.trim());
  };
  document.getElementById("act-form").onsubmit = submitAction;
  document.getElementById("back").onclick = (ev) => { ev.preventDefault(); location.hash = ""; };
  window.addEventListener("hashchange", route);
  setInterval(() => document.querySelectorAll(".countdown").forEach(drawCountdown), 1000);
  setInterval(refresh, 5000);
  const given = params.get("token") || localStorage.getItem("monitorToken");
  if (params.get("token")) history.replaceState(null, "", location.pathname + location.hash);
  if (given) login(given); else logout();
}

start();
