// node deploy/docs/build.mjs OUT: the files of GET /docs and GET /openapi.json, into OUT:
// our page and initializer, Swagger UI's bundle and stylesheet (npm swagger-ui-dist, with its
// license), and proto/openapi.yaml as JSON.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const here = dirname(fileURLToPath(import.meta.url));
const out = process.argv[2];
if (!out) throw new Error("usage: build.mjs OUT");
mkdirSync(out, { recursive: true });
const dist = join(here, "node_modules", "swagger-ui-dist");
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"]) copyFileSync(join(dist, f), join(out, f === "LICENSE" ? "swagger-ui.LICENSE" : f));
for (const f of ["index.html", "docs.js"]) copyFileSync(join(here, f), join(out, f));
const doc = parse(readFileSync(join(here, "..", "..", "proto", "openapi.yaml"), "utf8"));
writeFileSync(join(out, "openapi.json"), JSON.stringify(doc));
console.log(`docs: ${out}`);
