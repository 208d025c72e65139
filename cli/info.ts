/** `sg3 info`: the WebGPU adapter, its features and the limits that matter, and whether f16 is usable. */
import { Gpu } from "../gpu/device.ts";
import { GPU_OPTS, JSON_OPT } from "./common_options.ts";
import { parseOptions, usage } from "./options.ts";

/** The options of `sg3 info`, declared once. */
export const OPTIONS = { adapter: GPU_OPTS.adapter, ...JSON_OPT };

/** Usage text of `sg3 info`. */
export const USAGE = usage(
  "sg3 info [--adapter NAME] [--json]",
  "  Prints the WebGPU adapter sg3 would use: name, vendor, features, limits, f16 support.",
  OPTIONS,
);

/** Runs `sg3 info`; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values } = parseOptions(args, OPTIONS);
  const gpu = await Gpu.open({ adapter: values.adapter });
  const s = gpu.summary;
  const report = { ...s, f16: gpu.f16, deno: Deno.version.deno };
  gpu.destroy();
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return 0;
  }
  console.log(`adapter       ${s.description}${s.isFallback ? " (software fallback)" : ""}`);
  console.log(
    `vendor        ${s.vendor || "-"}  architecture ${s.architecture || "-"}  device ${s.device || "-"}`,
  );
  console.log(`shader-f16    ${gpu.f16 ? "yes (--fp16 available)" : "no"}`);
  console.log(`features      ${s.features.join(", ")}`);
  for (const [k, v] of Object.entries(s.limits)) console.log(`${k.padEnd(34)}${v}`);
  return 0;
}
