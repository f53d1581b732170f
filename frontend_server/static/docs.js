// The API explorer: Swagger UI (served from /docs/assets, no CDN) on /api/v2/openapi.json.
// "Try it out" requests carry the XSRF token, fetched once from /api/v2/csrf.
"use strict";

let xsrfToken = null;

async function token() {
  if (!xsrfToken) {
    const reply = await fetch("/api/v2/csrf", { credentials: "same-origin" });
    xsrfToken = (await reply.json()).csrf_token;
  }
  return xsrfToken;
}

document.addEventListener("DOMContentLoaded", () => {
  window.ui = SwaggerUIBundle({
    url: "/api/v2/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    defaultModelsExpandDepth: 0,
    tryItOutEnabled: false,
    requestInterceptor: async (request) => {
      if (request.method && request.method.toUpperCase() !== "GET") {
        request.headers["X-XSRFToken"] = await token();
      }
      request.credentials = "same-origin";
      return request;
    },
  });
});
