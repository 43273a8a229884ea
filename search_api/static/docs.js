"use strict";
// Starts Swagger UI on /openapi.json. A file of its own, not an inline script,
// so /docs keeps the strict Content Security Policy.
document.addEventListener("DOMContentLoaded", () => {
  window.SwaggerUIBundle({
    url: "/openapi.json", dom_id: "#swagger-ui", validatorUrl: null,
    deepLinking: true, persistAuthorization: false,
  });
});
