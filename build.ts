/** Builds dist/s3d: one self-contained executable (Bun runtime + s3d), no node_modules needed. */
import { mkdirSync } from "node:fs";

const target = process.env.S3D_BUILD_TARGET; // e.g. bun-linux-arm64 for edge boxes
mkdirSync("dist", { recursive: true });
const result = await Bun.build({
  entrypoints: ["./src/main.ts"],
  compile: target ? { target: target as never, outfile: "dist/s3d" } : { outfile: "dist/s3d" },
  minify: true,
  sourcemap: "linked",
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}
console.log(`built dist/s3d${target ? ` for ${target}` : ""}`);
