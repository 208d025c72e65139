/**
 * Network download and cache against a local HTTP server on 127.0.0.1 started here: a URL is fetched
 * once into $SG3_CACHE, a second load makes no request, a partial download resumes with a Range request,
 * HTTP errors are one-line UserErrors that leave nothing in the cache, two processes downloading the
 * same URL at once take turns through a lock file, an abandoned lock is taken over, and official short
 * names map to NVIDIA's URLs.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { fixture, fixtureTest } from "./fixtures.ts";
import { UserError } from "../errors.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { cachePathFor, download, officialUrl, resolveNetworkPath } from "../formats/download.ts";

/** Serves `body` at /nets/tiny-t.pkl (honouring Range), 404 elsewhere; records the requests. */
function serve(body: Uint8Array) {
  const requests: { path: string; range: string | null }[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    const range = req.headers.get("range");
    requests.push({ path, range });
    if (path !== "/nets/tiny-t.pkl") return new Response("not found", { status: 404 });
    const m = range ? /^bytes=(\d+)-$/.exec(range) : null;
    if (m) {
      const from = Number(m[1]);
      return new Response(body.slice(from), {
        status: 206,
        headers: { "content-range": `bytes ${from}-${body.length - 1}/${body.length}` },
      });
    }
    return new Response(body.slice());
  });
  return { server, requests, base: `http://127.0.0.1:${server.addr.port}` };
}

/** Runs `fn` with SG3_CACHE pointing at a fresh temporary folder. */
async function withCache(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = Deno.makeTempDirSync({ prefix: "sg3-cache-" });
  const old = Deno.env.get("SG3_CACHE");
  Deno.env.set("SG3_CACHE", dir);
  try {
    await fn(dir);
  } finally {
    if (old === undefined) Deno.env.delete("SG3_CACHE");
    else Deno.env.set("SG3_CACHE", old);
    Deno.removeSync(dir, { recursive: true });
  }
}

fixtureTest(
  "download: a URL is fetched once into the cache and loads like the local file",
  "sg3",
  async () => {
    const body = Deno.readFileSync(fixture("sg3", "tiny-t.pkl"));
    const { server, requests, base } = serve(body);
    try {
      await withCache(async () => {
        const url = `${base}/nets/tiny-t.pkl`;
        const net = await loadNetwork(url);
        const local = await loadNetwork(fixture("sg3", "tiny-t.pkl"));
        assert.deepEqual(net.tensors.get("mapping.w_avg"), local.tensors.get("mapping.w_avg"));
        const cached = await cachePathFor(url);
        assert.deepEqual(Deno.readFileSync(cached), body);
        assert.ok(!existsSync(`${cached}.partial`));
        assert.equal(requests.length, 1);
        await loadNetwork(url);
        assert.equal(requests.length, 1, "the second load must come from the cache");
      });
    } finally {
      await server.shutdown();
    }
  },
);

fixtureTest("download: a partial download resumes with a Range request", "sg3", async () => {
  const body = Deno.readFileSync(fixture("sg3", "tiny-t.pkl"));
  const { server, requests, base } = serve(body);
  try {
    await withCache(async () => {
      const url = `${base}/nets/tiny-t.pkl`;
      const cached = await cachePathFor(url);
      Deno.writeFileSync(`${cached}.partial`, body.subarray(0, 1000));
      assert.equal(await resolveNetworkPath(url, {}), cached);
      assert.deepEqual(requests.map((r) => r.range), ["bytes=1000-"]);
      assert.deepEqual(Deno.readFileSync(cached), body);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("download: HTTP errors are one-line UserErrors and leave nothing in the cache", async () => {
  const { server, base } = serve(new Uint8Array(0));
  try {
    await withCache(async (dir) => {
      await assert.rejects(
        resolveNetworkPath(`${base}/missing.pkl`, {}),
        (e) => e instanceof UserError && /missing\.pkl: download failed: HTTP 404/.test(e.message),
      );
      assert.deepEqual([...Deno.readDirSync(dir)], []);
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("download: official short names map to NVIDIA's URLs; unknown names are refused", async () => {
  assert.equal(
    officialUrl("stylegan3-t-ffhq-1024x1024"),
    "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/stylegan3-t-ffhq-1024x1024.pkl",
  );
  assert.equal(
    officialUrl("stylegan3-r-afhqv2-512x512.pkl"),
    "https://api.ngc.nvidia.com/v2/models/nvidia/research/stylegan3/versions/1/files/stylegan3-r-afhqv2-512x512.pkl",
  );
  assert.equal(officialUrl("stylegan3-x-ffhq-1024x1024"), null);
  await assert.rejects(
    resolveNetworkPath("stylegan3-x-ffhq-1024x1024"),
    (e) =>
      e instanceof UserError &&
      /no such file, and not an http\(s\) URL or an official network name/.test(e.message),
  );
});

/** Serves `body` at every path slowly (8 chunks, `delayMs` apart); counts the requests. */
function serveSlowly(body: Uint8Array, delayMs: number) {
  let requests = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
    requests++;
    const step = Math.ceil(body.length / 8);
    let at = 0, timer: ReturnType<typeof setTimeout> | undefined;
    const stream = new ReadableStream<Uint8Array>({
      pull: (c) =>
        new Promise<void>((done) => {
          timer = setTimeout(() => {
            if (at >= body.length) c.close();
            else c.enqueue(body.slice(at, at += step));
            done();
          }, delayMs);
        }),
      cancel: () => clearTimeout(timer),
    });
    return new Response(stream, { headers: { "content-length": String(body.length) } });
  });
  return { server, requests: () => requests, base: `http://127.0.0.1:${server.addr.port}` };
}

Deno.test("download: two processes downloading one URL at once share one complete cache file", async () => {
  const body = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251);
  const { server, requests, base } = serveSlowly(body, 60);
  try {
    await withCache(async (dir) => {
      const url = `${base}/nets/big.pkl`;
      const dest = await cachePathFor(url);
      const module = new URL("../formats/download.ts", import.meta.url).href;
      const other = new Deno.Command(Deno.execPath(), {
        args: [
          "eval",
          `import { download } from ${JSON.stringify(module)};
           await download(${JSON.stringify(url)}, ${JSON.stringify(dest)}, {});`,
        ],
        cwd: new URL("..", import.meta.url).pathname,
        env: { SG3_CACHE: dir },
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // Start this process's download once the other one holds the lock, so that it has to wait.
      for (let i = 0; i < 300 && !existsSync(`${dest}.lock`); i++) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(existsSync(`${dest}.lock`), "the other process never took the lock");
      assert.ok(!existsSync(dest), "the other process finished too soon for the test to mean anything");
      assert.equal(await download(url, dest, {}), dest);
      const done = await other.output();
      assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
      assert.deepEqual(Deno.readFileSync(dest), body);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [dest.split("/").pop()]);
      assert.equal(requests(), 1, "the waiting process must not download again");
    });
  } finally {
    await server.shutdown();
  }
});

Deno.test("download: a lock abandoned by a dead process is taken over", async () => {
  const body = new Uint8Array([1, 2, 3, 4, 5]);
  const { server, base } = serveSlowly(body, 1);
  try {
    await withCache(async (dir) => {
      const url = `${base}/x.pkl`;
      const dest = await cachePathFor(url);
      Deno.writeTextFileSync(`${dest}.lock`, "12345 gone\n");
      const old = new Date(Date.now() - 10_000);
      Deno.utimeSync(`${dest}.lock`, old, old);
      assert.equal(await download(url, dest, { staleMs: 5_000 }), dest);
      assert.deepEqual(Deno.readFileSync(dest), body);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), [dest.split("/").pop()]);
    });
  } finally {
    await server.shutdown();
  }
});
