// node build.mjs 18|19 <outfile>: bundle app.js with that React version (react18/ or react19/).
import { build } from "esbuild";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const [major, outfile] = process.argv.slice(2);
await build({
  entryPoints: [path.join(here, "app.js")],
  bundle: true,
  format: "esm",
  outfile,
  nodePaths: [path.join(here, `react${major}`, "node_modules")],
  define: { "process.env.NODE_ENV": '"development"' },
  logLevel: "warning",
});
