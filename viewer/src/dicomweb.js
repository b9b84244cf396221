// The few DICOMweb calls the viewer makes (PS3.18): QIDO-RS searches, WADO-RS metadata, rendered images, zip.
// Nothing but the DICOMweb API of the server the page came from (or another one named by ?server=).

export function serviceRoot() {
  const named = new URLSearchParams(location.search).get("server");
  return (named || new URL("dicom-web", location.href).href).replace(/\/$/, "");
}

const ROOT = serviceRoot();

export function value(ds, tag, index = 0) {
  const e = ds && ds[tag];
  if (!e || !e.Value || e.Value.length <= index) return "";
  const v = e.Value[index];
  if (v && typeof v === "object" && "Alphabetic" in v) return v.Alphabetic || "";
  return v;
}

export function values(ds, tag) {
  const e = ds && ds[tag];
  return e && e.Value ? e.Value : [];
}

export async function qido(path, params = {}) {
  const url = new URL(ROOT + path);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, v);
  }
  const resp = await fetch(url, { headers: { Accept: "application/dicom+json" } });
  if (!resp.ok) throw new Error(await errorText(resp));
  const text = await resp.text();
  const total = Number(resp.headers.get("X-Total-Count") || "NaN");
  const items = text ? JSON.parse(text) : [];
  return { items, total: Number.isFinite(total) ? total : items.length };
}

export async function metadata(study, series) {
  const resp = await fetch(`${ROOT}/studies/${study}/series/${series}/metadata`, {
    headers: { Accept: "application/dicom+json" },
  });
  if (!resp.ok) throw new Error(await errorText(resp));
  return resp.json();
}

export function thumbnailUrl(study, series) {
  return `${ROOT}/studies/${study}/series/${series}/thumbnail?viewport=160,160`;
}

export function renderedUrl(study, series, instance, frame, win) {
  const base = `${ROOT}/studies/${study}/series/${series}/instances/${instance}`;
  const path = frame > 1 ? `${base}/frames/${frame}/rendered` : `${base}/rendered`;
  return win ? `${path}?window=${win.center},${win.width}` : path;
}

export async function downloadZip(study, name) {
  const resp = await fetch(`${ROOT}/studies/${study}`, { headers: { Accept: "application/zip" } });
  if (!resp.ok) throw new Error(await errorText(resp));
  const blob = await resp.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `${name || study}.zip`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

async function errorText(resp) {
  try {
    const body = await resp.json();
    return `${resp.status}: ${body.message || resp.statusText}`;
  } catch {
    return `${resp.status}: ${resp.statusText}`;
  }
}
