// As-you-type customer search: the list form (`[data-customer-search]` on the form or on its text input)
// asks the server for the results only (`partial=1`) and swaps them into #customer-results; the address
// bar follows, so reload, back and sharing the link show the same list.

const DEBOUNCE_MS = 200;

export function init(root) {
  for (const marked of root.querySelectorAll("[data-customer-search]")) {
    const form = marked.matches("form") ? marked : marked.form;
    if (!form || form.dataset.customerSearchReady) continue;
    form.dataset.customerSearchReady = "1";
    enhance(form);
  }
}

function enhance(form) {
  const results = document.getElementById("customer-results");
  if (!results) return;
  let timer = null;
  let running = null;

  async function update() {
    running?.abort(); // an older answer must not overwrite a newer one
    const controller = new AbortController();
    running = controller;
    const url = new URL(form.action || window.location.href, window.location.href);
    const params = new URLSearchParams();
    for (const [name, value] of new FormData(form)) {
      if (typeof value === "string" && value.trim() !== "" && name !== "csrf_token") params.append(name, value);
    }
    url.search = params.toString(); // a changed query starts again on page 1 (no `seite`)
    const shown = url.href;
    url.searchParams.set("partial", "1");
    results.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(url, {
        credentials: "same-origin", headers: { Accept: "text/html" }, signal: controller.signal,
      });
      const html = await response.text();
      if (response.redirected && new URL(response.url).pathname === "/login") {
        window.location.assign(response.url); // the session ended: log in again
        return;
      }
      results.innerHTML = html; // server-rendered, escaped by Jinja (also an error_partial on 4xx)
      if (response.ok) window.history.replaceState(window.history.state, "", shown);
    } catch (error) {
      if (error.name !== "AbortError") console.error("customer-search.js:", error);
    } finally {
      if (running === controller) {
        running = null;
        results.removeAttribute("aria-busy");
      }
    }
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(update, DEBOUNCE_MS);
  }

  form.addEventListener("input", (event) => {
    if (event.target.matches("input[type=search], input[type=text], input:not([type])")) soon();
  });
  form.addEventListener("change", (event) => {
    if (event.target.matches("select, input[type=checkbox], input[type=radio]")) soon();
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    update();
  });
}
