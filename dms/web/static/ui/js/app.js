// Progressive enhancement: each feature module is loaded only when its element is on the page.

function confirmForms() {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// A thumbnail the server cannot draw (404 no_thumbnail) becomes a neutral placeholder box.
function thumbnailFallback() {
  document.addEventListener("error", (event) => {
    const image = event.target;
    if (image instanceof HTMLImageElement && image.classList.contains("thumb")) {
      image.classList.add("thumb-missing");
      image.removeAttribute("src");
    }
  }, true);
}

async function start() {
  confirmForms();
  const features = [
    ["[data-preview]", "./preview.js"],
    ["[data-dropzone], [data-version-drop]", "./upload.js"],
    ["[data-customer-search]", "./customer-search.js"],
    ["[data-select-all]", "./bulk.js"],
  ];
  for (const [selector, module] of features) {
    if (document.querySelector(selector)) {
      try {
        const feature = await import(module);
        feature.init(document);
      } catch (error) {
        console.error(`${module}:`, error);
      }
    }
  }
}

thumbnailFallback(); // at once: images may fail before DOMContentLoaded

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
