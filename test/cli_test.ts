import assert from "node:assert/strict";
import { GPU_TEST } from "./gpu.ts";
import { sg3 } from "./cli.ts";

Deno.test({ name: "sg3 info --json names the adapter", ...GPU_TEST }, async () => {
  const r = await sg3("info", "--json");
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(typeof info.description, "string");
  assert.equal(typeof info.limits.maxStorageBufferBindingSize, "number");
  assert.equal(typeof info.f16, "boolean");
});

Deno.test({ name: "bad arguments give one line and exit code 2", ...GPU_TEST }, async () => {
  for (const args of [["info", "--bogus"], ["no-such-command"]]) {
    const r = await sg3(...args);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
    assert.match(r.stderr, /^sg3/);
  }
});
