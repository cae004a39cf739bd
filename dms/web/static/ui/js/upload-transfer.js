// Sending files: a small queue of parallel XHR uploads with a progress row per file in #uploads,
// then polling the document until its status is final (German status labels as on the server).
import { apiJson, csrfToken } from "./api.js";
import { refreshSoon } from "./upload-refresh.js";

const STATUS_LABELS = {
  received: "empfangen",
  processing: "in Bearbeitung",
  filed: "abgelegt",
  needs_review: "zu prüfen",
  failed: "fehlgeschlagen",
};
const FINAL = new Set(["filed", "needs_review", "failed"]);
const POLL_MS = 1000;
const POLL_GIVE_UP_MS = 30 * 60 * 1000;
const PARALLEL_UPLOADS = 3;

// --- sending, progress and status -------------------------------------------------------------

const queue = [];
let running = 0;

export function enqueue(job) {
  queue.push(job);
  pump();
}

function pump() {
  while (running < PARALLEL_UPLOADS && queue.length) {
    const job = queue.shift();
    running += 1;
    Promise.resolve().then(job).catch((error) => console.error(error)).finally(() => {
      running -= 1;
      pump();
    });
  }
}

function uploadList(near) {
  let list = document.getElementById("uploads");
  if (!list) {
    list = document.createElement("ul");
    list.className = "upload-list";
    list.id = "uploads";
    list.setAttribute("aria-live", "polite");
    const anchor = near.closest("table, nav, .dropzone") || near;
    anchor.after(list);
  }
  return list;
}

export function uploadRow(near, file, path) {
  const row = document.createElement("li");
  row.className = "upload";
  row.dataset.filename = file.name;
  const name = document.createElement("span");
  name.className = "upload-name";
  name.textContent = path || file.name;
  const progress = document.createElement("progress");
  progress.max = 100;
  progress.value = 0;
  progress.setAttribute("aria-label", `Fortschritt ${file.name}`);
  const status = document.createElement("span");
  status.className = "upload-status";
  status.textContent = "hochladen …";
  row.append(name, progress, status);
  uploadList(near).append(row);
  return row;
}

export function messageRow(near, text) {
  const row = document.createElement("li");
  row.className = "upload upload-message";
  const status = document.createElement("span");
  status.className = "upload-status failed";
  status.textContent = text;
  row.append(status);
  uploadList(near).append(row);
}

function showStatus(row, status, reason) {
  const element = row.querySelector(".upload-status");
  element.className = `upload-status ${status}`;
  const label = STATUS_LABELS[status] || status;
  element.textContent = status === "failed" && reason ? `${label}: ${reason}` : label;
  row.dataset.status = status;
}

function showError(row, message, documentId) {
  const element = row.querySelector(".upload-status");
  element.className = "upload-status failed";
  element.textContent = message;
  if (documentId) {
    const link = document.createElement("a");
    link.href = `/dokumente/${encodeURIComponent(documentId)}`;
    link.textContent = "Dokument öffnen";
    element.append(" ", link);
  }
  row.dataset.status = "error";
}

export async function sendAndFollow(url, form, row) {
  const progress = row.querySelector("progress");
  let receipt;
  try {
    receipt = await send(url, form, progress);
  } catch (error) {
    showError(row, error.message, error.documentId);
    return;
  }
  progress.value = 100;
  row.dataset.documentId = receipt.id;
  showStatus(row, receipt.status);
  refreshSoon();
  await follow(receipt.id, row, receipt.status);
}

// POST multipart with XMLHttpRequest (fetch reports no upload progress). Resolves with the JSON receipt.
function send(url, form, progress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
    });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { /* not JSON, e.g. a proxy's page */ }
      if (xhr.status >= 200 && xhr.status < 300 && body && body.id) {
        resolve(body);
        return;
      }
      const error = new Error(errorMessage(xhr.status, body));
      error.documentId = body?.error?.code === "duplicate" ? body.error.document_id : null;
      reject(error);
    });
    xhr.addEventListener("error", () => reject(new Error("Netzwerkfehler: die Datei wurde nicht hochgeladen.")));
    xhr.addEventListener("abort", () => reject(new Error("Hochladen abgebrochen.")));
    xhr.send(form);
  });
}

function errorMessage(status, body) {
  if (status === 401) return "Sitzung abgelaufen: bitte neu anmelden.";
  if (body?.error?.message) return body.error.message;
  if (status === 413) return "Die Datei ist zu groß.";
  if (status === 403) return "Keine Berechtigung zum Hochladen.";
  return `Fehler ${status || "beim Hochladen"}`;
}

// Polls the document's status every second until it is final; swaps the lists on every change.
async function follow(documentId, row, status) {
  const url = `/api/v1/documents/${encodeURIComponent(documentId)}/status`; // not audited: polling
  const since = Date.now();
  let last = status;
  while (!FINAL.has(last)) {
    await sleep(POLL_MS);
    if (Date.now() - since > POLL_GIVE_UP_MS) {
      showError(row, "Keine Rückmeldung: Status bitte später in der Akte prüfen.");
      return;
    }
    let document_;
    try {
      document_ = await apiJson(url);
    } catch (error) {
      if ([401, 403, 404].includes(error.status)) {
        showError(row, error.message);
        return;
      }
      continue; // a hiccup of the network or the server: keep asking
    }
    if (document_.status !== last) {
      last = document_.status;
      showStatus(row, last, document_.status_reason);
      refreshSoon();
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
