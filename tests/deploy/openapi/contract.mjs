// The API description against the gateway:
//   node contract.mjs proto/openapi.yaml deploy/gateway/gateway.json [https://gateway API_KEY]
// Statically: every route of the gateway's configuration is described (a prefix route by at
// least one path under it), and every described operation is routed, with its method. Live
// (with a URL): every described operation answers through the gateway with something other
// than 404 or 405, with no credentials and with an API key. Prints one line per problem.
import { readFileSync } from "node:fs";
import { parse } from "yaml";

const [docPath, configPath, base, apiKey] = process.argv.slice(2);
const doc = parse(readFileSync(docPath, "utf8"));
const config = JSON.parse(readFileSync(configPath, "utf8"));
// Routed, not built yet: the issue that builds it documents it.
const NOT_YET = new Map([["/jobs/", "issue 11 (jobs)"]]);
const problems = [];
const operations = [];
for (const [path, item] of Object.entries(doc.paths))
  for (const method of ["get", "post", "put", "patch", "delete"])
    if (item[method]) {
      // A path parameter takes its first enumerated value, else 1.
      const params = [...(item.parameters ?? []), ...(item[method].parameters ?? [])].filter((p) => p.in === "path");
      const target = path.replace(/\{([^}]+)\}/g, (_, name) => params.find((p) => p.name === name)?.schema?.enum?.[0] ?? "1");
      operations.push({ path, method: method.toUpperCase(), target });
    }

const matches = (route, path) =>
  route.prefix.endsWith("/") ? path.startsWith(route.prefix) || path === route.prefix.slice(0, -1) : path === route.prefix;
// The gateway's order: the first matching route decides.
const routeOf = (path) => config.routes.find((r) => matches(r, path));

for (const route of config.routes) {
  if (NOT_YET.has(route.prefix)) continue;
  if (!operations.some((op) => matches(route, op.path) && routeOf(op.path) === route))
    problems.push(`route ${route.prefix} (${route.methods.join(",")}) is not described`);
}
for (const op of operations) {
  const route = routeOf(op.path);
  if (!route) problems.push(`${op.method} ${op.path} is described but not routed`);
  else if (!route.methods.includes(op.method) && !(op.method === "HEAD" && route.methods.includes("GET")))
    problems.push(`${op.method} ${op.path} is described but its route allows ${route.methods.join(",")}`);
}

if (base) {
  for (const op of operations) {
    const target = op.target;
    for (const headers of [{}, { "X-API-Key": apiKey }]) {
      const init = { method: op.method, headers: { ...headers } };
      if (op.method !== "GET" && op.method !== "DELETE") {
        init.headers["Content-Type"] = "application/json";
        init.body = "{}";
      }
      let status;
      try {
        status = (await fetch(base + target, init)).status;
      } catch (e) {
        problems.push(`${op.method} ${target}: ${e.cause?.code ?? e.message}`);
        continue;
      }
      if (status === 404 || status === 405)
        problems.push(`${op.method} ${target} ${headers["X-API-Key"] ? "with a key" : "anonymous"}: ${status}`);
    }
  }
}
for (const p of problems) console.log(p);
console.log(`${operations.length} operations, ${config.routes.length} routes${base ? ", live" : ""}: ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
