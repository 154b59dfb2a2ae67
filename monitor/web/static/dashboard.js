// The duty dashboard. Data from /api; live changes pushed by Server-Sent Events (/api/stream,
// read with fetch so the token travels in a header, resumed from the last event id after a
// reconnect); countdowns redrawn every second from the deadlines. Text from posts and users is
// only ever set with textContent, never parsed as HTML.
"use strict";

// action kinds' labels come from /api/meta (monitor/domain/permissions.py RULES)
let KINDS = {};
// what each kind needs, as the API checks it (monitor/web/api.py ActionIn)
const FIELDS = {
  acknowledge: ["at"], release: ["at", "url", "channel"], press_conference: ["at", "url", "place"],
  follow_up: ["at", "url", "channel"], close: ["reason"], regrade: ["grade", "reason"],
  merge: ["target", "reason"],
};
const SOURCES = { weibo: "微博", wechat: "微信公众号", rss: "新闻", news: "新闻", web: "网页",
  push: "推送报告", hotline: "12345热线", file: "文件导入" };
const SOON_MS = 3600 * 1000;
const PAGE = 20;

const state = {
  token: null, me: null, meta: null, rows: [], current: null, detail: null,
  postsPage: 1, postsTotal: 0, selected: new Set(), actionId: newId(),
  leaders: false, lastEventId: null, muted: localStorage.getItem("monitorMuted") === "1", live: null,
};

function newId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random()).replace(/-/g, "");
}

function $(id) { return document.getElementById(id); }

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function beijing(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleString("zh-CN", { timeZone: "Asia/Shanghai", hour12: false });
}

function span(ms) {
  const s = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
  if (h === 0) return `${m}分${String(sec).padStart(2, "0")}秒`;
  return `${h}小时${m}分`;
}

// --- API -------------------------------------------------------------------------------------

async function api(path, options = {}) {
  const headers = Object.assign({ Authorization: `Bearer ${state.token}` }, options.headers || {});
  const resp = await fetch(path, Object.assign({}, options, { headers }));
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(body.error || `请求失败（HTTP ${resp.status}）`);
    err.status = resp.status;
    throw err;
  }
  return body;
}

function showError(msg) { $("error").textContent = msg || ""; }

// --- countdowns ------------------------------------------------------------------------------

// the text and colour of one clock, now
function clockText(c, now) {
  if (c.status === "met" || c.status === "late") {
    const took = Date.parse(c.stopped_at) - Date.parse(c.start);
    if (c.status === "late") {
      const over = Date.parse(c.stopped_at) - Date.parse(c.deadline);
      return [`${c.label}：超时后${c.done_label}（超时 ${span(over)}）`, "done late"];
    }
    return [`${c.label}：${c.done_label}（用时 ${span(took)}）`, "done"];
  }
  // stopped without an answer: no countdown, the status says why (关闭时未完成, 已并入他案)
  if (c.status === "not_done") return [`${c.label}：${c.status_label}`, "red"];
  if (c.status === "excluded") return [`${c.label}：${c.status_label}`, "done"];
  const left = Date.parse(c.deadline) - now;
  if (c.status === "breached" || left < 0) return [`${c.label}：已超时 ${span(left)}`, "red"];
  if (left < SOON_MS) return [`${c.label}：剩余 ${span(left)}`, "amber"];
  return [`${c.label}：剩余 ${span(left)}`, "green"];
}

function countdown(c) {
  const e = el("span", "", "countdown");
  e.dataset.clock = JSON.stringify(c);
  drawCountdown(e);
  return e;
}

function drawCountdown(e) {
  const [text, colour] = clockText(JSON.parse(e.dataset.clock), Date.now());
  e.textContent = text;
  e.className = `countdown ${colour}`;
}

function urgency(row, now) {
  if (!row.next_deadline) return "none";
  const left = Date.parse(row.next_deadline) - now;
  if (left < 0 || row.clocks.some((c) => c.status === "breached")) return "red";
  return left < SOON_MS ? "amber" : "green";
}

function tick() {
  const now = Date.now();
  document.querySelectorAll(".countdown").forEach(drawCountdown);
  document.querySelectorAll("#incidents tr[data-incident]").forEach((tr) => {
    const row = state.rows.find((r) => r.id === tr.dataset.incident);
    if (row) tr.className = `urgency-${urgency(row, now)}`;
  });
}

// --- list view -------------------------------------------------------------------------------

function categoryLabel(key) { return (state.meta && state.meta.categories[key]) || key; }

function gradeBadge(r) { return el("span", `${r.grade}级 ${r.grade_label}`, `grade grade-${r.grade}`); }

function place(r) {
  if (r.out_of_area) return [r.province, r.city, r.county].filter(Boolean).join(" ") || "辖区外";
  return [r.county, r.town].filter(Boolean).join(" ") || [r.province, r.city].filter(Boolean).join(" ") || "—";
}

function fillSelect(select, values, labels) {
  const keep = select.value;
  const first = select.options[0];
  select.replaceChildren(first);
  for (const v of values) {
    const o = el("option", labels ? labels(v) : v);
    o.value = v;
    select.append(o);
  }
  select.value = [...select.options].some((o) => o.value === keep) ? keep : "";
}

function filters() {
  return {
    grade: $("f-grade").value, state: $("f-state").value, body: $("f-body").value,
    county: $("f-county").value, category: $("f-category").value,
  };
}

function passes(r, f) {
  if (f.grade && r.grade !== f.grade) return false;
  if (!f.state && !["open", "responding"].includes(r.state)) return false;
  if (f.state && f.state !== "*" && r.state !== f.state) return false;
  if (f.body && !r.bodies.includes(f.body)) return false;
  if (f.county && r.county !== f.county) return false;
  if (f.category && r.category !== f.category) return false;
  return true;
}

function incidentRow(r, now) {
  const tr = el("tr");
  tr.dataset.incident = r.id;
  tr.className = `urgency-${urgency(r, now)}`;
  const clocks = el("td", undefined, "urgency");
  const pending = r.clocks.filter((c) => c.status === "running" || c.status === "breached");
  for (const c of pending.length ? pending : r.clocks) clocks.append(countdown(c));
  if (!r.clocks.length) clocks.textContent = r.out_of_area ? "辖区外，不计时" : "—";
  const title = el("td");
  const a = el("a", r.title);
  a.href = `#incident/${encodeURIComponent(r.id)}`;
  title.append(a, el("br"), el("small", r.id, "id"));
  const grade = el("td");
  grade.append(gradeBadge(r));
  tr.append(clocks, title, grade, el("td", categoryLabel(r.category)), el("td", place(r)),
    el("td", r.state_label), el("td", r.bodies.join("、") || "—"), el("td", String(r.posts)));
  return tr;
}

function renderTotals(t) {
  const box = $("totals");
  box.replaceChildren();
  const card = (n, label, sub, cls) => {
    const d = el("div", undefined, `total ${cls || ""}`);
    d.append(el("span", String(n), "n"), el("span", label), el("br"), el("span", sub || "", "sub"));
    box.append(d);
  };
  const g = t.open_by_grade;
  card(t.open, "未关闭事件", `I级 ${g.I} · II级 ${g.II} · III级 ${g.III} · IV级 ${g.IV}`, g.I + g.II ? "red" : "");
  card(g.I + g.II, "重大以上（I、II级）", "需5小时内发布、24小时内发布会", g.I + g.II ? "red" : "");
  card(t.breached_open, "已超时未完成", "", t.breached_open ? "red" : "");
  card(t.breaches_today, "今日超时", "按北京时间", t.breaches_today ? "red" : "");
  card(t.due_next_hour, "1小时内到期", "", t.due_next_hour ? "amber" : "");
  card(t.out_of_area, "辖区外", "只显示、不计时");
}

function renderList() {
  const now = Date.now();
  const rows = state.rows;
  const f = filters();
  fillSelect($("f-grade"), ["I", "II", "III", "IV"], (g) => `${g}级`);
  fillSelect($("f-body"), [...new Set(rows.flatMap((r) => r.bodies))].sort());
  fillSelect($("f-county"), [...new Set(rows.map((r) => r.county).filter(Boolean))].sort());
  fillSelect($("f-category"), [...new Set(rows.map((r) => r.category))].sort(), categoryLabel);
  const inArea = rows.filter((r) => !r.out_of_area);
  const shown = inArea.filter((r) => passes(r, f));
  const tbody = $("incidents");
  tbody.replaceChildren(...shown.map((r) => incidentRow(r, now)));
  if (!shown.length) {
    const tr = el("tr");
    const td = el("td", rows.length ? "没有符合筛选条件的事件" : "暂无事件");
    td.colSpan = 8;
    tr.append(td);
    tbody.append(tr);
  }
  $("f-count").textContent = `显示 ${shown.length} / ${inArea.length}`;
  const closed = inArea.filter((r) => !["open", "responding"].includes(r.state) && !passes(r, f));
  $("closed").replaceChildren(...closed.map((r) => incidentRow(r, now)));
  $("closed-summary").textContent = `已关闭、已合并的事件（${closed.length}）`;
  const outside = rows.filter((r) => r.out_of_area);
  $("outside").replaceChildren(...outside.map((r) => incidentRow(r, now)));
  $("outside-summary").textContent = `辖区外事件（${outside.length}）`;
}

// a redraw only when the data changed: a form being filled in or a post being ticked is not
// disturbed by a push about another incident
const drawn = {};

function changed(key, value) {
  const text = JSON.stringify(value);
  if (drawn[key] === text) return false;
  drawn[key] = text;
  return true;
}

async function refreshList() {
  const [rows, totals] = await Promise.all([api("/api/incidents"), api("/api/totals")]);
  state.rows = rows;
  const { now, ...counts } = totals;
  if (changed("totals", counts)) renderTotals(totals);
  if (changed("list", rows)) renderList();
}

// --- incident view ---------------------------------------------------------------------------

function fact(dl, name, value, cls) {
  dl.append(el("dt", name));
  const dd = el("dd", value === undefined || value === null || value === "" ? "—" : value, cls);
  dl.append(dd);
  return dd;
}

function renderFacts(d) {
  const dl = $("d-facts");
  dl.replaceChildren();
  fact(dl, "类别", categoryLabel(d.category));
  const f = d.facts || {};
  const people = [["死亡", f.deaths], ["失踪", f.missing], ["受伤", f.injured], ["被困", f.trapped]]
    .filter(([, n]) => n !== undefined).map(([k, n]) => `${k} ${n} 人`).join("，");
  fact(dl, "伤亡", people || "帖子中未见伤亡数字", people ? "casualty" : "");
  if (f.loss_yuan !== undefined) fact(dl, "直接经济损失", `${(f.loss_yuan / 10000).toLocaleString("zh-CN")} 万元`);
  fact(dl, "地点", [d.province, d.city, d.county, d.town].filter(Boolean).join(" ") + (d.out_of_area ? "（辖区外）" : ""));
  const why = [d.grade_why.fact && `事实：${d.grade_why.fact}`, d.grade_why.heat && `热度：${d.grade_why.heat}`,
    d.grade_why.manual && `人工调整为${d.grade_why.manual_grade}级：${d.grade_why.manual}`].filter(Boolean).join("；");
  dl.append(el("dt", "级别"));
  const g = el("dd");
  g.append(gradeBadge(d), el("span", ` ${why}`));
  dl.append(g);
  fact(dl, "责任单位", `${d.bodies.join("、") || "未指定"}${d.level ? `（${d.level === "city" ? "市级牵头" : "县级牵头"}）` : ""}`);
  if (d.shared_with.length) fact(dl, "已共享给", d.shared_with.join("、"));
  fact(dl, "状态", d.state_label + (d.merged_into ? `（并入 ${d.merged_into}）` : ""));
  fact(dl, "首帖时间", beijing(d.first_seen));
  fact(dl, "确认收到", d.acknowledged_at ? beijing(d.acknowledged_at) : "尚未确认");
}

function renderDetail(d) {
  state.detail = d;
  $("d-title").replaceChildren(gradeBadge(d), el("span", ` ${d.title}`));
  $("d-meta").textContent = `${d.id} · ${d.state_label} · 帖子 ${d.posts_total} 条`;
  renderFacts(d);
  $("d-clocks").replaceChildren(...d.clocks.map((c) => { const li = el("li"); li.append(countdown(c)); return li; }));
  if (!d.clocks.length) $("d-clocks").append(el("li", d.out_of_area ? "辖区外事件不计时" : "无"));
  const acts = d.actions.map((a) => ({ at: a.at, label: KINDS[a.kind] || a.kind }));
  Charts.clocks($("d-clock-chart"), d.clocks, acts, Date.parse(d.now));
  Charts.heat($("d-heat"), d.heat);
  $("d-actions").replaceChildren(...d.actions.map(actionItem));
  if (!d.actions.length) $("d-actions").append(el("li", "暂无"));
  $("timeline").replaceChildren(...d.timeline.map(timelineItem));
  renderNotifications(d);
  renderActForm(d);
}

function actionItem(a) {
  const li = el("li", `${beijing(a.at)} ${KINDS[a.kind] || a.kind} · ${a.by}`);
  if (a.recorded_at && a.backdated) li.append(el("span", `（补录，登记于 ${beijing(a.recorded_at)}）`, "backdated"));
  if (a.url) { li.append(" · "); li.append(safeLink(a.url)); }
  if (a.reason) li.append(el("span", ` · 理由：${a.reason}`));
  return li;
}

function timelineItem(t) {
  const li = el("li", undefined, `t-${t.type}`);
  li.append(el("time", beijing(t.at)), el("span", t.text));
  return li;
}

function renderNotifications(d) {
  const list = d.notifications;
  $("notify-card").classList.toggle("hidden", !Array.isArray(list));
  if (!Array.isArray(list)) return;
  $("d-notifications").replaceChildren(...list.map((n) => {
    const li = el("li", undefined, `n-${n.state}`);
    const about = n.clock ? `（${n.clock}）` : "";
    li.append(el("time", beijing(n.queued_at)),
      el("span", ` ${n.step_label}${about} → ${(n.to || []).join("、") || "—"} · ${n.channel} · `),
      el("strong", n.state_label));
    if (n.until) li.append(el("span", `，${n.state === "held" ? "将于" : "下次尝试"} ${beijing(n.until)}${n.state === "held" ? " 发送" : ""}`));
    if (n.sent_at) li.append(el("span", `，${beijing(n.sent_at)} 发出`));
    if (n.error) li.append(el("span", ` · ${n.error}`, "n-error"));
    return li;
  }));
  if (!list.length) $("d-notifications").append(el("li", "暂无"));
}

function safeLink(url) {
  if (!/^https?:\/\//i.test(url || "")) return el("span", url || "");
  const a = el("a", url);
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

async function renderPosts() {
  const id = state.current;
  const data = await api(`/api/incidents/${encodeURIComponent(id)}/posts?page=${state.postsPage}&size=${PAGE}`);
  if (id !== state.current) return;
  state.postsTotal = data.total;
  if (!changed("posts", [id, state.postsPage, data])) return;
  const canSplit = state.me.duty && state.detail && state.detail.can_act && ["open", "responding"].includes(state.detail.state);
  $("split-box").classList.toggle("hidden", !canSplit);
  $("posts-count").textContent = `（共 ${data.total} 条）`;
  $("d-posts").replaceChildren(...data.posts.map((p) => postItem(p, canSplit)));
  const pages = Math.max(1, Math.ceil(data.total / PAGE));
  $("posts-page").textContent = `第 ${state.postsPage} / ${pages} 页`;
  $("posts-prev").disabled = state.postsPage <= 1;
  $("posts-next").disabled = state.postsPage >= pages;
  updateSplit();
}

function postItem(p, canSplit) {
  const li = el("li");
  li.dataset.post = p.id;
  const meta = el("div", undefined, "post-meta");
  if (canSplit) {
    const box = el("input");
    box.type = "checkbox";
    box.className = "pick";
    box.value = p.id;
    box.checked = state.selected.has(p.id);
    box.onchange = () => { box.checked ? state.selected.add(p.id) : state.selected.delete(p.id); updateSplit(); };
    meta.append(box, " ");
  }
  const author = p.author || "匿名";
  meta.append(el("span", `${SOURCES[p.source] || p.source || "来源不明"} · ${author}`));
  if (p.author_verified) meta.append(el("span", " 认证", "verified"));
  if (p.author_followers !== undefined && p.author_followers !== null) meta.append(el("span", ` · 粉丝 ${p.author_followers.toLocaleString("zh-CN")}`));
  if (p.official) meta.append(el("span", " · 官方账号", "verified"));
  meta.append(el("span", ` · ${beijing(p.published_at || p.at)}`));
  const counts = [["转发", p.reposts], ["评论", p.comments], ["点赞", p.likes]].filter(([, n]) => n !== undefined && n !== null);
  if (counts.length) meta.append(el("span", ` · ${counts.map(([k, n]) => `${k} ${n}`).join(" ")}`));
  li.append(meta);
  if (p.title) li.append(el("div", p.title, "post-title"));
  li.append(el("div", p.text === null ? "（存档中未找到原文）" : p.text, "post-text"));
  const foot = el("div", undefined, "post-meta");
  foot.append(el("span", `${p.id} `));
  if (p.url) foot.append(safeLink(p.url));
  li.append(foot);
  return li;
}

function updateSplit() {
  $("split-btn").disabled = state.selected.size === 0;
  $("split-btn").textContent = `将勾选的 ${state.selected.size} 条帖子拆分为新事件`;
}

async function renderCandidates(id) {
  const ul = $("d-candidates");
  const found = await api(`/api/incidents/${encodeURIComponent(id)}/candidates`);
  if (!changed("candidates", [id, found])) return;
  ul.replaceChildren();
  if (!found.length) ul.append(el("li", "暂无"));
  for (const c of found) {
    const li = el("li", `${beijing(c.published_at)} ${c.account}（相似度 ${c.similarity}）`);
    li.append(" ", safeLink(c.url), " ");
    if (state.detail && state.detail.can_act) {
      const b = el("button", "确认为权威发布");
      b.type = "button";
      b.onclick = async () => {
        try {
          await api(`/api/incidents/${encodeURIComponent(id)}/candidates/${encodeURIComponent(c.id)}/confirm`, { method: "POST" });
          result("已确认，发布时间按官方发帖时间记录", true);
          refresh();
        } catch (err) { result(`未登记：${err.message}`, false); }
      };
      li.append(b);
    }
    ul.append(li);
  }
}

function renderActForm(d) {
  const card = $("act-card");
  card.classList.toggle("hidden", !d.can_act && !(state.me.duty && d.duty));
  const live = ["open", "responding"].includes(d.state);
  // split has its own control on the posts list; the rest are what the API says this user may do
  const kinds = (d.allowed_kinds || []).filter((k) => k !== "split" && KINDS[k]);
  const select = $("act-kind");
  if (select.dataset.kinds !== kinds.join()) {
    select.replaceChildren(...kinds.map((k) => { const o = el("option", KINDS[k]); o.value = k; return o; }));
    select.dataset.kinds = kinds.join();
  }
  $("act-form").classList.toggle("hidden", !d.can_act || !live);
  const targets = state.rows.filter((r) => r.id !== d.id && ["open", "responding"].includes(r.state));
  const target = $("act-form").elements.target;
  const keep = target.value;
  target.replaceChildren(el("option", "请选择保留的事件"), ...targets.map((r) => {
    const o = el("option", `${r.grade}级 ${r.title}（${r.id}）`);
    o.value = r.id;
    return o;
  }));
  target.options[0].value = "";
  target.value = keep;
  showFields();
  const share = $("share-box");
  share.classList.toggle("hidden", !state.me.duty);
  if (state.me.duty && state.meta) {
    const bodies = state.meta.bodies.filter((b) => !d.bodies.includes(b) && !d.shared_with.includes(b));
    fillSelect($("share-body"), bodies);
    $("share-list").replaceChildren(...d.shared_with.map((b) => {
      const li = el("li", `${b} `);
      const x = el("button", "取消共享");
      x.type = "button";
      x.onclick = () => unshare(b);
      li.append(x);
      return li;
    }));
  }
}

function showFields() {
  const kind = $("act-kind").value;
  const wanted = new Set(FIELDS[kind] || []);
  document.querySelectorAll("#act-form .field").forEach((f) => f.classList.toggle("show", wanted.has(f.dataset.for)));
}

function result(msg, ok) {
  const p = $("act-result");
  p.textContent = msg;
  p.className = ok ? "result-ok" : "result-bad";
}

// the same checks as the API, so a mistake is named before anything is sent
function validate(body) {
  const k = body.kind;
  if (["release", "follow_up"].includes(k) && !/^https?:\/\/\S+$/i.test(body.url || "")) return "请填写以 http:// 或 https:// 开头的发布链接";
  if (k === "press_conference" && !(body.url || body.place)) return "请填写发布会地点或链接";
  if (k === "press_conference" && body.url && !/^https?:\/\/\S+$/i.test(body.url)) return "链接须以 http:// 或 https:// 开头";
  if (k === "regrade" && (!body.grade || !body.reason)) return "请选择调整后的级别并填写理由";
  if (k === "merge" && !body.target) return "请选择要并入的事件";
  if (body.at && Date.parse(body.at) > Date.now()) return "发生时间不能晚于现在";
  return null;
}

async function submitAction(ev) {
  ev.preventDefault();
  const form = new FormData(ev.target);
  const body = { id: state.actionId, kind: form.get("kind") };
  for (const f of FIELDS[body.kind] || []) {
    const v = (form.get(f) || "").trim();
    if (v && f !== "at") body[f] = v;
  }
  if ((FIELDS[body.kind] || []).includes("at") && form.get("at")) body.at = new Date(form.get("at")).toISOString();
  const problem = validate(body);
  if (problem) { result(`未提交：${problem}`, false); return; }
  await send(body, () => ev.target.reset());
}

async function send(body, done) {
  try {
    await api(`/api/incidents/${encodeURIComponent(state.current)}/actions`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    state.actionId = newId(); // a retry after an error keeps the id, so it is recorded once
    result(`已登记：${KINDS[body.kind]}（处理中，数秒内生效）`, true);
    if (done) done();
    refresh();
  } catch (err) {
    result(`未登记：${err.message}`, false);
  }
}

async function split() {
  const ids = [...state.selected];
  if (!ids.length) return;
  const reason = $("split-reason").value.trim() || "值班人员拆分";
  await send({ id: state.actionId, kind: "split", post_ids: ids, reason }, () => {
    state.selected.clear();
    $("split-reason").value = "";
  });
}

async function share() {
  const body = $("share-body").value;
  if (!body) { result("请选择要共享的单位", false); return; }
  try {
    await api(`/api/incidents/${encodeURIComponent(state.current)}/shares`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ body }),
    });
    result(`已共享给 ${body}（只读）`, true);
    refresh();
  } catch (err) { result(`未共享：${err.message}`, false); }
}

async function unshare(body) {
  try {
    await api(`/api/incidents/${encodeURIComponent(state.current)}/shares/${encodeURIComponent(body)}`, { method: "DELETE" });
    result(`已取消共享：${body}`, true);
    refresh();
  } catch (err) { result(`未取消：${err.message}`, false); }
}

async function refreshDetail() {
  const id = state.current;
  // duty staff pick a merge target from the open incidents
  if (state.me.duty || !state.rows.length) state.rows = await api("/api/incidents");
  const d = await api(`/api/incidents/${encodeURIComponent(id)}`);
  if (id !== state.current) return;
  const { now, ...data } = d;
  if (changed("detail", data)) renderDetail(d);
  state.detail = d;
  await Promise.all([renderPosts(), renderCandidates(id)]);
}

// --- alerts ----------------------------------------------------------------------------------

let audio = null;

function beep() {
  if (state.muted) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    const o = audio.createOscillator(), g = audio.createGain();
    o.frequency.value = 880;
    g.gain.setValueAtTime(0.2, audio.currentTime);
    g.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.8);
    o.connect(g).connect(audio.destination);
    o.start();
    o.stop(audio.currentTime + 0.8);
    // how many alerts sounded, readable on the page (the browser tests check muting with it)
    document.body.dataset.sounds = String(Number(document.body.dataset.sounds || 0) + 1);
  } catch (err) { /* no audio device: the banner still shows */ }
}

function banner(text, incidentId, cls, quiet) {
  const box = $("banners");
  const div = el("div", undefined, `banner ${cls || ""}`);
  div.dataset.incident = incidentId;
  const a = el("a", text);
  a.href = `#incident/${encodeURIComponent(incidentId)}`;
  const ok = el("button", "知道了");
  ok.type = "button";
  ok.onclick = () => div.remove();
  div.append(a, ok);
  box.prepend(div);
  while (box.children.length > 5) box.lastChild.remove();
  if (!quiet) beep();
}

function alertFor(m) {
  const d = m.data || {};
  const title = d.title || (state.rows.find((r) => r.id === m.incident_id) || {}).title || m.incident_id;
  const outside = Array.isArray(d.bodies) && d.bodies.length === 0; // not assigned: out of area
  if (m.kind === "opened" && ["I", "II"].includes(d.grade) && outside) {
    banner(`辖区外${d.grade}级事件（仅供参考，不计时）：${title}`, m.incident_id, "amber", true);
  } else if (m.kind === "opened" && ["I", "II"].includes(d.grade)) {
    banner(`新发${d.grade}级（${d.grade === "I" ? "特别重大" : "重大"}）事件：${title}`, m.incident_id);
  } else if (m.kind === "graded" && d.direction === "up" && ["I", "II"].includes(d.to)) {
    banner(`事件升级为${d.to}级：${title}`, m.incident_id);
  } else if (m.kind === "deadline_breached") {
    banner(`已超时：${d.label || "回应时限"} · ${title}`, m.incident_id);
  }
}

// --- live push -------------------------------------------------------------------------------

let refreshTimer = null;

function soon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, 100);
}

function setLive(ok, text) {
  $("live").className = ok ? "ok" : "down";
  $("live").textContent = text;
}

function handle(event, data) {
  if (event === "incident") { alertFor(data); soon(); }
  else if (event === "changed") {
    if (!state.current || data.ids.includes(state.current)) soon();
    else soon();
  } else if (event === "reset") soon();
  else if (event === "revoked") { showError("令牌已被吊销，请重新登录"); logout(); }
}

// SSE over fetch: EventSource cannot send the Authorization header
async function listen(session) {
  let delay = 1000;
  while (state.live === session) {
    try {
      const headers = { Authorization: `Bearer ${state.token}` };
      if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
      const resp = await fetch("/api/stream", { headers, cache: "no-store" });
      if (resp.status === 401) { showError("令牌无效或已被吊销，请重新登录"); logout(); return; }
      if (!resp.ok || !resp.body) throw new Error(`HTTP ${resp.status}`);
      setLive(true, "实时推送：已连接");
      delay = 1000;
      soon(); // whatever changed while away
      const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      while (state.live === session) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0 || (cut = buffer.indexOf("\r\n\r\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + (buffer[cut] === "\r" ? 4 : 2));
          let event = "message", data = "", id = null;
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith("event:")) event = line.slice(6).trim();
            else if (line.startsWith("data:")) data += line.slice(5).trim();
            else if (line.startsWith("id:")) id = line.slice(3).trim();
          }
          if (id) state.lastEventId = id;
          if (data) handle(event, JSON.parse(data));
        }
      }
      reader.cancel().catch(() => {});
    } catch (err) {
      /* the server went away: try again */
    }
    if (state.live !== session) return;
    setLive(false, "实时推送：连接中断，正在重连……");
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 10000);
  }
}

// --- routing and login -----------------------------------------------------------------------

async function refresh() {
  if (!state.token) return;
  try {
    if (state.current) await refreshDetail();
    else if (state.leaders) await Leaders.refresh();
    else await refreshList();
    showError("");
  } catch (err) {
    showError(err.message);
    if (err.status === 401) logout();
  }
}

function route() {
  const m = location.hash.match(/^#incident\/(.+)$/);
  const next = m ? decodeURIComponent(m[1]) : null;
  if (next !== state.current) {
    state.postsPage = 1;
    state.selected.clear();
    state.actionId = newId();
    result("", true);
  }
  state.current = next;
  state.leaders = location.hash === "#leaders";
  $("list-view").classList.toggle("hidden", !!state.current || state.leaders || !state.token);
  $("detail-view").classList.toggle("hidden", !state.current || !state.token);
  $("leaders-view").classList.toggle("hidden", !state.leaders || !state.token);
  $("nav-list").classList.toggle("active", !state.current && !state.leaders);
  $("nav-leaders").classList.toggle("active", state.leaders);
  refresh();
}

function logout() {
  state.token = null;
  state.live = null;
  localStorage.removeItem("monitorToken");
  $("login").classList.remove("hidden");
  $("logout").classList.add("hidden");
  $("list-view").classList.add("hidden");
  $("detail-view").classList.add("hidden");
  $("leaders-view").classList.add("hidden");
  $("nav").classList.add("hidden");
  $("who").textContent = "未登录";
  setLive(false, "实时推送：未连接");
}

async function login(t) {
  state.token = t;
  try {
    const [me, meta] = await Promise.all([api("/api/me"), api("/api/meta")]);
    state.me = me;
    state.meta = meta;
    KINDS = meta.kinds;
    localStorage.setItem("monitorToken", t);
    $("login").classList.add("hidden");
    $("logout").classList.remove("hidden");
    $("who").textContent = `当前用户：${me.name}（${me.role_label}${me.body ? " · " + me.body : ""}${me.writes ? "" : " · 只读"}）`;
    $("nav").classList.remove("hidden");
    state.live = {};
    listen(state.live);
    route();
  } catch (err) {
    showError(err.message);
    logout();
  }
}

function drawMute() {
  $("mute").textContent = state.muted ? "声音提醒：关" : "声音提醒：开";
  $("mute").setAttribute("aria-pressed", String(state.muted));
}

function start() {
  const params = new URLSearchParams(location.search);
  $("login").onsubmit = (ev) => { ev.preventDefault(); login($("token").value.trim()); };
  $("logout").onclick = () => { logout(); showError(""); };
  $("mute").onclick = () => {
    state.muted = !state.muted;
    localStorage.setItem("monitorMuted", state.muted ? "1" : "0");
    drawMute();
  };
  drawMute();
  $("act-form").onsubmit = submitAction;
  $("act-kind").onchange = showFields;
  $("split-btn").onclick = split;
  $("share-add").onclick = share;
  $("posts-prev").onclick = () => { state.postsPage -= 1; renderPosts().catch((e) => showError(e.message)); };
  $("posts-next").onclick = () => { state.postsPage += 1; renderPosts().catch((e) => showError(e.message)); };
  for (const id of ["f-grade", "f-state", "f-body", "f-county", "f-category"]) $(id).onchange = renderList;
  window.addEventListener("hashchange", () => { for (const k of Object.keys(drawn)) delete drawn[k]; });
  $("f-clear").onclick = () => {
    for (const id of ["f-grade", "f-state", "f-body", "f-county", "f-category"]) $(id).value = "";
    renderList();
  };
  $("back").onclick = (ev) => { ev.preventDefault(); location.hash = ""; };
  window.addEventListener("hashchange", route);
  setInterval(tick, 1000);
  const given = params.get("token") || localStorage.getItem("monitorToken");
  if (params.get("token")) history.replaceState(null, "", location.pathname + location.hash);
  if (given) login(given); else logout();
}

start();
