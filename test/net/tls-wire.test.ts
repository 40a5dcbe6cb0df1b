import { expect, test } from "bun:test";
import {
  controlFrameBytesMax, dataFrameBytesMax, decodeCall, decodeCredit, decodeHello, decodeReason, decodeReply, encodeCall, encodeCredit,
  encodeHello, encodeReply, Frame, frame, frameHead, FrameParser, wireVersion,
} from "../../src/net/tls-wire.ts";

type Seen = [string, number, number, string];

/** Feeds `bytes` to a parser in pieces of the given sizes; returns what came out (DATA pieces joined per stream). */
function parse(bytes: Uint8Array, cuts: number[]): { seen: Seen[]; data: Map<number, number[]>; violations: string[] } {
  const seen: Seen[] = [];
  const data = new Map<number, number[]>();
  const violations: string[] = [];
  const p = new FrameParser({
    control: (type, flags, stream, payload) => seen.push([String(type), flags, stream, new TextDecoder().decode(payload)]),
    data: (stream, piece) => data.set(stream, [...(data.get(stream) ?? []), ...piece]),
    violation: (why) => violations.push(why),
  });
  let off = 0;
  for (const n of cuts) { p.push(bytes.subarray(off, off + n)); off += n; }
  p.push(bytes.subarray(off));
  return { seen, data, violations };
}

test("frames survive any split of the byte stream", () => {
  const body = Uint8Array.from({ length: 3000 }, (_, i) => i % 251);
  const wire = Buffer.concat([
    frame(Frame.Hello, 0, '{"v":1,"id":"a"}'),
    frame(Frame.Call, 1, "head", 1),
    frameHead(Frame.Data, 1, body.length), body,
    frame(Frame.End, 1),
    frame(Frame.Data, 3, new Uint8Array(0)),
    frame(Frame.Reset, 3, "cancelled:gone"),
  ]);
  const whole = parse(wire, []);
  expect(whole.violations).toEqual([]);
  expect(whole.seen).toEqual([
    [String(Frame.Hello), 0, 0, '{"v":1,"id":"a"}'],
    [String(Frame.Call), 1, 1, "head"],
    [String(Frame.End), 0, 1, ""],
    [String(Frame.Reset), 0, 3, "cancelled:gone"],
  ]);
  expect(whole.data.get(1)).toEqual([...body]);
  expect(whole.data.has(3)).toBe(false);
  for (const step of [1, 5, 11, 12, 13, 777]) {
    const cuts = Array.from({ length: Math.ceil(wire.length / step) }, () => step);
    const r = parse(wire, cuts);
    expect(r.seen).toEqual(whole.seen);
    expect(r.data.get(1)).toEqual([...body]);
  }
});

test("an oversized frame is a violation, and nothing after it is parsed", () => {
  const r = parse(Buffer.concat([frameHead(Frame.Data, 1, dataFrameBytesMax + 1), frame(Frame.End, 1)]), []);
  expect(r.violations.length).toBe(1);
  expect(r.seen).toEqual([]);
  const c = parse(frameHead(Frame.Call, 1, controlFrameBytesMax + 1), []);
  expect(c.violations.length).toBe(1);
});

test("call, reply, credit and reason payloads round-trip", () => {
  const call = encodeCall({ deadlineMs: 1234.6, flags: 3, method: "shard.put", headerJson: '{"k":"é"}' });
  expect(decodeCall(call)).toEqual({ deadlineMs: 1235, flags: 3, method: "shard.put", headerJson: '{"k":"é"}' });
  expect(decodeCall(call.subarray(0, 8))).toBeUndefined(); // method cut short
  expect(decodeReply(encodeReply(1, 0, "boom"))).toEqual({ status: 1, flags: 0, text: "boom" });
  expect(decodeReply(new Uint8Array(1))).toBeUndefined();
  expect(decodeCredit(encodeCredit(2 ** 31 + 5))).toBe(2 ** 31 + 5);
  expect(decodeCredit(new Uint8Array(3))).toBeUndefined();
  expect(decodeReason(new TextEncoder().encode("refused:a:b"))).toEqual({ code: "refused", message: "a:b" });
});

test("a body is whole only when the End frame's trailer matches what arrived", async () => {
  const { Conn } = await import("../../src/net/tls-conn.ts");
  const { BodyFramer } = await import("../../src/net/framing.ts");
  const body = new Uint8Array(300_000).map((_, i) => i * 31);
  const good = new BodyFramer();
  good.push(body);
  const short = new BodyFramer();
  short.push(body.subarray(1));
  const flipped = Uint8Array.from(good.trailer());
  flipped[15]! ^= 1;
  const cases: [string, Uint8Array | undefined, string | undefined][] = [
    ["matching trailer", good.trailer(), undefined],
    ["trailer of another length", short.trailer(), "body length"],
    ["trailer of another CRC", flipped, "CRC"],
    ["End payload of the wrong size", good.trailer().subarray(0, 15), "no trailer"],
    ["no trailer", undefined, "no trailer"],
  ];
  for (const [name, trailer, error] of cases) {
    // A socket that takes every write: only the receiving path is under test here.
    const socket = { write: (b: Uint8Array) => b.length, end() {} } as unknown as ConstructorParameters<typeof Conn>[0];
    const conn = new Conn(socket, { control() {}, closed() {} });
    const s = conn.open(1);
    const got = s.receiveBody(5_000).stream;
    for (let off = 0; off < body.length; off += dataFrameBytesMax) {
      const piece = body.subarray(off, off + dataFrameBytesMax);
      conn.onData(Buffer.concat([frameHead(Frame.Data, 1, piece.length), piece]));
    }
    conn.onData(frame(Frame.End, 1, trailer));
    const read = new Response(got).bytes();
    if (error === undefined) expect(await read, name).toEqual(body);
    else await expect(read, name).rejects.toThrow(error);
  }
});

test("a Hello names the node and the wire version; another version, no id or no JSON is refused", () => {
  const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));
  expect(decodeHello(enc(encodeHello("n3")))).toEqual({ id: "n3" });
  expect(decodeHello(enc({ v: wireVersion - 1, id: "n3" }))).toEqual({ refused: `wire version ${wireVersion - 1}, this node speaks ${wireVersion}` });
  expect(decodeHello(enc({ id: "n3" }))).toHaveProperty("refused");
  expect(decodeHello(enc({ v: wireVersion }))).toEqual({ refused: "a Hello without an id" });
  expect(decodeHello(enc("{not json"))).toEqual({ refused: "a Hello that is not JSON" });
});
