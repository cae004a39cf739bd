// Drag and drop upload: files and folders into a folder of a customer file, a file onto a document as
// its new version; a progress bar per file, then the document's status live until it is final.
//
// Expected markup (rendered only for documents:write; see "upload.js markup" in the web plan):
//   <li data-folder="02 Korrespondenz" data-dropzone data-customer="10001">…</li>     folder of the tree
//   <form class="dropzone" data-dropzone data-customer="10001" data-folder="…" …>      drop area of a folder
//     <input type="file" multiple data-upload-input>                                  files
//     <input type="file" multiple webkitdirectory data-upload-input>                  a whole folder
//   </form>
//   <ul class="upload-list" id="uploads" aria-live="polite"></ul>                     progress (made if absent)
//   <table id="documents" data-partial-url="…&partial=1"> <tr data-document-id="…" data-version-drop> …
//   <section data-version-drop data-document-id="…"> <form data-version-form> file + comment </form>
//   <dialog id="version-dialog"> Kommentar + "Version hochladen" / "Abbrechen" (made if absent)
// This module wires drops, pickers, forms and the version dialog; upload-transfer.js sends the files,
// shows progress and follows each document's status; upload-refresh.js swaps the server-rendered
// lists in afterwards (no page reload).
import { enqueue, messageRow, sendAndFollow, uploadRow } from "./upload-transfer.js";

const CONFIRM_ABOVE = 20; // dropping more files than this asks first (a whole folder by mistake)
const IGNORED_NAMES = new Set([".DS_Store", "Thumbs.db", "desktop.ini"]);
const TARGETS = "[data-dropzone], [data-version-drop]";

let started = false;

export function init(root) {
  if (started) return; // one set of document-wide listeners, however often init is called
  started = true;
  const doc = root.ownerDocument || root;
  // Capture phase: also sees drop events that a script dispatches without `bubbles`.
  doc.addEventListener("dragenter", onDragOver, true);
  doc.addEventListener("dragover", onDragOver, true);
  doc.addEventListener("dragleave", onDragLeave, true);
  doc.addEventListener("drop", onDrop, true);
  doc.addEventListener("dragend", () => highlight(null), true);
  doc.addEventListener("change", onInputChange);
  doc.addEventListener("submit", onSubmit);
  for (const zone of doc.querySelectorAll("[data-dropzone]")) enableKeyboard(zone);
}

// --- drag and drop ---------------------------------------------------------------------------

let highlighted = null;

function highlight(element) {
  if (highlighted === element) return;
  highlighted?.classList.remove("over");
  highlighted = element;
  highlighted?.classList.add("over");
}

function carriesFiles(event) {
  return Boolean(event.dataTransfer && Array.from(event.dataTransfer.types || []).includes("Files"));
}

function onDragOver(event) {
  if (!carriesFiles(event)) return;
  event.preventDefault(); // a file let go anywhere on the page must not replace the page
  const target = event.target.closest?.(TARGETS) || null;
  event.dataTransfer.dropEffect = target ? "copy" : "none";
  highlight(target);
}

function onDragLeave(event) {
  if (highlighted && !highlighted.contains(event.relatedTarget)) highlight(null);
}

function onDrop(event) {
  if (!event.dataTransfer) return;
  const target = event.target.closest?.(TARGETS) || null;
  if (!target && !carriesFiles(event)) return;
  event.preventDefault();
  highlight(null);
  if (!target) return;
  // Entries must be taken now: the DataTransfer is emptied when this handler returns.
  const collected = collectFiles(event.dataTransfer);
  const handle = target.matches("[data-version-drop]") ? versionDropped : uploadInto;
  collected.then((files) => handle(target, files)).catch((error) => {
    console.error("upload.js drop:", error);
    messageRow(target, "Die abgelegten Dateien konnten nicht gelesen werden.");
  });
}

// Files of a drop: folders are walked recursively via webkitGetAsEntry(); drops without entries
// (e.g. made by a script) fall back to dataTransfer.files. Returns [{file, path}].
function collectFiles(dataTransfer) {
  const items = Array.from(dataTransfer.items || []).filter((item) => item.kind === "file");
  const entries = items.map((item) => (item.webkitGetAsEntry ? item.webkitGetAsEntry() : null));
  if (!entries.some(Boolean)) {
    return Promise.resolve(Array.from(dataTransfer.files || []).map((file) => ({ file, path: file.name })));
  }
  const loose = items.map((item, i) => (entries[i] ? null : item.getAsFile())).filter(Boolean);
  return (async () => {
    const out = loose.map((file) => ({ file, path: file.name }));
    for (const entry of entries) if (entry) await walk(entry, out);
    return out;
  })();
}

async function walk(entry, out) {
  if (entry.name.startsWith(".") || IGNORED_NAMES.has(entry.name)) return;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ file, path: entry.fullPath.replace(/^\//, "") || file.name });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) { // readEntries answers in batches until it returns an empty one
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, out);
    }
  }
}

// --- file pickers and the no-JS forms ---------------------------------------------------------

function enableKeyboard(zone) {
  const input = zone.querySelector("input[type=file][data-upload-input]:not([webkitdirectory])")
    || zone.querySelector("input[type=file][data-upload-input]");
  if (!input) return; // a folder of the tree: drop only, its link keeps Enter
  if (!zone.hasAttribute("tabindex")) zone.tabIndex = 0;
  if (!zone.hasAttribute("aria-label")) {
    zone.setAttribute("aria-label", `Dateien hochladen nach ${zone.dataset.folder || "Ordner"}: Enter wählt Dateien`);
  }
  zone.addEventListener("keydown", (event) => {
    if (event.target !== zone || (event.key !== "Enter" && event.key !== " ")) return;
    event.preventDefault();
    input.click();
  });
  // With JS a file choice uploads at once, so the fallback form's submit button is not needed.
  if (zone.matches("form")) {
    for (const button of zone.querySelectorAll("button[type=submit], input[type=submit]")) button.hidden = true;
  }
}

function onInputChange(event) {
  const input = event.target;
  if (!input.matches?.("input[type=file][data-upload-input]")) return;
  const zone = input.closest("[data-dropzone]");
  if (!zone || !input.files?.length) return;
  const files = Array.from(input.files, (file) => ({ file, path: file.webkitRelativePath || file.name }));
  input.value = "";
  uploadInto(zone, files.filter(({ file }) => !IGNORED_NAMES.has(file.name) && !file.name.startsWith(".")));
}

function onSubmit(event) {
  const form = event.target;
  if (form.matches("[data-dropzone]")) {
    event.preventDefault();
    const files = [];
    for (const input of form.querySelectorAll("input[type=file]")) {
      files.push(...Array.from(input.files || [], (file) => ({ file, path: file.webkitRelativePath || file.name })));
      input.value = "";
    }
    uploadInto(form, files);
  } else if (form.matches("[data-version-form]")) {
    const input = form.querySelector("input[type=file]");
    const file = input?.files?.[0];
    if (!file) return; // the browser or the server tells that a file is missing
    event.preventDefault();
    const comment = form.querySelector("[name=comment]")?.value.trim() || "";
    const documentId = form.dataset.documentId || form.closest("[data-document-id]")?.dataset.documentId;
    if (!documentId) return;
    form.reset();
    enqueue(() => uploadVersion(documentId, file, comment, form));
  }
}

// --- new documents ----------------------------------------------------------------------------

function uploadInto(zone, files) {
  if (!files.length) return;
  const customer = zone.dataset.customer || zone.closest("[data-customer]")?.dataset.customer || "";
  const folder = zone.dataset.folder || "";
  if (files.length > CONFIRM_ABOVE
      && !window.confirm(`${files.length} Dateien nach „${folder || "Posteingang"}“ hochladen?`)) {
    return;
  }
  for (const { file, path } of files) {
    const row = uploadRow(zone, file, path);
    enqueue(async () => {
      const form = new FormData();
      form.append("file", file, file.name);
      if (customer) form.append("customer_number", customer);
      if (folder) form.append("folder", folder);
      form.append("source", "upload");
      await sendAndFollow("/api/v1/documents", form, row);
    });
  }
}

// --- new versions -----------------------------------------------------------------------------

let asking = false;

async function versionDropped(target, files) {
  const documentId = target.dataset.documentId || target.closest("[data-document-id]")?.dataset.documentId;
  if (!documentId || !files.length) return;
  if (files.length !== 1) {
    messageRow(target, "Bitte genau eine Datei als neue Version ablegen.");
    return;
  }
  if (asking) return; // the dialog is open for another drop
  const { file } = files[0];
  asking = true;
  try {
    const comment = await askComment(file.name, target.dataset.documentTitle || "");
    if (comment !== null) enqueue(() => uploadVersion(documentId, file, comment, target));
  } finally {
    asking = false;
  }
}

function uploadVersion(documentId, file, comment, near) {
  const row = uploadRow(near, file, file.name);
  const form = new FormData();
  form.append("file", file, file.name);
  if (comment) form.append("comment", comment);
  return sendAndFollow(`/api/v1/documents/${encodeURIComponent(documentId)}/versions`, form, row);
}

function versionDialog() {
  let dialog = document.getElementById("version-dialog");
  if (dialog) return dialog;
  dialog = document.createElement("dialog");
  dialog.id = "version-dialog";
  dialog.setAttribute("aria-labelledby", "version-dialog-title");
  const form = document.createElement("form");
  form.method = "dialog";
  form.className = "form";
  const title = document.createElement("h2");
  title.id = "version-dialog-title";
  title.textContent = "Neue Version hochladen";
  const fileLine = document.createElement("p");
  fileLine.id = "version-dialog-file";
  const label = document.createElement("label");
  label.htmlFor = "version-comment";
  label.textContent = "Kommentar";
  const input = document.createElement("input");
  input.id = "version-comment";
  input.name = "comment";
  input.maxLength = 2000;
  const buttons = document.createElement("div");
  buttons.className = "dialog-buttons";
  buttons.append(button("upload", "Version hochladen", "btn btn-primary"), button("cancel", "Abbrechen", "btn"));
  form.append(title, fileLine, label, input, buttons);
  dialog.append(form);
  document.body.append(dialog);
  return dialog;
}

function button(value, text, className) {
  const element = document.createElement("button");
  element.type = "submit";
  element.value = value;
  element.className = className;
  element.textContent = text;
  return element;
}

// The comment for a new version, or null when the dialog is cancelled (button or Escape).
function askComment(fileName, documentTitle) {
  const dialog = versionDialog();
  const fileLine = dialog.querySelector("#version-dialog-file");
  if (fileLine) {
    fileLine.textContent = documentTitle ? `Datei: ${fileName} → ${documentTitle}` : `Datei: ${fileName}`;
  }
  const input = dialog.querySelector("#version-comment, [name=comment]");
  if (input) input.value = "";
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "upload" ? (input?.value.trim() || "") : null);
    }, { once: true });
    dialog.showModal();
    input?.focus();
  });
}
