// 领导视图 (#leaders): response compliance per department and county over the last 30 and 90
// days, the breaches, and the open grade I/II incidents. Read-only: it only GETs
// /api/reports/compliance (the figures of `monitor report`, computed from the incident log).
// Uses dashboard.js's helpers ($, el, api, beijing); text is only ever set with textContent.
"use strict";

const Leaders = (() => {
  const RULES = ["release", "press_conference", "answer"];
  const WINDOWS = [30, 90];

  function pct(rate) { return rate === null || rate === undefined ? "—" : `${(rate * 100).toFixed(1)}%`; }

  function dur(s) {
    if (s === null || s === undefined) return "—";
    const m = Math.round(s / 60), h = Math.floor(m / 60);
    if (h >= 48) return `${Math.floor(h / 24)}天${h % 24}小时`;
    return h ? `${h}小时${String(m % 60).padStart(2, "0")}分` : `${m}分钟`;
  }

  function rateCell(r) {
    const td = el("td", undefined, "rate");
    td.dataset.rule = r.rule;
    const bar = el("span", undefined, "bar");
    const fill = el("span", undefined, r.rate === null ? "fill none" : r.rate >= 0.9 ? "fill good" : r.rate >= 0.6 ? "fill fair" : "fill bad");
    fill.style.width = `${Math.round((r.rate || 0) * 100)}%`; // CSSOM, allowed by the page's CSP
    bar.append(fill);
    td.append(el("b", pct(r.rate)), bar, el("small", `${r.met}/${r.decided}${r.pending ? `，计时中${r.pending}` : ""}`));
    return td;
  }

  function summary(report, days) {
    const t = report.total.current;
    const box = el("div", undefined, "total leaders-total");
    box.dataset.days = String(days);
    box.append(el("span", `近${days}天`, "sub"), el("span", String(t.incidents), "n"), el("span", "起事件（计入统计）"));
    for (const rule of RULES) {
      const r = t.rates[rule];
      box.append(el("br"), el("span", `${r.title}：${pct(r.rate)}（${r.met}/${r.decided}）`, "sub"));
    }
    box.append(el("br"), el("span", `超时 ${t.breaches} 次 · 不计入：并入他案 ${report.excluded.merged} 起、辖区外 ${report.excluded.out_of_area} 起`, "sub"));
    return box;
  }

  // one table: a row per department (or county), each figure for 30 and for 90 days
  function table(id, caption, groups30, groups90, titles) {
    const names = [...new Set([...groups90.map((g) => g.name), ...groups30.map((g) => g.name)])];
    const by30 = Object.fromEntries(groups30.map((g) => [g.name, g.current]));
    const by90 = Object.fromEntries(groups90.map((g) => [g.name, g.current]));
    const t = el("table", undefined, "leaders-table");
    t.id = id;
    const head = el("thead");
    const h1 = el("tr"), h2 = el("tr");
    const name = el("th", caption);
    name.rowSpan = 2;
    h1.append(name);
    const cols = ["事件数", ...RULES.map((r) => `${titles[r]}按时率`), "首次发布用时中位数", "超时次数"];
    for (const c of cols) { const th = el("th", c); th.colSpan = 2; h1.append(th); }
    for (let i = 0; i < cols.length; i++) h2.append(el("th", "近30天"), el("th", "近90天"));
    head.append(h1, h2);
    const body = el("tbody");
    const empty = { incidents: 0, rates: Object.fromEntries(RULES.map((r) => [r, { rule: r, rate: null, met: 0, decided: 0, pending: 0 }])), release: { median_s: null }, breaches: 0 };
    for (const n of names) {
      const tr = el("tr");
      tr.dataset.name = n;
      tr.append(el("th", n));
      const f = [by30[n] || empty, by90[n] || empty];
      for (const x of f) tr.append(el("td", String(x.incidents)));
      for (const rule of RULES) for (const x of f) tr.append(rateCell(x.rates[rule]));
      for (const x of f) tr.append(el("td", dur(x.release.median_s)));
      for (const x of f) tr.append(el("td", String(x.breaches), x.breaches ? "late" : ""));
      body.append(tr);
    }
    if (!names.length) {
      const tr = el("tr");
      const td = el("td", "近90天无事件");
      td.colSpan = 1 + cols.length * 2;
      tr.append(td);
      body.append(tr);
    }
    t.append(head, body);
    return t;
  }

  function breaches(list) {
    const ul = el("ul", undefined, "leaders-breaches");
    ul.id = "l-breaches";
    for (const b of [...list].reverse()) {
      const li = el("li");
      li.dataset.incident = b.incident_id;
      const a = el("a", b.title);
      a.href = `#incident/${encodeURIComponent(b.incident_id)}`;
      const answered = b.answered_at ? `${beijing(b.answered_at)} 完成` : b.open ? "尚未完成" : "未完成（已关闭）";
      li.append(el("span", `${b.grade}级 `, `grade grade-${b.grade}`), a,
        el("span", ` · ${b.label} · 截止 ${beijing(b.deadline)} · ${answered} · `),
        el("b", `超时 ${dur(b.late_s)}${b.open ? "（仍在超时）" : ""}`, "late"),
        el("small", ` · ${b.bodies.join("、") || "—"}`));
      ul.append(li);
    }
    if (!list.length) ul.append(el("li", "近90天无超时"));
    return ul;
  }

  function openSevere(list) {
    const ul = el("ul", undefined, "leaders-open");
    ul.id = "l-open";
    for (const o of list) {
      const li = el("li");
      li.dataset.incident = o.id;
      const a = el("a", o.title);
      a.href = `#incident/${encodeURIComponent(o.id)}`;
      const due = o.next_deadline ? `最近时限 ${beijing(o.next_deadline)}` : "无待完成时限";
      li.append(el("span", `${o.grade}级 `, `grade grade-${o.grade}`), a,
        el("span", ` · ${o.county} · ${o.bodies.join("、") || "—"} · 首帖 ${beijing(o.first_seen)} · ${due}`));
      if (o.breached.length) li.append(el("b", ` · 已超时：${o.breached.join("、")}`, "late"));
      ul.append(li);
    }
    if (!list.length) ul.append(el("li", "当前没有未关闭的 I、II 级事件"));
    return ul;
  }

  function render(r30, r90) {
    const box = $("leaders-body");
    const titles = Object.fromEntries(RULES.map((r) => [r, r90.total.current.rates[r].title]));
    const totals = el("div", undefined, "totals");
    totals.append(summary(r30, 30), summary(r90, 90));
    const scope = r90.body ? `（${r90.body}）` : "";
    $("leaders-meta").textContent = `${scope}统计至 ${beijing(r90.now)}；近30天自 ${beijing(r30.period.start)}，近90天自 ${beijing(r90.period.start)}。数字由事件日志即时计算，与 monitor report 一致。`;
    const files = el("p", "下载：", "downloads");
    for (const d of WINDOWS) for (const f of ["html", "csv"]) files.append(download(d, f), " ");
    box.replaceChildren(
      totals, files,
      el("h3", "未关闭的 I、II 级事件"), openSevere(r90.open_severe),
      el("h3", "分部门"), table("l-departments", "部门", r30.departments, r90.departments, titles),
      el("h3", "分县区"), table("l-counties", "县（区）", r30.counties, r90.counties, titles),
      el("h3", "超时明细（近90天，最新在前）"), breaches(r90.breaches),
      el("h3", "口径说明"), defs(r90.definitions),
    );
  }

  function defs(list) {
    const ul = el("ul", undefined, "defs");
    for (const d of list) ul.append(el("li", d));
    return ul;
  }

  // A report covers months: at most one refresh every MIN_GAP_MS, however busy the live push is.
  const MIN_GAP_MS = 10000;
  let last = null, fetchedAt = 0;

  // the same report as a file (HTML or CSV), fetched with the token and saved by the browser
  function download(days, format) {
    const a = el("a", `近${days}天报告（${format.toUpperCase()}）`, "download");
    a.href = "#leaders";
    a.onclick = async (ev) => {
      ev.preventDefault();
      try {
        const resp = await fetch(`/api/reports/compliance?days=${days}&format=${format}`,
          { headers: { Authorization: `Bearer ${state.token}` } });
        if (!resp.ok) throw new Error((await resp.json().catch(() => ({}))).error || `HTTP ${resp.status}`);
        const url = URL.createObjectURL(await resp.blob());
        const save = el("a");
        save.href = url;
        save.download = `舆情回应情况报告-近${days}天.${format}`;
        document.body.append(save);
        save.click();
        save.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (err) { showError(`下载失败：${err.message}`); }
    };
    return a;
  }

  async function refresh() {
    if (Date.now() - fetchedAt < MIN_GAP_MS && $("leaders-body").childElementCount) return;
    fetchedAt = Date.now();
    const [r30, r90] = await Promise.all(WINDOWS.map((d) => api(`/api/reports/compliance?days=${d}`)));
    // `now` moves every call; redraw only when a figure changed
    const key = JSON.stringify([r30, r90].map(({ now, period, previous_period, ...rest }) => rest));
    if (key === last && $("leaders-body").childElementCount) return;
    last = key;
    render(r30, r90);
  }

  return { refresh };
})();
