// After a receipt or a status change the elements with the ids in SWAP_IDS are re-fetched from the
// server (the table's data-partial-url, else this page) and swapped in: no page reload.

const SWAP_IDS = ["documents", "folder-tree", "versions", "document-status"];

let refreshTimer = null;
let refreshing = null;
let refreshAgain = false;

export function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = refresh().catch((error) => console.error("upload.js refresh:", error)).finally(() => {
      refreshing = null;
      if (refreshAgain) {
        refreshAgain = false;
        refreshSoon();
      }
    });
  }, 300);
}

async function refresh() {
  const present = SWAP_IDS.map((id) => document.getElementById(id)).filter(Boolean);
  if (!present.length) return;
  const table = document.getElementById("documents");
  const url = table?.dataset.partialUrl || window.location.href;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  swapPreview(fresh);
  for (const old of present) {
    const replacement = fresh.getElementById(old.id);
    if (!replacement) continue;
    const focused = old.contains(document.activeElement) ? focusKey(document.activeElement) : null;
    old.replaceWith(document.importNode(replacement, true));
    if (focused) restoreFocus(focused);
  }
}

// The document page shows the newest version: after a new version the preview follows (only then).
function swapPreview(fresh) {
  const old = document.getElementById("preview");
  const replacement = fresh.getElementById("preview");
  if (!old || !replacement) return;
  if (old.dataset.src === replacement.dataset.src && old.dataset.type === replacement.dataset.type) return;
  const element = document.importNode(replacement, true);
  old.replaceWith(element);
  import("./preview.js").then((preview) => preview.init(element.parentElement || document));
}

function focusKey(element) {
  if (element.id) return `#${CSS.escape(element.id)}`;
  const href = element.getAttribute("href");
  return href ? `a[href="${CSS.escape(href)}"]` : null;
}

function restoreFocus(selector) {
  document.querySelector(selector)?.focus();
}
