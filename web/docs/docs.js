// Swagger UI on MoleTok's own OpenAPI document (same origin, so "Try it out" calls this server).
window.ui = SwaggerUIBundle({
	url: "/openapi.json",
	dom_id: "#swagger-ui",
	presets: [SwaggerUIBundle.presets.apis],
	layout: "BaseLayout",
	deepLinking: true,
	docExpansion: "list",
	defaultModelsExpandDepth: 0,
	displayRequestDuration: true,
	tryItOutEnabled: false
});
