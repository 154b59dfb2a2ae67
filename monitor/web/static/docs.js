// Swagger UI from files this server ships (no CDN), started from a file rather than an inline
// script so that the page's Content-Security-Policy can forbid inline scripts.
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  layout: "BaseLayout",
});
