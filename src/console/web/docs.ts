/** The API reference at /docs: Swagger UI (served from the supervisor) rendering /openapi.json. */
declare const SwaggerUIBundle: (options: Record<string, unknown>) => unknown;

SwaggerUIBundle({
  url: '/openapi.json',
  dom_id: '#swagger-ui',
  // No call to the public validator service: nothing leaves the origin.
  validatorUrl: null,
  deepLinking: true,
});
