/**
 * Fuzzing the loaders with mutated fixture files (truncation, flipped bytes, spliced ranges, inserted
 * noise): every case must end in a UserError or a valid load — never another exception or a hang.
 * Seeded, so a failure names a reproducible case.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest } from "./fixtures.ts";
import { rng } from "./reference.ts";
import { UserError } from "../errors.ts";
import { describeNetwork, parseSnapshot, snapshotGenerator } from "../formats/snapshot.ts";
import { collectTensors, readTorchBytes, readTorchScriptConstants, tensorToTyped } from "../formats/torch.ts";

type Mutation = (b: Uint8Array, r: () => number) => Uint8Array;

const pick = (r: () => number, n: number) => Math.floor(r() * n);

const MUTATIONS: Record<string, Mutation> = {
  truncate: (b, r) => b.slice(0, pick(r, b.length)),
  flip: (b, r) => {
    const out = b.slice();
    for (let k = 1 + pick(r, 8); k > 0; k--) out[pick(r, out.length)] ^= 1 << pick(r, 8);
    return out;
  },
  randomize: (b, r) => {
    const out = b.slice();
    for (let k = 1 + pick(r, 4); k > 0; k--) out[pick(r, out.length)] = pick(r, 256);
    return out;
  },
  splice: (b, r) => {
    const len = 1 + pick(r, 64), from = pick(r, b.length - len), to = pick(r, b.length - len);
    const out = b.slice();
    out.copyWithin(to, from, from + len);
    return out;
  },
  insert: (b, r) => {
    const at = pick(r, b.length), noise = Uint8Array.from({ length: 1 + pick(r, 16) }, () => pick(r, 256));
    const out = new Uint8Array(b.length + noise.length);
    out.set(b.subarray(0, at));
    out.set(noise, at);
    out.set(b.subarray(at), at + noise.length);
    return out;
  },
  cut: (b, r) => {
    const len = 1 + pick(r, 32), at = pick(r, Math.max(1, b.length - len));
    const out = new Uint8Array(Math.max(0, b.length - len));
    out.set(b.subarray(0, at));
    out.set(b.subarray(at + len), at);
    return out;
  },
};

/** Loads `bytes` as the file kind demands; returns "ok" or the UserError message. */
function attempt(bytes: Uint8Array, network: boolean): string {
  try {
    if (network) describeNetwork(snapshotGenerator(parseSnapshot(bytes, "fuzz")), "fuzz");
    else {
      for (const [k, t] of collectTensors(readTorchBytes(bytes, "fuzz"))) tensorToTyped(t, k);
      for (const [k, t] of readTorchScriptConstants(bytes, "fuzz")) tensorToTyped(t, k);
    }
    return "ok";
  } catch (e) {
    if (e instanceof UserError) return e.message;
    throw e;
  }
}

const FILES: [string[], boolean, number][] = [
  [["sg3", "tiny-t.pkl"], true, 160],
  [["inception", "loader", "torch_save_zip_state_dict.pth"], false, 150],
  [["inception", "loader", "torch_save_legacy_state_dict.pth"], false, 150],
  [["inception", "loader", "torchscript_conv_bn_relu.pt"], false, 150],
  [["inception", "loader", "plain_pickle_persistence_module.pkl"], false, 150],
];

for (const [parts, network, count] of FILES) {
  fixtureTest(`loader fuzz: ${count} mutations of ${parts.at(-1)}`, parts[0], () => {
    const original = Deno.readFileSync(fixture(...parts));
    assert.equal(attempt(original, network), "ok");
    const r = rng(1234 + count);
    const names = Object.keys(MUTATIONS);
    const outcomes = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const name = names[i % names.length];
      const bytes = MUTATIONS[name](original, r);
      const t0 = performance.now();
      let result: string;
      try {
        result = attempt(bytes, network);
      } catch (e) {
        throw new Error(`case ${i} (${name}) threw a non-UserError: ${(e as Error)?.stack ?? e}`);
      }
      const ms = performance.now() - t0;
      assert.ok(ms < 2000, `case ${i} (${name}) took ${ms.toFixed(0)} ms`);
      assert.ok(!result.includes("\n"), `case ${i}: multi-line error ${result}`);
      const key = result === "ok" ? "ok" : "UserError";
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
    }
    assert.ok((outcomes.get("UserError") ?? 0) > 0, "some mutations must be refused");
  });
}
