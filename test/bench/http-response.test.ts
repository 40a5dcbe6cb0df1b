import { describe, expect, test } from "bun:test";
import { HttpProtocolError, ResponseParser, type ResponseHead } from "../../src/bench/http-response.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

interface Parsed {
  heads: ResponseHead[];
  body: Uint8Array;
  ends: number;
}

/** Feeds `wire` to a parser in pieces of random sizes (1 to maxPiece bytes); `close` ends the connection after. */
function parse(wire: Uint8Array, opts: { rand?: () => number; maxPiece?: number; head?: boolean; close?: boolean } = {}): Parsed {
  const out: Parsed = { heads: [], body: new Uint8Array(0), ends: 0 };
  const pieces: Uint8Array[] = [];
  const parser = new ResponseParser(
    (head) => out.heads.push(head),
    // Views are only valid during the call: copy, and scribble over the source afterwards (below).
    (chunk) => pieces.push(new Uint8Array(chunk)),
    () => out.ends++,
  );
  parser.expect(opts.head ?? false);
  const rand = opts.rand ?? Math.random;
  for (let at = 0; at < wire.length; ) {
    const n = Math.min(wire.length - at, 1 + Math.floor(rand() * (opts.maxPiece ?? 64)));
    const piece = Buffer.from(wire.subarray(at, at + n)); // a Buffer, as Bun's sockets deliver
    parser.push(piece);
    piece.fill(0xee);
    at += n;
  }
  if (opts.close) parser.close();
  out.body = Buffer.concat(pieces);
  return out;
}

const text = (s: string) => new TextEncoder().encode(s);
const join = (...parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));

function chunked(body: Uint8Array, rand: () => number, trailers: string[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (let at = 0; at < body.length; ) {
    const n = Math.min(body.length - at, 1 + Math.floor(rand() * 700));
    const ext = rand() < 0.2 ? ";name=value" : "";
    parts.push(text(`${(rand() < 0.5 ? n.toString(16) : n.toString(16).toUpperCase())}${ext}\r\n`), body.subarray(at, at + n), text("\r\n"));
    at += n;
  }
  parts.push(text(`0\r\n${trailers.map((t) => `${t}\r\n`).join("")}\r\n`));
  return join(...parts);
}

describe("ResponseParser", () => {
  test("property: any framing, split anywhere, gives the head, the exact body and one end", () => {
    const rand = fuzzRandom(11);
    for (let i = 0; i < fuzzIterations(400); i++) {
      const body = new Uint8Array(Math.floor(rand() * 5000)).map(() => (rand() * 256) | 0);
      const framing = ["length", "chunked", "close"][Math.floor(rand() * 3)];
      const status = [200, 206, 403, 404, 500][Math.floor(rand() * 5)];
      const continued = rand() < 0.2 ? "HTTP/1.1 100 Continue\r\n\r\n" : "";
      const fields = [`ETag: "abc"`, `x-amz-request-id: ${i}`, `Set-Cookie: a=1`, `set-cookie: b=2`];
      if (framing === "length") fields.push(`Content-Length: ${body.length}`);
      if (framing === "chunked") fields.push("Transfer-Encoding: chunked");
      const head = text(`${continued}HTTP/1.1 ${status} Whatever Reason\r\n${fields.join("\r\n")}\r\n\r\n`);
      const payload = framing === "chunked" ? chunked(body, rand, rand() < 0.5 ? ["x-amz-checksum-crc32: AAAAAA=="] : []) : body;
      const got = parse(join(head, payload), { rand, maxPiece: 1 + Math.floor(rand() * 3000), close: framing === "close" });
      expect(got.heads.length).toBe(1);
      expect(got.heads[0].status).toBe(status);
      expect(got.heads[0].headers.get("etag")).toBe('"abc"');
      expect(got.heads[0].headers.get("x-amz-request-id")).toBe(String(i));
      expect(got.heads[0].headers.get("set-cookie")).toBe("a=1,b=2");
      expect(got.heads[0].closes).toBe(framing === "close");
      expect(got.ends).toBe(1);
      expect(Buffer.compare(got.body, body)).toBe(0);
    }
  });

  test("a HEAD response, a 204 and a 304 have no body whatever their length says", () => {
    const head = parse(text("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"), { head: true });
    expect(head.ends).toBe(1);
    expect(head.body.length).toBe(0);
    for (const status of [204, 304]) {
      const got = parse(text(`HTTP/1.1 ${status} X\r\nContent-Length: 10\r\n\r\n`));
      expect(got.ends).toBe(1);
    }
  });

  test("Connection: close, and HTTP/1.0 without keep-alive, mark the connection as closing", () => {
    expect(parse(text("HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n")).heads[0].closes).toBe(true);
    expect(parse(text("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")).heads[0].closes).toBe(false);
    expect(parse(text("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")).heads[0].closes).toBe(true);
    expect(parse(text("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")).heads[0].closes).toBe(false);
  });

  test("the parser is used again for the next response on the same connection", () => {
    const bodies: string[] = [];
    let ends = 0;
    const parser = new ResponseParser(() => {}, (c) => bodies.push(Buffer.from(c).toString()), () => ends++);
    for (const body of ["one", "second"]) {
      parser.expect(false);
      parser.push(text(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`));
    }
    expect(bodies).toEqual(["one", "second"]);
    expect(ends).toBe(2);
    expect(() => parser.push(text("x"))).toThrow("after the end of the response");
  });

  const refused: [string, string, { close?: boolean }?][] = [
    ["HTTP/2 200 OK\r\n\r\n", "bad status line"],
    ["HTTP/1.1 2000 OK\r\n\r\n", "bad status line"],
    ["HTTP/1.1 200 OK\r\nno colon here\r\n\r\n", "bad header line"],
    ["HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad content-length"],
    ["HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "bad content-length"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", "unsupported transfer-encoding"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size line"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", "chunk data longer than its size"],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nab", "without CRLF"],
    ["HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nabc", "after the end of the response"],
    ["HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabc", "closed before the response was complete", { close: true }],
    ["HTTP/1.1 200 OK\r\nContent-Le", "closed before the response was complete", { close: true }],
    ["HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", "closed before the response was complete", { close: true }],
  ];
  for (const [wire, message, opts] of refused) {
    test(`refuses ${JSON.stringify(wire.slice(0, 60))}: ${message}`, () => {
      let error: unknown;
      try {
        parse(text(wire), { ...opts, maxPiece: 7 });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HttpProtocolError);
      expect((error as Error).message).toContain(message);
    });
  }

  test("a head that never ends is refused at 64 KiB, not buffered forever", () => {
    const parser = new ResponseParser(() => {}, () => {}, () => {});
    parser.expect(false);
    parser.push(text("HTTP/1.1 200 OK\r\n"));
    const filler = text(`x-filler: ${"a".repeat(1000)}\r\n`);
    expect(() => {
      for (let i = 0; i < 100; i++) parser.push(filler);
    }).toThrow("response head longer than 65536 bytes");
  });
});
