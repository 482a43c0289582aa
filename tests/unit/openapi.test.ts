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
