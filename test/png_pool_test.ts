import assert from "node:assert/strict";
import { join } from "node:path";
import { encodePng, type Image8 } from "../formats/png.ts";
import { PngWriter } from "../formats/png_pool.ts";
import { helperThreads } from "../formats/threads.ts";
import { UserError } from "../errors.ts";
import { sg3Command, TINY_NET } from "./cli.ts";

const image = (w: number, h: number, c: number, seed: number): Image8 => ({
  width: w,
  height: h,
  channels: c,
  data: Uint8Array.from({ length: w * h * c }, (_, i) => (i * seed + (i >> 5)) % 256),
});

Deno.test("PngWriter: with and without workers, every file holds encodePng's bytes", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const images = [
      image(17, 5, 3, 7),
      image(1, 1, 1, 3),
      image(33, 20, 4, 11),
      image(8, 9, 3, 5),
      image(64, 3, 3, 2),
    ];
    for (const workers of [0, 1, 2]) {
      const written: string[] = [];
      const writer = new PngWriter(workers, (path) => written.push(path));
      const paths = images.map((_, i) => join(dir, `w${workers}_${i}.png`));
      for (const [i, im] of images.entries()) await writer.write(paths[i], im);
      await writer.close();
      assert.deepEqual(written.toSorted(), paths.toSorted(), `${workers} workers`);
      for (const [i, im] of images.entries()) assert.deepEqual(Deno.readFileSync(paths[i]), encodePng(im));
    }
    // Only the finished files and no temporary ones.
    assert.equal([...Deno.readDirSync(dir)].length, 3 * images.length);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("PngWriter: a file that cannot be written fails close (or the next write), naming it", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    // A path below a regular file: neither the folder nor the file can be made.
    Deno.writeTextFileSync(join(dir, "plain"), "");
    const writer = new PngWriter(2);
    await writer.write(join(dir, "plain", "a.png"), image(4, 4, 3, 1));
    await writer.write(join(dir, "b.png"), image(4, 4, 3, 2));
    await assert.rejects(async () => {
      for (let i = 0; i < 6; i++) await writer.write(join(dir, `c${i}.png`), image(4, 4, 3, i));
      await writer.close();
    }, /plain.a\.png: cannot/);
    await writer.close().catch(() => {});
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sg3 generate writes the same PNGs with SG3_THREADS=2 (worker encoding) as with 0", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    for (const threads of ["0", "2"]) {
      const out = await sg3Command(
        [
          "generate",
          ...TINY_NET,
          "--seeds",
          "0-4",
          "--batch",
          "2",
          "--outdir",
          join(dir, threads),
          "--quiet",
        ],
        { env: { SG3_THREADS: threads } },
      ).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    }
    for (let s = 0; s < 5; s++) {
      const name = `seed${String(s).padStart(4, "0")}.png`;
      assert.deepEqual(
        Deno.readFileSync(join(dir, "2", name)),
        Deno.readFileSync(join(dir, "0", name)),
        name,
      );
    }
    assert.equal([...Deno.readDirSync(join(dir, "2"))].length, 5);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sg3 refuses an SG3_THREADS that is not a whole number with one line and exit code 2", async () => {
  const out = await sg3Command(["info"], { env: { SG3_THREADS: "two" } }).output();
  const err = new TextDecoder().decode(out.stderr).trim().split("\n").filter((l) =>
    !l.includes("XDG_RUNTIME")
  );
  assert.equal(out.code, 2);
  assert.deepEqual(err, [
    'sg3 info: SG3_THREADS must be a whole number of worker threads from 0 (none) to 64, not "two"',
  ]);
});

Deno.test("helperThreads: SG3_THREADS overrides the core count rule", () => {
  const before = Deno.env.get("SG3_THREADS");
  try {
    Deno.env.delete("SG3_THREADS");
    assert.deepEqual([1, 2, 3, 4, 16, 64].map((c) => helperThreads(c)), [0, 0, 0, 3, 8, 8]);
    Deno.env.set("SG3_THREADS", "5");
    assert.equal(helperThreads(2), 5);
    Deno.env.set("SG3_THREADS", "");
    assert.equal(helperThreads(16), 8);
    for (const bad of ["x", "1.5", "-1", "65", "2 threads"]) {
      Deno.env.set("SG3_THREADS", bad);
      assert.throws(
        () => helperThreads(16),
        (e: Error) => e instanceof UserError && e.message.includes("SG3_THREADS"),
      );
    }
  } finally {
    if (before === undefined) Deno.env.delete("SG3_THREADS");
    else Deno.env.set("SG3_THREADS", before);
  }
});
