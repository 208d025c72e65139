/** `sg3 view`: the interactive viewer in the browser (viewer/server.ts serves it; the page runs the GPU work). */
import { UserError } from "../errors.ts";
import { startViewer } from "../viewer/server.ts";
import { EMBEDDED, NETWORK_OPTS, openNetwork, planNetwork } from "./network.ts";
import { GPU_OPTS, openGpu } from "./common_options.ts";
import { flag, int, parseOptions, text, usage } from "./options.ts";

/** The options of `sg3 view`, declared once. */
export const OPTIONS = {
  ...NETWORK_OPTS,
  host: text("ADDR", "address to listen on; 0.0.0.0 exposes it to the network", "127.0.0.1"),
  port: int("N", "port (0: any free port)", 0, 0, 65535),
  open: flag("open the page in the default web browser"),
  ...GPU_OPTS,
};

/** Usage text of `sg3 view`. */
export const USAGE = usage(
  "sg3 view [--network NET] [--port N] [--host 127.0.0.1] [--open]",
  "  Serves an interactive viewer (seed, truncation, input transform, layers) at a local URL with a\n" +
    "  random token. The page runs the generator in the browser's WebGPU; without it, the server renders\n" +
    "  (--adapter, --tune choose its GPU). Without --network: the embedded default network.",
  OPTIONS,
);

function openBrowser(url: string): void {
  const [cmd, ...args] = Deno.build.os === "darwin"
    ? ["open", url]
    : Deno.build.os === "windows"
    ? ["cmd", "/c", "start", "", url]
    : ["xdg-open", url];
  try {
    new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).spawn().status.catch(() => {});
  } catch {
    console.error(`could not start a browser (${cmd}); open the URL yourself`);
  }
}

/** Runs `sg3 view` until interrupted; returns the exit code. */
export async function run(args: string[]): Promise<number> {
  const { values: v, given } = parseOptions(args, OPTIONS);
  if (v.host.trim() === "") throw new UserError("--host: empty address");
  const chosen = await openNetwork(planNetwork(v, given, EMBEDDED));
  const viewer = await startViewer({
    ...chosen,
    host: v.host,
    port: v.port,
    openGpu: () => openGpu(v),
  });
  if (viewer.public) {
    console.error(
      `warning: --host ${v.host} serves the viewer to every machine that can reach this one; anyone with ` +
        "the URL (token included) can use it",
    );
  }
  console.error(`network: ${chosen.label}`);
  console.log(viewer.url);
  if (v.open) openBrowser(viewer.url);
  await viewer.finished;
  return 0;
}
