// Calls of the JSON API from the browser: the session cookie authenticates, the CSRF token of the
// page goes along with every request that changes something.

export function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export async function apiFetch(url, options = {}) {
  const headers = new Headers(options.headers || {});
  headers.set("X-CSRF-Token", csrfToken());
  if (!headers.has("Accept")) headers.set("Accept", "application/json");
  const response = await fetch(url, { credentials: "same-origin", ...options, headers });
  if (!response.ok) {
    let message = `Fehler ${response.status}`;
    let code = "";
    try {
      const body = await response.json();
      if (body && body.error) {
        message = body.error.message || message;
        code = body.error.code || "";
      }
    } catch (_) { /* not JSON */ }
    if (response.status === 401) message = "Sitzung abgelaufen: bitte neu anmelden.";
    throw new ApiError(message, response.status, code);
  }
  return response;
}

export async function apiJson(url, options = {}) {
  const response = await apiFetch(url, options);
  return response.json();
}
