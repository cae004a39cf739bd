// The preview pane: PDF pages drawn by pdf.js (vendored by scripts/web-assets.sh) with a selectable
// text layer (the OCR text of a scan), images as <img>, the HTML rendition of an e-invoice in a
// sandboxed iframe. Markup:
//   <div class="preview" data-preview data-src="/api/v1/documents/<id>/preview?version=N"
//        data-type="pdf|image|html|none" data-download="…(optional)" data-alt="…(optional)"></div>
// Pages are fitted to the pane's width and drawn when they come near the visible area.

const VENDOR = new URL("../../vendor/pdfjs/", import.meta.url).href;
const PDFJS = `${VENDOR}pdf.min.mjs`;
const PDFJS_WORKER = `${VENDOR}pdf.worker.min.mjs`;
const MAX_PIXEL_RATIO = 2;
const MAX_SCALE = 3;

export function init(root) {
  for (const element of root.querySelectorAll("[data-preview]")) {
    if (element.dataset.previewReady) continue;
    element.dataset.previewReady = "1";
    element.classList.add("preview");
    show(element).catch((error) => {
      console.error("preview.js:", error);
      message(element, errorText(error), element.dataset.download);
    });
  }
}

async function show(element) {
  const src = element.dataset.src;
  const type = element.dataset.type || "none";
  if (!src || type === "none") {
    message(element, "Für dieses Format gibt es keine Vorschau.", element.dataset.download || src);
  } else if (type === "pdf") {
    await showPdf(element, src);
  } else if (type === "image") {
    showImage(element, src);
  } else if (type === "html") {
    showHtml(element, src);
  } else {
    message(element, "Für dieses Format gibt es keine Vorschau.", element.dataset.download || src);
  }
}

// A German message in the pane, with a download link when there is something to download.
function message(element, text, download) {
  const box = document.createElement("p");
  box.className = "preview-message";
  box.textContent = text;
  if (download) {
    const link = document.createElement("a");
    link.href = download;
    link.textContent = "Herunterladen";
    box.append(" ", link);
  }
  element.replaceChildren(box);
  element.removeAttribute("aria-busy");
}

function errorText(error) {
  switch (error?.name) {
    case "PasswordException":
      return "Das PDF ist mit einem Kennwort geschützt und kann hier nicht angezeigt werden.";
    case "InvalidPDFException":
      return "Die Datei ist kein lesbares PDF.";
    case "ResponseException":
      if (error.status === 404) return "Für dieses Dokument gibt es keine Vorschau.";
      if (error.status === 401) return "Sitzung abgelaufen: bitte neu anmelden.";
      if (error.status === 403) return "Keine Berechtigung für die Vorschau.";
      return "Die Vorschau konnte nicht geladen werden.";
    case "PdfJsMissing":
      return "Die PDF-Anzeige ist nicht eingerichtet (pdf.js fehlt).";
    default:
      return "Die Vorschau konnte nicht angezeigt werden.";
  }
}

function showImage(element, src) {
  const img = document.createElement("img");
  img.alt = element.dataset.alt || "Vorschau des Dokuments";
  img.decoding = "async";
  img.addEventListener("error", () => {
    message(element, "Das Bild konnte nicht geladen werden.", element.dataset.download);
  }, { once: true });
  img.src = src;
  element.replaceChildren(img);
}

function showHtml(element, src) {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", ""); // no scripts, no forms, no same-origin access
  frame.title = "Vorschau";
  frame.referrerPolicy = "no-referrer";
  frame.src = src;
  element.replaceChildren(frame);
}

// --- PDF --------------------------------------------------------------------------------------

async function loadPdfJs() {
  try {
    const pdfjs = await import(PDFJS);
    pdfjs.GlobalWorkerOptions.workerSrc = PDFJS_WORKER;
    return pdfjs;
  } catch (error) {
    console.error("preview.js: pdf.js", error);
    const missing = new Error("pdf.js is missing: bash scripts/web-assets.sh");
    missing.name = "PdfJsMissing";
    throw missing;
  }
}

async function showPdf(element, src) {
  message(element, "Vorschau wird geladen …");
  element.setAttribute("aria-busy", "true");
  const pdfjs = await loadPdfJs();
  const loading = pdfjs.getDocument({
    url: src,
    isEvalSupported: false, // no eval in the worker (pdf.js 6 no longer has it; kept as a guard)
    enableXfa: false,
    standardFontDataUrl: `${VENDOR}standard_fonts/`,
    wasmUrl: `${VENDOR}wasm/`,
    iccUrl: `${VENDOR}iccs/`,
  });
  const pdf = await loading.promise;
  const first = await pdf.getPage(1);

  const info = document.createElement("p");
  info.className = "preview-info";
  info.textContent = pdf.numPages === 1 ? "1 Seite" : `${pdf.numPages} Seiten`;
  const pages = document.createElement("div");
  pages.className = "preview-pages";
  element.replaceChildren(info, pages);
  element.removeAttribute("aria-busy");

  const viewer = { pdfjs, pdf, loading, element, pages, width: availableWidth(element, pages), views: [] };
  const size = first.getViewport({ scale: 1 });
  for (let number = 1; number <= pdf.numPages; number += 1) {
    viewer.views.push(pagePlaceholder(viewer, number, size));
  }
  viewer.observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      viewer.observer.unobserve(entry.target);
      const view = viewer.views[Number(entry.target.dataset.page) - 1];
      drawPage(viewer, view).catch((error) => {
        if (error?.name === "RenderingCancelledException") return;
        console.error(`preview.js: Seite ${view.number}`, error);
        view.div.dataset.error = "1";
        const note = document.createElement("p");
        note.className = "preview-message";
        note.textContent = `Seite ${view.number} konnte nicht angezeigt werden.`;
        view.div.append(note);
      });
    }
  }, { root: scrollRoot(element), rootMargin: "50% 0px" });
  for (const view of viewer.views) viewer.observer.observe(view.div);
  watchWidth(viewer);
}

function availableWidth(element, pages) {
  return pages.clientWidth || element.clientWidth || 600;
}

// The pane scrolls itself when its height is bounded; otherwise the page does.
function scrollRoot(element) {
  const style = getComputedStyle(element);
  const scrolls = ["auto", "scroll"].includes(style.overflowY) && style.maxHeight !== "none";
  return scrolls ? element : null;
}

function fitScale(viewer, unscaled) {
  return Math.min(MAX_SCALE, Math.max(0.1, viewer.width / unscaled.width));
}

// A page of the first page's size until it is drawn: the scroll height is right from the start.
function pagePlaceholder(viewer, number, unscaled) {
  const div = document.createElement("div");
  div.className = "page";
  div.dataset.page = String(number);
  div.setAttribute("role", "group");
  div.setAttribute("aria-label", `Seite ${number} von ${viewer.pdf.numPages}`);
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-hidden", "true");
  const text = document.createElement("div");
  text.className = "textLayer";
  div.append(canvas, text);
  viewer.pages.append(div);
  const view = { number, div, canvas, text, unscaled, page: null, drawnScale: 0, task: null, textDone: false, turn: 0 };
  sizePage(view, fitScale(viewer, unscaled));
  return view;
}

function sizePage(view, scale) {
  const width = Math.floor(view.unscaled.width * scale);
  const height = Math.floor(view.unscaled.height * scale);
  const { style } = view.div;
  style.width = `${width}px`;
  style.height = `${height}px`;
  style.setProperty("--scale-factor", String(scale));
  style.setProperty("--user-unit", String(view.unscaled.userUnit || 1));
  view.canvas.style.width = `${width}px`;
  view.canvas.style.height = `${height}px`;
}

async function drawPage(viewer, view) {
  const turn = ++view.turn; // a later call (after a resize) supersedes this one
  if (!view.page) {
    view.page = await viewer.pdf.getPage(view.number);
    view.unscaled = view.page.getViewport({ scale: 1 });
  }
  const scale = fitScale(viewer, view.unscaled);
  if (view.drawnScale === scale || turn !== view.turn) return;
  view.task?.cancel();
  sizePage(view, scale);
  const viewport = view.page.getViewport({ scale });
  const ratio = Math.min(window.devicePixelRatio || 1, MAX_PIXEL_RATIO);
  // Draw into a fresh canvas and swap it in when done: no blank page while re-drawing.
  const canvas = document.createElement("canvas");
  canvas.setAttribute("aria-hidden", "true");
  canvas.width = Math.floor(viewport.width * ratio);
  canvas.height = Math.floor(viewport.height * ratio);
  canvas.style.width = view.canvas.style.width;
  canvas.style.height = view.canvas.style.height;
  view.task = view.page.render({
    canvas,
    canvasContext: canvas.getContext("2d"),
    viewport,
    transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
  });
  await view.task.promise;
  if (turn !== view.turn) return;
  view.task = null;
  view.canvas.replaceWith(canvas);
  view.canvas = canvas;
  view.drawnScale = scale;
  view.div.dataset.rendered = "1";
  if (!view.textDone) {
    view.textDone = true;
    // Positions are percentages and font sizes follow --scale-factor: drawn once, it fits every width.
    const layer = new viewer.pdfjs.TextLayer({
      textContentSource: view.page.streamTextContent({ includeMarkedContent: true, disableNormalization: true }),
      container: view.text,
      viewport,
    });
    await layer.render();
    const end = document.createElement("div");
    end.className = "endOfContent";
    view.text.append(end);
  }
}

// Re-fit the pages when the pane's width changes (window resized, layout switched).
function watchWidth(viewer) {
  let timer = null;
  const observer = new ResizeObserver(() => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      const width = availableWidth(viewer.element, viewer.pages);
      if (!viewer.pages.isConnected) {
        observer.disconnect();
        viewer.observer.disconnect();
        viewer.loading.destroy(); // the pane was replaced: free the worker
        return;
      }
      if (Math.abs(width - viewer.width) < 4) return;
      viewer.width = width;
      for (const view of viewer.views) {
        sizePage(view, fitScale(viewer, view.unscaled));
        if (view.page) viewer.observer.observe(view.div); // re-draw sharp when visible again
      }
    }, 200);
  });
  observer.observe(viewer.pages);
}
