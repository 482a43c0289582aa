// Every API route is documented in the OpenAPI description, and nothing documented is missing.
import { expect, test } from "bun:test";
import { apiRoutes } from "../../src/web/api/index.ts";
import { openApiDocument } from "../../src/web/api/openapi.ts";

test("the OpenAPI document lists exactly the routes the API serves", () => {
  const served = apiRoutes({} as any)
    .routes.map((r: { method: string; path: string }) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, "{$1}")}`)
    .sort();
  const doc = openApiDocument();
  const documented = Object.entries(doc.paths)
    .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
    .sort();
  expect(documented).toEqual(served);
});

test("bodies the routes accept left out are documented as optional; paged routes list their cursor", () => {
  const doc = openApiDocument() as any;
  for (const d of ["approve", "deny", "escalate"]) expect(doc.paths[`/api/v1/review-queue/{id}/${d}`].post.requestBody.required).toBe(false);
  expect(doc.paths["/api/v1/streams"].post.requestBody.required).toBe(true);
  const queryOf = (path: string) => doc.paths[path].get.parameters.filter((p: any) => p.in === "query").map((p: any) => p.name);
  for (const path of ["/api/v1/streams", "/api/v1/streams/{slug}/chat", "/api/v1/streams/{slug}/audit", "/api/v1/streams/{slug}/polls", "/api/v1/accounts"]) expect(queryOf(path)).toContain("cursor");
});
