// Renders /api/v1/openapi.json with Swagger UI (vendored by scripts/web-assets.sh, served from
// /static/swagger-ui/). No request leaves this origin: no validator badge, no CDN, no fonts.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.body.dataset.spec,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    tryItOutEnabled: false,
    persistAuthorization: false,
  });
});
