// Starts Swagger UI on the gateway's own description (GET /openapi.json). A file of its own:
// the page's Content-Security-Policy allows no inline script.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  tryItOutEnabled: false,
  validatorUrl: null,
});
