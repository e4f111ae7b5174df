// What the description promises about an answer: its status is one the operation lists, and
// a JSON body matches that response's schema. OpenAPI 3.0's schema dialect is turned into JSON
// Schema (draft 2019-09 in Ajv) once: `nullable: true` adds "null" to the type, and references
// into the document point at it under the id "openapi".
import Ajv from "ajv/dist/2019.js";
import addFormats from "ajv-formats";

const DOC_ID = "openapi";

// A deep copy with 3.0's extensions rewritten as JSON Schema.
function toJsonSchema(node) {
  if (Array.isArray(node)) return node.map(toJsonSchema);
  if (node === null || typeof node !== "object") return node;
  const out = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === "nullable" || k === "example" || k === "discriminator" || k === "xml" || k === "externalDocs") continue;
    if (k === "$ref" && typeof v === "string" && v.startsWith("#/")) out.$ref = `${DOC_ID}${v}`;
    else out[k] = toJsonSchema(v);
  }
  if (node.nullable === true) {
    if (typeof out.type === "string") out.type = [out.type, "null"];
    else if (out.enum) out.enum = [...out.enum, null];
    else if (out.$ref || out.allOf || out.oneOf || out.anyOf) return { anyOf: [out, { type: "null" }] };
  }
  return out;
}

export class ResponseChecker {
  constructor(doc) {
    this.doc = doc;
    // Not strict: the description carries annotation keywords (description, format names of
    // ours) that JSON Schema ignores.
    this.ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: DOC_ID, components: toJsonSchema(doc.components ?? {}) });
    this.compiled = new Map();
  }

  resolve(obj) {
    let o = obj;
    for (let i = 0; o?.$ref && i < 10; i++)
      o = o.$ref.slice(2).split("/").map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~")).reduce((a, s) => a?.[s], this.doc);
    return o;
  }

  // check(path, method, status, contentType, body): a list of problems, empty when the answer
  // is the one described.
  check(path, method, status, contentType, bodyText) {
    const op = this.doc.paths[path]?.[method.toLowerCase()];
    if (!op) return [`not described`];
    const responses = op.responses ?? {};
    const described = responses[String(status)] ?? responses[`${String(status)[0]}XX`] ?? responses.default;
    if (!described) return [`status ${status} is not described (described: ${Object.keys(responses).join(", ")})`];
    const response = this.resolve(described);
    const media = Object.keys(response.content ?? {});
    if (media.length === 0) return bodyText.length === 0 ? [] : [`status ${status}: a body, described as none`];
    const type = (contentType ?? "").split(";")[0].trim();
    if (!media.includes(type) && !media.some((m) => m.endsWith("/*") && type.startsWith(m.slice(0, -1))))
      return [`status ${status}: content type ${type || "(none)"}, described ${media.join(", ")}`];
    if (type !== "application/json") return [];
    const schema = response.content[type].schema;
    if (!schema) return [];
    let body;
    try {
      body = JSON.parse(bodyText);
    } catch {
      return [`status ${status}: the body is not JSON`];
    }
    const key = `${method} ${path} ${status}`;
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(toJsonSchema(schema));
      this.compiled.set(key, validate);
    }
    if (validate(body)) return [];
    return validate.errors.slice(0, 5).map((e) => `status ${status}: body${e.instancePath} ${e.message}${e.params?.additionalProperty ? ` (${e.params.additionalProperty})` : ""}`);
  }
}
