/**
 * The viewer's web server (`sg3 view`): serves the page (viewer/index.html, style.css and the bundled
 * script), the network in the page's binary form (viewer/wire.ts), and, for browsers without a usable
 * WebGPU, server-side rendering with its own adapter (PNG per request, the same code as the page).
 *
 * Safe by default:
 * - it binds 127.0.0.1 unless told otherwise;
 * - every request must carry the random token of this run (`?token=...` or the `X-SG3-Token` header),
 *   else 403 — other local users and web pages cannot use it;
 * - the Host header must name the address it listens on (127.0.0.1, localhost or [::1] with its port when it
 *   binds a loopback address), so a DNS-rebinding page gets 403;
 * - it answers a fixed set of paths (its own assets, the current network, renders), 404 for anything else:
 *   no files from disk by name, no directory listing; only GET and HEAD;
 * - responses forbid caching, framing, sniffing and referrers, with a content security policy of 'self'.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Gpu } from "../gpu/device.ts";
import type { NetworkDescription } from "../formats/network.ts";
import { encodePng } from "../formats/png.ts";
import { Generator } from "../models/generator.ts";
import { calibrateMagnitudes } from "../models/calibrate.ts";
import { UserError } from "../errors.ts";
import { denoReferences, viewerBundle } from "./bundle.ts";
import { encodeNetwork } from "./wire.ts";
import { listLayers, renderView, settingsFromParams } from "./view.ts";

const HERE = dirname(fileURLToPath(import.meta.url));

/** What {@link startViewer} serves. */
export interface ViewerOptions {
  net: NetworkDescription;
  /** A short name of the network for the page. */
  label: string;
  /** Random-initialised: calibrated before use (by the page, and by the server for its own renders). */
  random: boolean;
  /** Address to listen on (default 127.0.0.1). */
  host?: string;
  /** Port (default 0: any free port). */
  port?: number;
  /** Opens the server's GPU for fallback rendering (on first use). */
  openGpu: () => Promise<Gpu>;
}

/** A running viewer. */
export interface Viewer {
  /** The page's address, token included. */
  url: string;
  token: string;
  port: number;
  /** Whether it listens on all interfaces (0.0.0.0 or ::). */
  public: boolean;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
  close(): Promise<void>;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "::1", "[::1]"]);
const ANY = new Set(["0.0.0.0", "::", "[::]"]);

const SECURITY_HEADERS = {
  "cache-control": "no-store",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; " +
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
};

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Compares in time independent of where the strings differ. */
function sameToken(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The Host header values a server on `host`:`port` accepts; null = any (it listens on all interfaces). */
export function allowedHosts(host: string, port: number): Set<string> | null {
  if (ANY.has(host)) return null;
  const names = new Set([host.includes(":") && !host.startsWith("[") ? `[${host}]` : host]);
  if (LOOPBACK.has(host)) ["127.0.0.1", "localhost", "[::1]"].forEach((n) => names.add(n));
  return new Set([...names].map((n) => `${n.toLowerCase()}:${port}`));
}

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body + "\n", {
    status,
    headers: { ...SECURITY_HEADERS, "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** Starts the viewer; the page's script is bundled first (refused if it would use Deno APIs). */
export async function startViewer(opts: ViewerOptions): Promise<Viewer> {
  const js = await viewerBundle();
  const leaks = denoReferences(js);
  if (leaks.length) throw new Error(`the viewer page's bundle uses Deno APIs: ${leaks[0]}`);
  const token = randomToken();
  const html = (await Deno.readTextFile(join(HERE, "index.html"))).replaceAll("__TOKEN__", token);
  const css = await Deno.readTextFile(join(HERE, "style.css"));
  // The weights as they are now (before any calibration by the server's own renders, which the page does
  // itself for random-initialised networks).
  const wire = encodeNetwork(opts.net, { label: opts.label, random: opts.random });
  const g = opts.net.modules.get("")?.attrs ?? {};
  const resolution = Number(g.img_resolution);
  const info = {
    label: opts.label,
    arch: opts.net.arch,
    resolution,
    cDim: Number(g.c_dim ?? 0),
    numWs: Number(opts.net.modules.get("synthesis")?.attrs.num_ws ?? 0),
    hasInputTransform: opts.net.arch !== "stylegan2",
  };

  // Server-side rendering for pages without WebGPU: one GPU, one render at a time.
  let fallback: Promise<{ gpu: Gpu; gen: Generator }> | null = null;
  let queue: Promise<unknown> = Promise.resolve();
  const serverGen = () =>
    fallback ??= (async () => {
      const gpu = await opts.openGpu();
      if (opts.random) await calibrateMagnitudes(gpu, opts.net);
      return { gpu, gen: Generator.create(gpu, opts.net) };
    })();
  const serialized = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => {});
    return run;
  };

  const host = opts.host ?? "127.0.0.1";
  let hosts: Set<string> | null = null;

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const hostHeader = (req.headers.get("host") ?? "").toLowerCase();
    if (hosts && !hosts.has(hostHeader)) return text(403, "forbidden: unexpected Host header");
    const given = url.searchParams.get("token") ?? req.headers.get("x-sg3-token") ?? "";
    if (!sameToken(given, token)) return text(403, "forbidden: this viewer needs the token of its URL");
    if (req.method !== "GET" && req.method !== "HEAD") {
      return text(405, "method not allowed", { allow: "GET, HEAD" });
    }
    const ok = (body: BodyInit, type: string, headers: Record<string, string> = {}) =>
      new Response(body, { headers: { ...SECURITY_HEADERS, "content-type": type, ...headers } });
    switch (url.pathname) {
      case "/":
      case "/index.html":
        return ok(html, "text/html; charset=utf-8");
      case "/app.js":
        return ok(js, "text/javascript; charset=utf-8");
      case "/style.css":
        return ok(css, "text/css; charset=utf-8");
      case "/network.bin":
        return ok(wire as BodyInit, "application/octet-stream");
      case "/info":
        return Response.json(info, { headers: SECURITY_HEADERS });
      case "/adapter":
      case "/render":
      case "/layers":
        return await serialized(async () => {
          let server;
          try {
            server = await serverGen();
          } catch (e) {
            return text(503, `the server has no usable GPU either: ${(e as Error).message.split("\n")[0]}`);
          }
          const { gpu, gen } = server;
          if (url.pathname === "/adapter") {
            return Response.json({ adapter: gpu.summary.description }, { headers: SECURITY_HEADERS });
          }
          const s = settingsFromParams(url.searchParams);
          try {
            if (url.pathname === "/layers") {
              return Response.json(await listLayers(gpu, gen, s), { headers: SECURITY_HEADERS });
            }
            const t0 = performance.now();
            const frame = await renderView(gpu, gen, s);
            const headers: Record<string, string> = {
              "x-sg3-name": frame.name,
              "x-sg3-ms": (performance.now() - t0).toFixed(1),
            };
            if (frame.layerChannels !== undefined) {
              headers["x-sg3-layer-channels"] = String(frame.layerChannels);
            }
            return ok(encodePng(frame.image) as BodyInit, "image/png", headers);
          } catch (e) {
            if (e instanceof UserError) return text(400, e.message);
            throw e;
          }
        });
      default:
        return text(404, "not found");
    }
  }

  let listening!: (addr: Deno.NetAddr) => void;
  const addr = new Promise<Deno.NetAddr>((resolve) => listening = resolve);
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: host,
      port: opts.port ?? 0,
      onListen: (a) => listening(a as Deno.NetAddr),
      onError: (e) => text(500, `internal error: ${(e as Error).message.split("\n")[0]}`),
    }, handle);
  } catch (e) {
    throw new UserError(`cannot listen on ${host}:${opts.port ?? 0}: ${(e as Error).message.split("\n")[0]}`);
  }
  const { port } = await addr;
  hosts = allowedHosts(host, port);
  const shown = ANY.has(host)
    ? "127.0.0.1"
    : host.includes(":") && !host.startsWith("[")
    ? `[${host}]`
    : host;
  return {
    url: `http://${shown}:${port}/?token=${token}`,
    token,
    port,
    public: ANY.has(host),
    finished: server.finished,
    async close() {
      await server.shutdown();
      if (fallback) {
        const f = await fallback.catch(() => null);
        f?.gen.destroy();
        f?.gpu.destroy();
      }
    },
  };
}
