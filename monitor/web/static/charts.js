// Two small SVG charts drawn here (no charting library, nothing from a CDN): the posts per
// time bucket, and the clocks as bars from start to deadline against the answers recorded.
"use strict";

const Charts = (() => {
  const NS = "http://www.w3.org/2000/svg";
  let W = 640; // drawn at the container's own width, so text is not scaled down

  function svg(height) {
    const s = document.createElementNS(NS, "svg");
    s.setAttribute("viewBox", `0 0 ${W} ${height}`);
    s.setAttribute("class", "chart");
    s.setAttribute("role", "img");
    return s;
  }

  function add(parent, tag, attrs, text) {
    const e = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    parent.append(e);
    return e;
  }

  function hhmm(ms) {
    return new Date(ms).toLocaleString("zh-CN", {
      timeZone: "Asia/Shanghai", hour12: false, month: "numeric", day: "numeric",
      hour: "2-digit", minute: "2-digit",
    });
  }

  // posts per bucket as bars, with the busiest bucket's count and the first and last times
  function heat(container, heatData) {
    container.replaceChildren();
    W = Math.max(container.clientWidth || 640, 280);
    const series = heatData.series || [];
    if (!series.length) { container.textContent = "暂无帖子"; return; }
    const H = 150, left = 34, bottom = 22, top = 10;
    const s = svg(H);
    s.setAttribute("aria-label", "舆情热度：每时段帖子数");
    const max = Math.max(...series.map((p) => p.posts), 1);
    const bw = Math.min((W - left - 8) / series.length, 48);
    add(s, "line", { x1: left, y1: H - bottom, x2: W - 4, y2: H - bottom, stroke: "#999" });
    add(s, "text", { x: 2, y: top + 8 }, String(max));
    add(s, "text", { x: 2, y: H - bottom }, "0");
    series.forEach((p, i) => {
      const h = ((H - bottom - top) * p.posts) / max;
      const r = add(s, "rect", {
        x: left + i * bw + 1, y: H - bottom - h, width: Math.max(bw - 2, 1), height: h,
        fill: "#c62828",
      });
      add(r, "title", {}, `${hhmm(Date.parse(p.t))} 起 ${p.posts} 条`);
    });
    add(s, "text", { x: left, y: H - 6 }, hhmm(Date.parse(series[0].t)));
    add(s, "text", { x: W - 4, y: H - 6, "text-anchor": "end" },
      hhmm(Date.parse(series[series.length - 1].t)));
    container.append(s);
    const per = heatData.bucket_s >= 3600 ? `${heatData.bucket_s / 3600}小时` : `${heatData.bucket_s / 60}分钟`;
    const note = document.createElement("small");
    note.textContent = `每格 ${per}`;
    container.append(note);
  }

  const STATUS_COLOR = { running: "#43a047", breached: "#b71c1c", met: "#1565c0", late: "#ef6c00" };

  // one row per clock: a bar from its start to its deadline, a diamond where it was answered,
  // the actions recorded along the bottom, and a line at now
  function clocks(container, clockList, actions, nowMs) {
    container.replaceChildren();
    W = Math.max(container.clientWidth || 640, 280);
    if (!clockList.length) { container.textContent = "无计时（辖区外或已关闭）"; return; }
    const rowH = 28, left = 118, top = 6, axis = 30;
    const H = top + clockList.length * rowH + rowH + axis;
    const times = [nowMs];
    for (const c of clockList) {
      times.push(Date.parse(c.start), Date.parse(c.deadline));
      if (c.stopped_at) times.push(Date.parse(c.stopped_at));
    }
    for (const a of actions) times.push(Date.parse(a.at));
    const t0 = Math.min(...times), t1 = Math.max(...times);
    const span = Math.max(t1 - t0, 60000);
    const x = (t) => left + ((W - left - 10) * (t - t0)) / span;
    const s = svg(H);
    s.setAttribute("aria-label", "回应时限与处置时间线");
    clockList.forEach((c, i) => {
      const y = top + i * rowH;
      add(s, "text", { x: 2, y: y + 16 }, c.label.slice(0, 8));
      const end = c.stopped_at ? Math.min(Date.parse(c.stopped_at), Date.parse(c.deadline)) : Date.parse(c.deadline);
      add(s, "rect", {
        x: x(Date.parse(c.start)), y: y + 5, width: Math.max(x(Date.parse(c.deadline)) - x(Date.parse(c.start)), 2),
        height: 12, fill: "#e0e0e0",
      });
      add(s, "rect", {
        x: x(Date.parse(c.start)), y: y + 5, width: Math.max(x(end) - x(Date.parse(c.start)), 1),
        height: 12, fill: STATUS_COLOR[c.status] || "#9e9e9e", opacity: 0.8,
      });
      if (c.stopped_at) {
        const sx = x(Date.parse(c.stopped_at));
        add(s, "path", { d: `M${sx} ${y + 3} l6 8 l-6 8 l-6 -8 z`, fill: "#0d47a1" });
      }
      const dx = x(Date.parse(c.deadline));
      add(s, "line", { x1: dx, y1: y + 2, x2: dx, y2: y + 20, stroke: "#b71c1c", "stroke-width": 2 });
    });
    const ay = top + clockList.length * rowH;
    add(s, "text", { x: 2, y: ay + 15 }, "处置");
    for (const a of actions) {
      const ax = x(Date.parse(a.at));
      const d = add(s, "path", { d: `M${ax} ${ay + 3} l6 8 l-6 8 l-6 -8 z`, fill: "#0d47a1" });
      add(d, "title", {}, `${hhmm(Date.parse(a.at))} ${a.label}`);
    }
    const nx = x(nowMs);
    add(s, "line", { x1: nx, y1: 0, x2: nx, y2: H - axis, stroke: "#000", "stroke-dasharray": "3 3" });
    add(s, "text", { x: nx + 3, y: H - axis + 12 }, "现在");
    add(s, "text", { x: left, y: H - 4 }, hhmm(t0));
    add(s, "text", { x: W - 4, y: H - 4, "text-anchor": "end" }, hhmm(t1));
    container.append(s);
  }

  return { heat, clocks };
})();
