// The reference backend's canonical JSON (JavaScript), and JSON.stringify,
// applied to each line of a file of JSON texts. Output: one line per input,
// "<canonical>\t<JSON.stringify>". Neither output can hold a raw tab or
// newline: both escape them.
import { readFileSync } from "node:fs";

function canonicalJSON(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "number") return Number.isFinite(value) ? JSON.stringify(value) : "null";
  if (typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (Array.isArray(value)) return "[" + value.map(canonicalJSON).join(",") + "]";
  const keys = Object.keys(value).sort();
  return "{" + keys.map((k) => JSON.stringify(k) + ":" + canonicalJSON(value[k])).join(",") + "}";
}

const lines = readFileSync(process.argv[2], "utf8").split("\n").filter((l) => l.length > 0);
const out = [];
for (const line of lines) {
  const v = JSON.parse(line);
  out.push(canonicalJSON(v) + "\t" + JSON.stringify(v));
}
process.stdout.write(out.join("\n") + "\n");
