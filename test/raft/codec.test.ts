import { describe, expect, test } from "bun:test";
import { CodecError, decodeMessage, encodeMessage } from "../../src/raft/codec.ts";
import { Prng } from "../../src/raft/prng.ts";
import { EntryType, MsgType, message, type Message } from "../../src/raft/types.ts";

function randomMessage(p: Prng): Message {
  const entries = Array.from({ length: p.int(4) }, (_, i) => ({
    index: 100 + i,
    term: p.int(1000),
    type: p.chance(0.2) ? EntryType.ConfChange : EntryType.Normal,
    data: Uint8Array.from({ length: p.int(50) }, () => p.int(256)),
  }));
  return message({
    type: (1 + p.int(12)) as MsgType,
    from: 1 + p.int(7),
    to: 1 + p.int(7),
    term: p.int(2 ** 40),
    logTerm: p.int(1000),
    index: p.int(2 ** 45),
    commit: p.int(1 << 30),
    reject: p.chance(0.5),
    rejectHint: p.int(1000),
    ctx: p.chance(0.5) ? `r${p.int(1e6)}é` : "",
    transfer: p.chance(0.2),
    entries,
    snapshot: p.chance(0.2) ? { meta: { index: 7, term: 3, conf: { voters: [1, 2, 3], learners: [4] } }, data: Uint8Array.from([1, 2, 3]) } : undefined,
  });
}

describe("message codec", () => {
  test("round-trips random messages exactly", () => {
    const p = new Prng(99);
    for (let i = 0; i < 500; i++) {
      const m = randomMessage(p);
      expect(decodeMessage(encodeMessage(m))).toEqual(m);
    }
  });

  test("decoded payloads do not alias the wire buffer", () => {
    const wire = encodeMessage(message({ type: MsgType.App, from: 1, to: 2, term: 1, entries: [{ index: 1, term: 1, type: 0, data: Uint8Array.from([5]) }] }));
    const m = decodeMessage(wire);
    wire.fill(0);
    expect([...m.entries[0].data]).toEqual([5]);
  });

  test("every truncation and trailing garbage is rejected with CodecError", () => {
    const wire = encodeMessage(randomMessage(new Prng(5)));
    for (let n = 0; n < wire.length; n++) expect(() => decodeMessage(wire.subarray(0, n))).toThrow(CodecError);
    const longer = new Uint8Array(wire.length + 1);
    longer.set(wire);
    expect(() => decodeMessage(longer)).toThrow(CodecError);
  });

  test("random corruption never crashes the decoder with anything but CodecError", () => {
    const p = new Prng(7);
    for (let i = 0; i < 2000; i++) {
      const wire = encodeMessage(randomMessage(p));
      wire[p.int(wire.length)] ^= 1 << p.int(8);
      try {
        decodeMessage(wire);
      } catch (e) {
        expect(e).toBeInstanceOf(CodecError);
      }
    }
  });
});
