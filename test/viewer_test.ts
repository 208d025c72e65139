/**
 * `sg3 view` without a browser: the browser boundary (the page's bundle, built for the browser platform,
 * uses no Deno API or Node built-in; the Deno-only modules it reaches are swapped), the network's binary
 * form, the settings' URL form, and the server's security rules (token, Host header, fixed paths).
 */
import assert from "node:assert/strict";
import {
  BROWSER_SWAPS,
  bundleBrowser,
  canBundle,
  denoReferences,
  PREBUILT_BUNDLE,
  viewerBundle,
} from "../viewer/bundle.ts";
import { decodeNetwork, encodeNetwork } from "../viewer/wire.ts";
import { DEFAULT_SETTINGS, settingsFromParams, settingsToParams } from "../viewer/view.ts";
import { allowedHosts, startViewer } from "../viewer/server.ts";
import { randomNetwork } from "../models/random_init.ts";
import type { Gpu } from "../gpu/device.ts";

Deno.test("the viewer page's bundle for the browser uses no Deno API or Node built-in", async () => {
  const js = await bundleBrowser();
  assert.deepEqual(denoReferences(js), []);
  // The page runs sg3's own code: the generator, the kernels' program layer and the PNG encoder are in it.
  for (
    const code of [
      /\bclass _?Generator\b/,
      /function runProgram\(/,
      /function encodePng\(/,
      /function decodeNetwork\(/,
    ]
  ) {
    assert.match(js, code);
  }
  // The swapped modules exist, and without the swaps the library would reach Deno APIs (the check works).
  for (const [from, to] of Object.entries(BROWSER_SWAPS)) {
    const lib = await Deno.readTextFile(new URL(`../${from}`, import.meta.url));
    assert.ok(denoReferences(lib).length > 0, `${from} uses Deno or Node APIs`);
    assert.deepEqual(denoReferences(await Deno.readTextFile(new URL(`../${to}`, import.meta.url))), []);
  }
  assert.deepEqual(denoReferences("const env = globalThis.Deno?.env.get('X');"), []);
  assert.equal(denoReferences("Deno.readFileSync(p)").length, 1);
  assert.equal(denoReferences('import { join } from "node:path";').length, 1);
});

Deno.test("network data round-trips through the viewer's binary form", () => {
  const net = randomNetwork({ cfg: "stylegan3-t", res: 16, cbase: 256, cmax: 16, seed: 3 });
  const g = net.modules.get("")!;
  g.attrs.big = 12345678901234567890n;
  g.attrs.arr = Float64Array.from([1.5, -2]);
  g.attrs.map = new Map([["k", 1]]);
  const bytes = encodeNetwork(net, { label: "t", random: true });
  const back = decodeNetwork(bytes.slice());
  assert.deepEqual(back.meta, { label: "t", random: true });
  assert.equal(back.net.arch, net.arch);
  assert.deepEqual(back.net.hparams, net.hparams);
  assert.deepEqual([...back.net.modules.keys()], [...net.modules.keys()]);
  assert.deepEqual(back.net.modules.get(""), g);
  for (const [name, t] of net.tensors) {
    assert.deepEqual(back.net.tensors.get(name)!.shape, t.shape);
    assert.deepEqual(back.net.tensors.get(name)!.data, t.data, name);
  }
  assert.deepEqual(back.net.buffers, net.buffers);
  // Unaligned input is copied; bad data is refused with a message.
  const unaligned = new Uint8Array(bytes.length + 1);
  unaligned.set(bytes, 1);
  assert.equal(decodeNetwork(unaligned.subarray(1)).net.tensors.size, net.tensors.size);
  assert.throws(() => decodeNetwork(bytes.subarray(0, bytes.length - 4)), /truncated tensor/);
  assert.throws(() => decodeNetwork(new Uint8Array(16)), /not sg3 viewer network data/);
});

Deno.test("viewer settings round-trip through URL parameters", () => {
  const s = {
    ...DEFAULT_SETTINGS,
    seed: 42.25,
    psi: 0.7,
    cutoff: 8,
    classIdx: 3,
    tx: 0.125,
    ty: -0.25,
    rotate: 10,
    animate: true,
    noiseMode: "random" as const,
    layer: "L5_52_32",
    channel: 4,
    channels: 1 as const,
    zoom: 4,
  };
  assert.deepEqual(settingsFromParams(settingsToParams(s)), s);
  assert.equal(settingsToParams(DEFAULT_SETTINGS).toString(), "");
  assert.deepEqual(settingsFromParams(new URLSearchParams("seed=x&psi=&chs=7&noise=bad")), DEFAULT_SETTINGS);
});

Deno.test("allowed Host headers: loopback names for a loopback bind, any for 0.0.0.0", () => {
  assert.deepEqual(
    [...allowedHosts("127.0.0.1", 8000)!].sort(),
    ["127.0.0.1:8000", "[::1]:8000", "localhost:8000"],
  );
  assert.ok(allowedHosts("192.168.1.5", 80)!.has("192.168.1.5:80"));
  assert.ok(!allowedHosts("192.168.1.5", 80)!.has("evil.example:80"));
  assert.equal(allowedHosts("0.0.0.0", 80), null);
});

/** The status of a GET sent with a given Host header (fetch sets its own). */
async function rawStatus(port: number, path: string, host: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(
      new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`),
    );
    const buf = new Uint8Array(64);
    const n = await conn.read(buf);
    return Number(/^HTTP\/1\.1 (\d+)/.exec(new TextDecoder().decode(buf.subarray(0, n ?? 0)))?.[1]);
  } finally {
    conn.close();
  }
}

Deno.test("the viewer server: token on every request, Host checked, only its own paths", async () => {
  const net = randomNetwork({ cfg: "stylegan3-t", res: 16, cbase: 256, cmax: 16, seed: 1 });
  const noGpu = () => Promise.reject(new Error("no GPU in this test")) as Promise<Gpu>;
  const viewer = await startViewer({ net, label: "tiny", random: true, openGpu: noGpu });
  const base = `http://127.0.0.1:${viewer.port}`;
  const get = async (path: string, init?: RequestInit) => {
    const r = await fetch(base + path, init);
    return { status: r.status, body: new Uint8Array(await r.arrayBuffer()), headers: r.headers };
  };
  const t = viewer.token;
  try {
    assert.match(viewer.url, new RegExp(`^http://127\\.0\\.0\\.1:${viewer.port}/\\?token=[0-9a-f]{48}$`));
    for (const path of ["/", "/app.js", "/network.bin", "/info", `/?token=${t.slice(1)}x`, `/?token=`]) {
      assert.equal((await get(path)).status, 403, path);
    }
    const page = await get(`/?token=${t}`);
    assert.equal(page.status, 200);
    const html = new TextDecoder().decode(page.body);
    assert.ok(html.includes(`/app.js?token=${t}`));
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
    assert.equal((await get(`/app.js?token=${t}`)).status, 200);
    assert.equal((await get("/style.css", { headers: { "x-sg3-token": t } })).status, 200);
    const wire = await get(`/network.bin?token=${t}`);
    assert.equal(decodeNetwork(wire.body).meta.random, true);
    const info = JSON.parse(new TextDecoder().decode((await get(`/info?token=${t}`)).body));
    assert.deepEqual(info, {
      label: "tiny",
      arch: "stylegan3-t",
      resolution: 16,
      cDim: 0,
      numWs: info.numWs,
      hasInputTransform: true,
    });
    // No files by name, no listing, no other methods; a DNS-rebinding Host is refused.
    for (const path of ["/deno.json", "/../deno.json", "/viewer/", "/viewer/server.ts", "/favicon.ico"]) {
      assert.equal((await get(`${path}?token=${t}`)).status, 404, path);
    }
    assert.equal((await get(`/?token=${t}`, { method: "POST" })).status, 405);
    assert.equal(await rawStatus(viewer.port, `/?token=${t}`, `evil.example:${viewer.port}`), 403);
    assert.equal(await rawStatus(viewer.port, `/?token=${t}`, `localhost:${viewer.port}`), 200);
    assert.equal(await rawStatus(viewer.port, `/?token=${t}`, `127.0.0.1:${viewer.port}`), 200);
    // Without a server GPU the fallback answers one line.
    const render = await get(`/render?token=${t}`);
    assert.equal(render.status, 503);
    assert.match(
      new TextDecoder().decode(render.body),
      /^the server has no usable GPU either: no GPU in this test\n$/,
    );
  } finally {
    await viewer.close();
  }
});

Deno.test("compiled binaries serve the page's bundle made at build time (deno task bundle:viewer)", async () => {
  assert.ok(canBundle("/usr/local/bin/deno"));
  assert.ok(canBundle("C:\\deno\\deno.exe"));
  assert.ok(!canBundle("/usr/local/bin/sg3"));
  const task = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-write", "--allow-env", "--allow-run", "viewer/bundle.ts"],
    cwd: new URL("..", import.meta.url),
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(task.success, new TextDecoder().decode(task.stderr));
  const js = await viewerBundle({ prebuilt: true });
  assert.equal(js, await Deno.readTextFile(PREBUILT_BUNDLE));
  assert.deepEqual(denoReferences(js), []);
  assert.ok(js.length > 50_000 && js.includes("sg3view"));
});
