/**
 * The safe pickle reader: the pickles Python writes at protocols 0-5 (vectors made with CPython 3.11's
 * pickle.dumps and numpy 2.4), numpy scalars/arrays, refused globals (nothing runs: a marker file that
 * a malicious pickle would create must not appear), and malformed streams ending in a UserError.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync } from "node:fs";
import { BASE_GLOBALS, type PyDict, toPlain, unpickle } from "../formats/pickle.ts";
import { UserError } from "../errors.ts";
import { loadNetwork } from "../formats/snapshot.ts";
import { runMain } from "./cli.ts";

const hex = (h: string) => Uint8Array.from(h.match(/../g)!, (b) => parseInt(b, 16));
const load = (bytes: Uint8Array) => unpickle(bytes, { globals: BASE_GLOBALS, name: "test.pkl" }).value;

/**
 * pickle.dumps(V, protocol=p) with V = {"a": 1, "b": [1, 2.5, -3, 2**70, -2**63, True, None],
 * "t": (1, "x", (2,)), "s": "h\u00e9llo \u2603 \U0001F600", "bytes": b"\x00\x01", "set": {3},
 * "fs": frozenset([4]), "neg": -1, "big": 2**31, "f": 1e-300, "shared": [l, l]} with l = [7].
 */
const PROTOCOLS: Record<number, string> = {
  0: "286470300a56610a70310a49310a7356620a70320a286c70330a49310a6146322e350a61492d330a614c313138303539" +
    "313632303731373431313330333432344c0a614c2d393232333337323033363835343737353830384c0a614930310a61" +
    "4e617356740a70340a2849310a56780a70350a2849320a7470360a7470370a7356730a70380a5668e96c6c6f205c7532" +
    "363033205c5530303031663630300a70390a735662797465730a7031300a635f636f646563730a656e636f64650a7031" +
    "310a28565c7530303030010a7031320a566c6174696e310a7031330a747031340a527031350a73567365740a7031360a" +
    "635f5f6275696c74696e5f5f0a7365740a7031370a28286c7031380a49330a61747031390a527032300a735666730a70" +
    "32310a635f5f6275696c74696e5f5f0a66726f7a656e7365740a7032320a28286c7032330a49340a61747032340a5270" +
    "32350a73566e65670a7032360a492d310a73566269670a7032370a4c323134373438333634384c0a7356660a7032380a" +
    "4631652d3330300a73567368617265640a7032390a286c7033300a286c7033310a49370a61616733310a61732e",
  1: "7d71002858010000006171014b0158010000006271025d7103284b014740040000000000004afdffffff4c3131383035" +
    "39313632303731373431313330333432344c0a4c2d393232333337323033363835343737353830384c0a4930310a4e65" +
    "5801000000747104284b015801000000787105284b027471067471075801000000737108580f00000068c3a96c6c6f20" +
    "e2988320f09f9880710958050000006279746573710a635f636f646563730a656e636f64650a710b2858020000000001" +
    "710c58060000006c6174696e31710d74710e52710f58030000007365747110635f5f6275696c74696e5f5f0a7365740a" +
    "7111285d71124b0361747113527114580200000066737115635f5f6275696c74696e5f5f0a66726f7a656e7365740a71" +
    "16285d71174b046174711852711958030000006e6567711a4affffffff5803000000626967711b4c3231343734383336" +
    "34384c0a580100000066711c4701a56e1fc2f8f3595806000000736861726564711d5d711e285d711f4b0761681f6575" +
    "2e",
  2: "80027d71002858010000006171014b0158010000006271025d7103284b014740040000000000004afdffffff8a090000" +
    "000000000000408a080000000000000080884e6558010000007471044b0158010000007871054b028571068771075801" +
    "000000737108580f00000068c3a96c6c6f20e2988320f09f9880710958050000006279746573710a635f636f64656373" +
    "0a656e636f64650a710b58020000000001710c58060000006c6174696e31710d86710e52710f58030000007365747110" +
    "635f5f6275696c74696e5f5f0a7365740a71115d71124b0361857113527114580200000066737115635f5f6275696c74" +
    "696e5f5f0a66726f7a656e7365740a71165d71174b046185711852711958030000006e6567711a4affffffff58030000" +
    "00626967711b8a050000008000580100000066711c4701a56e1fc2f8f3595806000000736861726564711d5d711e285d" +
    "711f4b0761681f65752e",
  3: "80037d71002858010000006171014b0158010000006271025d7103284b014740040000000000004afdffffff8a090000" +
    "000000000000408a080000000000000080884e6558010000007471044b0158010000007871054b028571068771075801" +
    "000000737108580f00000068c3a96c6c6f20e2988320f09f9880710958050000006279746573710a43020001710b5803" +
    "000000736574710c636275696c74696e730a7365740a710d5d710e4b036185710f527110580200000066737111636275" +
    "696c74696e730a66726f7a656e7365740a71125d71134b046185711452711558030000006e656771164affffffff5803" +
    "00000062696771178a05000000800058010000006671184701a56e1fc2f8f359580600000073686172656471195d711a" +
    "285d711b4b0761681b65752e",
  4: "800495bc000000000000007d94288c0161944b018c0162945d94284b014740040000000000004afdffffff8a09000000" +
    "0000000000408a080000000000000080884e658c0174944b018c0178944b02859487948c0173948c0f68c3a96c6c6f20" +
    "e2988320f09f9880948c0562797465739443020001948c03736574948f94284b03908c02667394284b0491948c036e65" +
    "67944affffffff8c03626967948a0500000080008c0166944701a56e1fc2f8f3598c06736861726564945d94285d944b" +
    "0761681565752e",
  5: "800595bc000000000000007d94288c0161944b018c0162945d94284b014740040000000000004afdffffff8a09000000" +
    "0000000000408a080000000000000080884e658c0174944b018c0178944b02859487948c0173948c0f68c3a96c6c6f20" +
    "e2988320f09f9880948c0562797465739443020001948c03736574948f94284b03908c02667394284b0491948c036e65" +
    "67944affffffff8c03626967948a0500000080008c0166944701a56e1fc2f8f3598c06736861726564945d94285d944b" +
    "0761681565752e",
};

const EXPECTED = {
  a: 1,
  b: [1, 2.5, -3, "1180591620717411303424", "-9223372036854775808", true, null],
  t: [1, "x", [2]],
  s: "h\u00e9llo \u2603 \u{1F600}",
  bytes: [0, 1],
  set: [3],
  fs: [4],
  neg: -1,
  big: 2 ** 31,
  f: 1e-300,
  shared: [[7], [7]],
};

for (const [p, h] of Object.entries(PROTOCOLS)) {
  Deno.test(`unpickle: protocol ${p} containers, ints, bigints, floats, strings, bytes, sets, memo`, () => {
    const v = load(hex(h));
    assert.deepEqual(toPlain(v), EXPECTED);
    const shared = (v as PyDict).get("shared") as unknown[];
    assert.equal(shared[0], shared[1], "memoised objects stay shared");
    assert.equal(typeof ((v as PyDict).get("b") as unknown[])[3], "bigint");
  });
}

Deno.test("unpickle: numpy 2 scalars and arrays (numpy._core spelling)", () => {
  // pickle.dumps({"x": np.float32(1.5), "a": np.array([[1, 2], [3, 4]], dtype=np.int64),
  //   "b": np.bool_(True), "d": np.float64(2.25), "h": np.array([0.5, -2], dtype=np.float16)}, protocol=4)
  const v = load(hex(
    "800495a8010000000000007d94288c0178948c166e756d70792e5f636f72652e6d756c74696172726179948c06736361" +
      "6c61729493948c056e756d7079948c0564747970659493948c02663494898887945294284b038c013c944e4e4e4affff" +
      "ffff4affffffff4b0074946243040000c03f94869452948c01619468028c0c5f7265636f6e7374727563749493946805" +
      "8c076e6461727261799493944b0085944301629487945294284b014b024b02869468078c02693894898887945294284b" +
      "03680b4e4e4e4affffffff4affffffff4b00749462894320010000000000000002000000000000000300000000000000" +
      "0400000000000000947494628c016294680468078c02623194898887945294284b038c017c944e4e4e4affffffff4aff" +
      "ffffff4b0074946243010194869452948c016494680468078c02663894898887945294284b03680b4e4e4e4affffffff" +
      "4affffffff4b007494624308000000000000024094869452948c016894681268144b008594681687945294284b014b02" +
      "859468078c02663294898887945294284b03680b4e4e4e4affffffff4affffffff4b00749462894304003800c0947494" +
      "62752e",
  ));
  assert.deepEqual(toPlain(v), { x: 1.5, a: [[1, 2], [3, 4]], b: true, d: 2.25, h: [0.5, -2] });
});

Deno.test("unpickle: protocol 5 bytearray", () => {
  assert.deepEqual(
    load(hex("8005950d000000000000009602000000000000006162942e")),
    new Uint8Array([0x61, 0x62]),
  );
});

/** A pickle that would run `touch <marker>` through a global and REDUCE if it were executed. */
function malicious(module: string, name: string, marker: string, protocol4 = false): Uint8Array {
  const enc = new TextEncoder();
  const cmd = enc.encode(`touch ${marker}`);
  const str = (b: Uint8Array) => [0x8c, b.length, ...b];
  const head = protocol4
    ? [0x80, 4, ...str(enc.encode(module)), ...str(enc.encode(name)), 0x93]
    : [0x80, 2, 0x63, ...enc.encode(`${module}\n${name}\n`)];
  return new Uint8Array([
    ...head,
    0x58,
    ...new Uint8Array(new Uint32Array([cmd.length]).buffer),
    ...cmd,
    0x85,
    0x52,
    0x2e,
  ]);
}

Deno.test("unpickle: os.system + REDUCE is refused, names the global, and runs nothing", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "sg3-pickle-" });
  try {
    const marker = join(dir, "pwned");
    const cases: [string, string, boolean][] = [
      ["os", "system", false],
      ["posix", "system", false],
      ["builtins", "eval", true],
      ["subprocess", "Popen", true],
      ["__builtin__", "exec", false],
    ];
    for (const [module, name, p4] of cases) {
      const bytes = malicious(module, name, marker, p4);
      assert.throws(
        () => load(bytes),
        (e) =>
          e instanceof UserError && e.message.includes(`"${module}.${name}"`) &&
          e.message.startsWith("test.pkl:"),
      );
      const file = join(dir, `${module}.${name}.pkl`);
      Deno.writeFileSync(file, bytes);
      await assert.rejects(
        loadNetwork(file),
        (e) => e instanceof UserError && e.message.includes(`${module}.${name}`),
      );
    }
    // The CLI: exit code 2 with one line on stderr, and still nothing ran.
    const file = join(dir, "os.system.pkl");
    const { code, err: errors } = await runMain(["inspect", file]);
    assert.equal(code, 2);
    assert.equal(errors.length, 1);
    assert.match(errors[0], /os\.system/);
    assert.ok(!errors[0].includes("\n"));
    assert.ok(!existsSync(marker), "the marker file must not exist");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("unpickle: malformed streams end in a UserError", () => {
  const bad: [string, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /truncated/],
    ["truncated BINUNICODE", hex("80045805000000616263"), /truncated/],
    ["unknown opcode", hex("8004ff"), /unknown opcode/],
    ["stack underflow", hex("80042e"), /underflow/],
    ["missing memo", hex("8004680a2e"), /memo/],
    ["REDUCE on a non-callable", hex("80044b0129522e"), /./],
    ["REDUCE on a string", hex("80048c0161295294"), /non-class/],
    ["SETITEMS on a list", hex("80045d284b014b02752e"), /non-dict/],
    ["protocol 6", hex("8006"), /protocol/],
    ["no STOP", hex("80044b01"), /truncated/],
    ["unsupported EXT1", hex("800482012e"), /unsupported/],
  ];
  for (const [what, bytes, re] of bad) {
    assert.throws(() => load(bytes), (e) => e instanceof UserError && re.test(e.message), what);
  }
});
