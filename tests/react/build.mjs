// node build.mjs <app dir> <outfile>: bundle <app dir>/app.tsx as a user's app would be, resolving
// react and @realtime-server/react from that app's own node_modules (an app outside this repository).
import { build } from "esbuild";
import path from "node:path";

const [appDir, outfile] = process.argv.slice(2);
await build({
  entryPoints: [path.join(appDir, "app.tsx")],
  absWorkingDir: appDir,
  bundle: true,
  format: "esm",
  jsx: "automatic",
  outfile,
  define: { "process.env.NODE_ENV": '"development"' },
  logLevel: "warning",
});
