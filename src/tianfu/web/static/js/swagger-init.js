// Starts Swagger UI on /docs with the node's own OpenAPI document (no inline script).
const el = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({ url: el.dataset.openapi, dom_id: "#swagger-ui", deepLinking: true });
