// The image viewer: rendered frames from the server (WADO-RS /rendered, PNG), prefetched around the current
// slice so a 1000-image series opens at its first image and scrolls from memory; window/level presets and
// mouse drag (the server renders the new window), scroll and cine, zoom and pan, multi-frame playback,
// key tags overlaid.
import { value } from "./dicomweb.js";

const PRESETS = [
  ["Default", null],
  ["Soft tissue", { center: 40, width: 400 }],
  ["Lung", { center: -600, width: 1500 }],
  ["Bone", { center: 400, width: 1800 }],
  ["Brain", { center: 40, width: 80 }],
  ["Liver", { center: 60, width: 160 }],
];
const AHEAD = 12;
const PARALLEL = 6;
const CACHE = 400;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function initialWindow(ds) {
  const c = Number(value(ds, "00281050"));
  const w = Number(value(ds, "00281051"));
  if (Number.isFinite(c) && Number.isFinite(w) && w > 0 && value(ds, "00281051") !== "") return { center: c, width: w };
  const bits = Number(value(ds, "00280101")) || 8;
  const slope = Number(value(ds, "00281053")) || 1;
  const intercept = Number(value(ds, "00281052")) || 0;
  const signed = Number(value(ds, "00280103")) === 1;
  const lo = signed ? -(2 ** (bits - 1)) : 0;
  const hi = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  return { center: ((lo + hi) / 2) * slope + intercept, width: (hi - lo + 1) * slope };
}

export class Viewer {
  constructor(root, study, series, slices, renderedUrl) {
    this.root = root;
    this.study = study;
    this.series = series;
    this.slices = slices;
    this.renderedUrl = renderedUrl;
    this.index = 0;
    this.window = null; // null: the image's own window (server default)
    this.shownWindow = slices.length ? initialWindow(slices[0].ds) : { center: 0, width: 1 };
    this.zoom = 1;
    this.fit = true;
    this.pan = { x: 0, y: 0 };
    this.tool = "window";
    this.cache = new Map(); // url -> Promise<HTMLImageElement>
    this.inflight = 0;
    this.queue = [];
    this.cine = null;
    this.fps = 10;
    this.keys = (e) => this.onKey(e);
  }

  start() {
    const presetSelect = el("select", { "data-testid": "preset", onchange: (e) => {
      const preset = PRESETS[Number(e.target.value)][1];
      this.setWindow(preset);
    } }, PRESETS.map(([label], i) => el("option", { value: i }, label)));
    const tool = (name, label) => el("button", { "data-tool": name, class: name === this.tool ? "active" : "",
      onclick: (e) => {
        this.tool = name;
        for (const b of this.root.querySelectorAll("[data-tool]")) b.classList.toggle("active", b === e.target);
      } }, label);
    this.play = el("button", { "data-testid": "cine", onclick: () => this.toggleCine() }, "▶ Cine");
    const fps = el("input", { type: "number", min: 1, max: 60, value: this.fps, title: "frames per second",
      onchange: (e) => { this.fps = Math.max(1, Math.min(60, Number(e.target.value) || 10)); } });
    this.image = el("img", { "data-testid": "image", alt: "", draggable: "false" });
    this.overlay = {
      tl: el("div", { class: "ov tl" }), tr: el("div", { class: "ov tr" }),
      bl: el("div", { class: "ov bl", "data-testid": "slice" }), br: el("div", { class: "ov br", "data-testid": "wl" }),
    };
    this.port = el("div", { class: "viewport", "data-testid": "viewport" }, this.image, Object.values(this.overlay));
    this.root.append(
      el("div", { class: "toolbar" },
        el("a", { href: `#/study/${this.study}` }, "‹ Study"), presetSelect,
        tool("window", "Window/Level"), tool("pan", "Pan"), tool("zoom", "Zoom"),
        el("button", { "data-testid": "actual-size", onclick: () => { this.fit = false; this.zoom = 1; this.pan = { x: 0, y: 0 }; this.layout(); } }, "1:1"),
        el("button", { onclick: () => { this.fit = true; this.zoom = 1; this.pan = { x: 0, y: 0 }; this.layout(); } }, "Fit"),
        this.play, fps),
      this.port);
    this.port.addEventListener("wheel", (e) => { e.preventDefault(); this.go(this.index + Math.sign(e.deltaY)); },
      { passive: false });
    this.port.addEventListener("pointerdown", (e) => this.drag(e));
    this.port.addEventListener("contextmenu", (e) => e.preventDefault());
    window.addEventListener("keydown", this.keys);
    this.image.addEventListener("load", () => this.layout());
    this.resize = () => this.layout();
    window.addEventListener("resize", this.resize);
    this.go(0);
  }

  stop() {
    if (this.cine) clearInterval(this.cine);
    window.removeEventListener("keydown", this.keys);
    window.removeEventListener("resize", this.resize);
    for (const e of this.queue) e.drop();
    this.queue = [];
  }

  url(i, win = this.window) {
    const s = this.slices[i];
    const u = this.renderedUrl(this.study, this.series, value(s.ds, "00080018"), s.frame, win);
    return u + (u.includes("?") ? "&" : "?") + "accept=image/png";
  }

  // One request per URL: the promise is cached while it loads and after it loaded; a load that failed or
  // was dropped from the queue (the user moved on) is forgotten, so asking again starts it afresh.
  load(url, { first = false } = {}) {
    let p = this.cache.get(url);
    if (p) {
      const at = this.queue.findIndex((e) => e.url === url);
      if (first && at > 0) this.queue.unshift(...this.queue.splice(at, 1));
      return p;
    }
    const entry = { url, run: null, drop: null };
    p = new Promise((resolve, reject) => {
      const fail = (why) => { this.cache.delete(url); reject(why); };
      entry.drop = () => fail(new Error(`not loaded: ${url}`));
      entry.run = () => {
        this.inflight++;
        const img = new Image();
        img.onload = () => { this.inflight--; this.pump(); resolve(img); };
        img.onerror = () => { this.inflight--; this.pump(); fail(new Error(`cannot load ${url}`)); };
        img.src = url;
      };
    });
    if (first) this.queue.unshift(entry);
    else this.queue.push(entry);
    this.cache.set(url, p);
    if (this.cache.size > CACHE) this.cache.delete(this.cache.keys().next().value);
    this.pump();
    return p;
  }

  pump() {
    while (this.inflight < PARALLEL && this.queue.length) this.queue.shift().run();
  }

  prefetch() {
    // what is near the current slice first; what is queued for slices further away is dropped
    const near = [];
    for (let d = 1; d <= AHEAD; d++) {
      for (const i of [this.index + d, this.index - d]) {
        if (i >= 0 && i < this.slices.length) near.push(this.url(i));
      }
    }
    const keep = new Set([...near, this.wanted]);
    for (const e of this.queue.filter((q) => !keep.has(q.url))) e.drop();
    this.queue = this.queue.filter((q) => keep.has(q.url));
    for (const url of near) this.load(url).catch(() => {});
    const rank = new Map(near.map((url, k) => [url, k]));
    this.queue.sort((a, b) => (rank.get(a.url) ?? -1) - (rank.get(b.url) ?? -1));
  }

  async go(i) {
    if (!this.slices.length) return;
    this.index = Math.max(0, Math.min(this.slices.length - 1, i));
    const url = this.url(this.index);
    this.wanted = url;
    this.updateOverlay();
    try {
      await this.load(url, { first: true });
    } catch {
      return; // it failed (a later go() asks again), or the user has moved on
    }
    if (this.wanted === url) {
      this.image.src = url;
      this.image.dataset.index = String(this.index);
      this.image.dataset.src = url;
    }
    this.prefetch();
  }

  setWindow(win) {
    this.window = win ? { center: Math.round(win.center), width: Math.max(1, Math.round(win.width)) } : null;
    this.shownWindow = this.window || initialWindow(this.slices[this.index].ds);
    this.go(this.index);
  }

  toggleCine() {
    if (this.cine) {
      clearInterval(this.cine);
      this.cine = null;
      this.play.textContent = "▶ Cine";
      return;
    }
    this.play.textContent = "❚❚ Stop";
    this.cine = setInterval(() => this.go((this.index + 1) % this.slices.length), 1000 / this.fps);
  }

  onKey(e) {
    if (e.target.tagName === "INPUT") return;
    if (e.key === "ArrowDown" || e.key === "ArrowRight" || e.key === "PageDown") this.go(this.index + 1);
    else if (e.key === "ArrowUp" || e.key === "ArrowLeft" || e.key === "PageUp") this.go(this.index - 1);
    else if (e.key === "Home") this.go(0);
    else if (e.key === "End") this.go(this.slices.length - 1);
    else if (e.key === " ") { e.preventDefault(); this.toggleCine(); }
  }

  drag(e) {
    e.preventDefault();
    const start = { x: e.clientX, y: e.clientY, win: { ...this.shownWindow }, pan: { ...this.pan }, zoom: this.zoom };
    const tool = e.button === 1 || e.shiftKey ? "pan" : e.button === 2 ? "zoom" : this.tool;
    this.port.setPointerCapture(e.pointerId);
    const move = (m) => {
      const dx = m.clientX - start.x, dy = m.clientY - start.y;
      if (tool === "window") {
        const scale = Math.max(1, start.win.width / 256);
        this.setWindow({ center: start.win.center + dy * scale, width: Math.max(1, start.win.width + dx * scale) });
      } else if (tool === "pan") {
        this.pan = { x: start.pan.x + dx, y: start.pan.y + dy };
        this.layout();
      } else {
        this.zoom = Math.max(0.1, Math.min(20, start.zoom * Math.exp(-dy / 200)));
        this.layout();
      }
    };
    const up = () => {
      this.port.removeEventListener("pointermove", move);
      this.port.removeEventListener("pointerup", up);
    };
    this.port.addEventListener("pointermove", move);
    this.port.addEventListener("pointerup", up);
  }

  layout() {
    const img = this.image;
    if (!img.naturalWidth) return;
    const box = this.port.getBoundingClientRect();
    const base = this.fit ? Math.min(box.width / img.naturalWidth, box.height / img.naturalHeight) : 1;
    const scale = base * this.zoom;
    const w = img.naturalWidth * scale, h = img.naturalHeight * scale;
    img.style.width = `${w}px`;
    img.style.height = `${h}px`;
    // whole device pixels on the page, so that at 1:1 each image pixel is one screen pixel
    img.style.left = `${Math.round(box.left + (box.width - w) / 2 + this.pan.x) - box.left}px`;
    img.style.top = `${Math.round(box.top + (box.height - h) / 2 + this.pan.y) - box.top}px`;
    this.scale = scale;
    this.updateOverlay();
  }

  updateOverlay() {
    const ds = this.slices[this.index].ds;
    const pn = String(value(ds, "00100010")).replace(/\^+/g, " ");
    this.overlay.tl.replaceChildren(`${pn}`, document.createElement("br"), `ID ${value(ds, "00100020")}`);
    this.overlay.tr.replaceChildren(`${value(ds, "00080020")}`, document.createElement("br"),
      `${value(ds, "00081030") || ""}`);
    const frames = Number(value(ds, "00280008")) || 1;
    const frame = frames > 1 ? ` frame ${this.slices[this.index].frame}/${frames}` : "";
    this.overlay.bl.replaceChildren(`${value(ds, "00080060")} ${value(ds, "0008103E") || ""}`,
      document.createElement("br"), `Im ${this.index + 1}/${this.slices.length}${frame}`);
    const w = this.shownWindow;
    this.overlay.br.replaceChildren(`W ${Math.round(w.width)} L ${Math.round(w.center)}`,
      document.createElement("br"), `Zoom ${Math.round((this.scale || 1) * 100)}%`);
  }
}
