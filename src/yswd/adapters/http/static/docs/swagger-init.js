// Starts Swagger UI on /docs. A file of its own, not an inline script, so that the
// pages' Content-Security-Policy needs no 'unsafe-inline'.
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.getElementById("swagger-ui").dataset.openapiUrl,
    dom_id: "#swagger-ui",
    layout: "BaseLayout",
    deepLinking: true,
    displayOperationId: true, // the short ids a generated client names its functions by
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
  });
});
