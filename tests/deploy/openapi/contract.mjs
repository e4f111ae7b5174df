// The API description against the gateway:
//   node contract.mjs proto/openapi.yaml deploy/gateway/gateway.json [https://gateway API_KEY ADMIN ADMIN_PASSWORD]
// Statically: every route of the gateway's configuration is described (a prefix route by at
// least one path under it), and every described operation is routed, with its method. Live
// (with a URL): every described operation answers through the gateway with something other
// than 404 or 405, with no credentials, with an API key, and (GETs) as the admin with a key;
// then a session of real requests (login, refresh, /process, /api/test, an API key made and
// revoked, the admin's own user). Every one of those answers must be described: its status
// is one the operation lists, and its JSON body matches that response's schema
// (responses.mjs). Prints one line per problem.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ResponseChecker } from "./responses.mjs";

const [docPath, configPath, base, apiKey, adminName, adminPassword] = process.argv.slice(2);
const doc = parse(readFileSync(docPath, "utf8"));
const config = JSON.parse(readFileSync(configPath, "utf8"));
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
  if (!operations.some((op) => matches(route, op.path) && routeOf(op.path) === route))
    problems.push(`route ${route.prefix} (${route.methods.join(",")}) is not described`);
}
for (const op of operations) {
  const route = routeOf(op.path);
  if (!route) problems.push(`${op.method} ${op.path} is described but not routed`);
  else if (!route.methods.includes(op.method) && !(op.method === "HEAD" && route.methods.includes("GET")))
    problems.push(`${op.method} ${op.path} is described but its route allows ${route.methods.join(",")}`);
}

// The checker itself: answers that break the description are caught.
{
  const checker = new ResponseChecker(doc);
  const json = "application/json";
  const wrong = [
    ["/health", "GET", 200, json, '{"status": 3}'],
    ["/health", "GET", 418, json, "{}"],
    ["/auth/login", "POST", 401, json, '{"error": {"code": "UNAUTHORIZED"}}'],
    ["/auth/login", "POST", 200, "text/html", "<p>"],
    ["/users/me", "GET", 200, json, "{"],
  ];
  for (const w of wrong)
    if (checker.check(...w).length === 0) problems.push(`the checker passed ${w[1]} ${w[0]} ${w[2]} ${w[4]}`);
}

let answers = 0;
if (base) {
  const checker = new ResponseChecker(doc);
  // call: one request, its answer checked against the description of `op` (its path template).
  const call = async (op, target, who, headers = {}, body) => {
    const init = { method: op.method, headers: { ...headers }, redirect: "manual" };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.body = typeof body === "string" ? body : JSON.stringify(body);
    }
    let res, text;
    try {
      res = await fetch(base + target, init);
      text = await res.text();
    } catch (e) {
      problems.push(`${op.method} ${target} ${who}: ${e.cause?.code ?? e.message}`);
      return { status: 0 };
    }
    answers++;
    let json;
    try { json = JSON.parse(text); } catch { json = undefined; }
    // A plain NOT_FOUND is the router's "no such route"; a described domain 404 (JOB_NOT_FOUND
    // for an id that is not there) is an answer like any other.
    if (res.status === 404 && !op.allow404 && (json?.error?.code ?? "NOT_FOUND") === "NOT_FOUND")
      problems.push(`${op.method} ${target} ${who}: 404`);
    if (res.status === 405) problems.push(`${op.method} ${target} ${who}: 405`);
    for (const p of checker.check(op.path, op.method, res.status, res.headers.get("content-type"), text))
      problems.push(`${op.method} ${target} ${who}: ${p}`);
    return { status: res.status, json, headers: res.headers };
  };
  const opOf = (method, path) => operations.find((o) => o.method === method && o.path === path) ??
    (problems.push(`${method} ${path}: not described`), { method, path, target: path });

  const key = { "X-API-Key": apiKey };
  const login = await call(opOf("POST", "/auth/login"), "/auth/login", "as the admin", {},
    { username: adminName, password: adminPassword });
  const token = login.json?.access_token;
  if (!token) problems.push(`POST /auth/login as the admin: no access token (${login.status})`);
  const admin = { ...key, Authorization: `Bearer ${token}` };
  const me = await call(opOf("GET", "/users/me"), "/users/me", "as the admin", admin);
  const ids = { id: me.json?.id ?? "1" };

  for (const op of operations) {
    const body = op.method !== "GET" && op.method !== "DELETE" ? "{}" : undefined;
    await call(op, op.target, "anonymous", {}, body);
    await call(op, op.target, "with a key", key, body);
    // As the admin, only what reads: a write with an empty body changes nothing either, but
    // some (logout-all, rotate) act without a body.
    if (op.method === "GET") {
      const target = op.path.replace(/\{([^}]+)\}/g, (m, name) => (name in ids ? ids[name] : op.target.split("/").at(-1)));
      await call(op, target, "as the admin", admin);
    }
  }

  // A session of real requests, each answer checked against the description.
  await call(opOf("POST", "/auth/refresh"), "/auth/refresh", "with the refresh token", {},
    { refresh_token: login.json?.refresh_token });
  await call(opOf("POST", "/process"), "/process", "as the admin", admin,
    { dataset_id: "contract", action: "summarize", payload: { rows: [1, 2, 3] } });
  await call(opOf("POST", "/process"), "/process", "forced failure", admin,
    { dataset_id: "contract", action: "summarize", payload: { force_fail: true } });
  await call(opOf("POST", "/process"), "/process", "a body that is not JSON", admin, "{");
  await call(opOf("POST", "/api/test"), "/api/test", "with a key", key, { test_name: "contract", iterations: 2 });
  const made = await call(opOf("POST", "/api-keys"), "/api-keys", "as the admin", admin, { name: "contract" });
  if (made.status !== 201) problems.push(`POST /api-keys as the admin: ${made.status}, expected 201`);
  await call(opOf("GET", "/api-keys"), "/api-keys", "as the admin", admin);
  if (made.json?.id)
    await call(opOf("DELETE", "/api-keys/{id}"), `/api-keys/${made.json.id}`, "as the admin", admin);
  await call(opOf("GET", "/users/{id}"), `/users/${ids.id}`, "as the admin", admin);
  await call({ ...opOf("GET", "/users/{id}"), allow404: true }, "/users/00000000-0000-4000-8000-000000000000", "unknown user", admin);
  await call(opOf("GET", "/audit/requests"), "/audit/requests?limit=5", "as the admin", admin);
  await call(opOf("GET", "/audit/requests"), "/audit/requests?limit=0", "a limit out of range", admin);
  await call(opOf("GET", "/security/events"), "/security/events?hours=1", "as the admin", admin);
  // Seed 003's jobs: queued, then read until a worker has run it, then not cancellable.
  const job = await call(opOf("POST", "/jobs"), "/jobs", "with a key", key,
    { dataset_id: "contract", action: "count", payload: { items: [1, 2] } });
  if (job.status !== 202 || job.headers?.get("location") !== `/jobs/${job.json?.job_id}`)
    problems.push(`POST /jobs with a key: ${job.status}, Location ${job.headers?.get("location")}`);
  let state;
  for (let i = 0; i < 50 && job.json?.job_id; i++) {
    state = await call(opOf("GET", "/jobs/{id}"), `/jobs/${job.json.job_id}`, "its owner", key);
    if (state.json?.status === "completed") break;
    await new Promise((r) => setTimeout(r, 100));
  }
  if (state?.json?.status !== "completed") problems.push(`GET /jobs/{id}: never completed (${state?.json?.status})`);
  const late = await call(opOf("DELETE", "/jobs/{id}"), `/jobs/${job.json?.job_id}`, "once finished", key);
  if (late.status !== 409) problems.push(`DELETE /jobs/{id} once finished: ${late.status}, expected 409`);
  await call(opOf("POST", "/jobs"), "/jobs", "an invalid body", key, { action: 5 });
}
for (const p of problems) console.log(p);
console.log(`${operations.length} operations, ${config.routes.length} routes${base ? `, ${answers} live answers checked against their schemas` : ""}: ${problems.length} problems`);
process.exit(problems.length ? 1 : 0);
