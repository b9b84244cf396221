// The dicomkit viewer: a study list, a study page with series thumbnails, an image viewer.
// Routes (location.hash): #/ (list), #/study/UID, #/view/STUDY/SERIES.
import { downloadZip, metadata, qido, renderedUrl, thumbnailUrl, value, values } from "./dicomweb.js";
import { Viewer } from "./viewer.js";

const PAGE = 25;
const main = () => document.getElementById("main");
let viewer = null;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null) node.setAttribute(k, v);
  }
  for (const c of children.flat()) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function formatDate(da) {
  return da && da.length === 8 ? `${da.slice(0, 4)}-${da.slice(4, 6)}-${da.slice(6)}` : da || "";
}

function name(pn) {
  return String(pn || "").replace(/\^+/g, " ").trim();
}

// -- study list -------------------------------------------------------------------------------------------
const listState = { filters: {}, offset: 0, sort: "date", descending: true };

const COLUMNS = [
  ["name", "Patient", (s) => name(value(s, "00100010"))],
  ["id", "Patient ID", (s) => value(s, "00100020")],
  ["date", "Date", (s) => formatDate(value(s, "00080020"))],
  ["description", "Description", (s) => value(s, "00081030")],
  ["modalities", "Modalities", (s) => values(s, "00080061").join(", ")],
  ["accession", "Accession", (s) => value(s, "00080050")],
  ["series", "Series", (s) => value(s, "00201206")],
  ["instances", "Images", (s) => value(s, "00201208")],
];

function dateRange(from, to) {
  const f = (from || "").replaceAll("-", "");
  const t = (to || "").replaceAll("-", "");
  return f || t ? `${f}-${t}` : "";
}

async function showList() {
  const root = main();
  root.replaceChildren();
  const f = listState.filters;
  const input = (key, label, type = "text") =>
    el("label", {}, label, el("input", { name: key, type, value: f[key] || "", "data-testid": `search-${key}` }));
  const form = el(
    "form",
    { class: "search", onsubmit: (e) => {
      e.preventDefault();
      const data = new FormData(form);
      listState.filters = Object.fromEntries(data.entries());
      listState.offset = 0;
      showList();
    } },
    input("name", "Patient name"), input("id", "Patient ID"), input("from", "From", "date"), input("to", "To", "date"),
    input("modality", "Modality"), input("accession", "Accession"),
    el("button", { type: "submit", "data-testid": "search" }, "Search"),
  );
  root.append(form);
  const status = el("p", { class: "status", "data-testid": "status" }, "Searching…");
  root.append(status);
  const params = {
    limit: PAGE, offset: listState.offset, includefield: "00081030",
    PatientName: f.name ? `*${f.name}*` : "", PatientID: f.id || "", StudyDate: dateRange(f.from, f.to),
    ModalitiesInStudy: f.modality || "", AccessionNumber: f.accession || "",
  };
  let result;
  try {
    result = await qido("/studies", params);
  } catch (err) {
    status.textContent = `The search failed: ${err.message}`;
    return;
  }
  const column = COLUMNS.find((c) => c[0] === listState.sort) || COLUMNS[2];
  const rows = result.items.slice().sort((a, b) => {
    const x = column[2](a), y = column[2](b);
    const order = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y));
    return listState.descending ? -order : order;
  });
  const first = result.total ? listState.offset + 1 : 0;
  const last = listState.offset + result.items.length;
  status.textContent = `${first}–${last} of ${result.total} studies`;
  const head = el("tr", {}, COLUMNS.map(([key, label]) => el("th", {
    class: key === listState.sort ? (listState.descending ? "sorted down" : "sorted up") : "",
    onclick: () => {
      listState.descending = key === listState.sort ? !listState.descending : false;
      listState.sort = key;
      showList();
    },
  }, label)));
  const body = rows.map((s) => el("tr", {
    class: "study", "data-uid": value(s, "0020000D"),
    onclick: () => { location.hash = `#/study/${value(s, "0020000D")}`; },
  }, COLUMNS.map(([, , get]) => el("td", {}, get(s)))));
  root.append(el("table", { class: "studies", "data-testid": "studies" }, el("thead", {}, head), el("tbody", {}, body)));
  const pager = el("div", { class: "pager" },
    el("button", { disabled: listState.offset === 0 ? "" : null, onclick: () => {
      listState.offset = Math.max(0, listState.offset - PAGE); showList();
    } }, "‹ Previous"),
    el("button", { disabled: last >= result.total ? "" : null, "data-testid": "next", onclick: () => {
      listState.offset += PAGE; showList();
    } }, "Next ›"));
  root.append(pager);
}

// -- study page -------------------------------------------------------------------------------------------
async function showStudy(study) {
  const root = main();
  root.replaceChildren(el("p", { class: "status" }, "Loading the study…"));
  const [studies, series] = await Promise.all([
    qido("/studies", { StudyInstanceUID: study, includefield: "00081030" }),
    qido(`/studies/${study}/series`, { includefield: "0008103E" }),
  ]);
  const s = studies.items[0] || {};
  series.items.sort((a, b) => (Number(value(a, "00200011")) || 0) - (Number(value(b, "00200011")) || 0));
  const title = `${name(value(s, "00100010"))} — ${value(s, "00081030") || "study"} (${formatDate(value(s, "00080020"))})`;
  const download = el("button", { "data-testid": "download", onclick: async () => {
    download.disabled = true;
    download.textContent = "Preparing…";
    try {
      await downloadZip(study, value(s, "00100020") || study);
    } finally {
      download.disabled = false;
      download.textContent = "Download (zip)";
    }
  } }, "Download (zip)");
  root.replaceChildren(
    el("p", {}, el("a", { href: "#/" }, "‹ Studies")),
    el("h2", {}, title), download,
    el("div", { class: "series", "data-testid": "series" }, series.items.map((se) => {
      const uid = value(se, "0020000E");
      return el("a", { class: "thumb", href: `#/view/${study}/${uid}`, "data-uid": uid },
        el("img", { src: thumbnailUrl(study, uid), alt: "", loading: "lazy" }),
        el("span", {}, `${value(se, "00080060")} ${value(se, "00200011")} ${value(se, "0008103E")}`),
        el("span", { class: "count" }, `${value(se, "00201209")} images`));
    })),
  );
}

// -- viewer -----------------------------------------------------------------------------------------------
async function showViewer(study, series) {
  const root = main();
  root.replaceChildren(el("p", { class: "status" }, "Loading the series…"));
  const meta = await metadata(study, series);
  meta.sort((a, b) => (Number(value(a, "00200013")) || 0) - (Number(value(b, "00200013")) || 0));
  const slices = [];
  for (const ds of meta) {
    const frames = Number(value(ds, "00280008")) || 1;
    for (let f = 1; f <= frames; f++) slices.push({ ds, frame: f });
  }
  root.replaceChildren();
  viewer = new Viewer(root, study, series, slices, renderedUrl);
  viewer.start();
}

async function route() {
  if (viewer) {
    viewer.stop();
    viewer = null;
  }
  const [, page, a, b] = location.hash.split("/");
  try {
    if (page === "study" && a) await showStudy(a);
    else if (page === "view" && a && b) await showViewer(a, b);
    else await showList();
  } catch (err) {
    main().replaceChildren(el("p", { class: "status error" }, `Error: ${err.message}`));
  }
}

window.addEventListener("hashchange", route);
route();
