import { expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { decodeAwsChunked, chunkHeaderBytesMax } from "../../src/s3/chunked.ts";
import { signingKey, type ChunkSigning } from "../../src/sigv4/index.ts";
import { encodeAwsChunked } from "../support/chunked.ts";
import { mulberry32 } from "../sigv4/prng.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

const signing: ChunkSigning = {
  signingKey: signingKey("secret", "20261123", "us-east-1", "s3"),
  amzDate: "20261123T000000Z",
  scope: "20261123/us-east-1/s3/aws4_request",
  seedSignature: "a".repeat(64),
};

async function* pieces(bytes: Uint8Array, rand: () => number): AsyncGenerator<Uint8Array> {
  let offset = 0;
  while (offset < bytes.length) {
    const n = 1 + Math.floor(rand() * 3000);
    yield bytes.subarray(offset, offset + n);
    offset += n;
  }
}

async function decode(body: Uint8Array, opts: { signed: boolean; trailers?: string[] }, rand = mulberry32(1)) {
  let trailers: Map<string, string> | undefined;
  const out: Uint8Array[] = [];
  for await (const c of decodeAwsChunked(pieces(body, rand), {
    signing: opts.signed ? signing : undefined,
    announcedTrailers: opts.trailers ?? [],
    onTrailers: (t) => (trailers = t),
  })) out.push(c.slice());
  return { payload: Buffer.concat(out), trailers };
}

async function decodeError(body: Uint8Array, opts: { signed: boolean; trailers?: string[] }): Promise<string> {
  try {
    await decode(body, opts);
  } catch (e) {
    if (!(e instanceof S3Error)) throw e;
    return e.code;
  }
  return "accepted";
}

test("property: any payload, chunking and network split decodes to the payload, signed or not", async () => {
  const rand = fuzzRandom(5);
  const iterations = fuzzIterations(200);
  for (let i = 0; i < iterations; i++) {
    const payload = new Uint8Array(Math.floor(rand() * 20_000)).map(() => (rand() * 256) | 0);
    const signed = rand() < 0.5;
    const withTrailer = rand() < 0.5;
    const trailers: Array<[string, string]> = withTrailer ? [["x-amz-checksum-crc32", "AAAAAA=="]] : [];
    const body = encodeAwsChunked(payload, { chunkBytes: 1 + Math.floor(rand() * 9000), signing: signed ? signing : undefined, trailers });
    const got = await decode(body, { signed, trailers: trailers.map(([n]) => n) }, rand);
    expect(Buffer.compare(got.payload, payload)).toBe(0);
    expect(got.trailers).toEqual(new Map(trailers));
  }
});

test("wrong chunk signature, wrong trailer signature, truncation, oversized header, junk", async () => {
  const payload = Buffer.from("hello world, this is the payload");
  const good = encodeAwsChunked(payload, { chunkBytes: 8, signing, trailers: [["x-amz-checksum-crc32", "AAAAAA=="]] });
  const text = Buffer.from(good).toString("latin1");
  const opts = { signed: true, trailers: ["x-amz-checksum-crc32"] };
  expect(await decodeError(good, opts)).toBe("accepted");
  // flip one hex digit of the first chunk signature
  const sigAt = text.indexOf("chunk-signature=") + 16;
  const flipped = text.slice(0, sigAt) + (text[sigAt] === "0" ? "1" : "0") + text.slice(sigAt + 1);
  expect(await decodeError(Buffer.from(flipped, "latin1"), opts)).toBe("SignatureDoesNotMatch");
  // tamper with the data: the chunk signature no longer matches
  expect(await decodeError(Buffer.from(text.replace("hello", "HELLO"), "latin1"), opts)).toBe("SignatureDoesNotMatch");
  // change the trailer value: the trailer signature no longer matches
  expect(await decodeError(Buffer.from(text.replace("AAAAAA==", "BBBBBB=="), "latin1"), opts)).toBe("SignatureDoesNotMatch");
  // truncated anywhere before the end
  for (const cut of [5, 40, good.length - 3]) expect(await decodeError(good.subarray(0, cut), opts)).toBe("IncompleteBody");
  // an oversized chunk header
  expect(await decodeError(Buffer.from("1" + ";x".repeat(chunkHeaderBytesMax) + "\r\n", "latin1"), { signed: false })).toBe("InvalidRequest");
  // a chunk longer than its size, a bad size, junk after the end, an unannounced trailer
  expect(await decodeError(Buffer.from("3\r\nabcd\r\n0\r\n\r\n", "latin1"), { signed: false })).toBe("InvalidRequest");
  expect(await decodeError(Buffer.from("zz\r\nabcd\r\n0\r\n\r\n", "latin1"), { signed: false })).toBe("InvalidRequest");
  expect(await decodeError(Buffer.from("0\r\n\r\njunk", "latin1"), { signed: false })).toBe("InvalidRequest");
  expect(await decodeError(Buffer.from("0\r\nx-other:1\r\n\r\n", "latin1"), { signed: false })).toBe("InvalidRequest");
  expect(await decodeError(Buffer.from("0\r\n\r\n", "latin1"), { signed: false, trailers: ["x-amz-checksum-crc32"] })).toBe("InvalidRequest");
  // unsigned chunks where signatures are required
  expect(await decodeError(encodeAwsChunked(payload, { chunkBytes: 8 }), { signed: true })).toBe("InvalidRequest");
});

test("fuzz: mutated bodies only ever fail with an S3Error", async () => {
  const rand = fuzzRandom(9);
  const iterations = fuzzIterations(2000);
  const base = encodeAwsChunked(Buffer.from("0123456789".repeat(50)), { chunkBytes: 64, signing, trailers: [["x-amz-checksum-sha256", "x"]] });
  for (let i = 0; i < iterations; i++) {
    const body = Uint8Array.from(base);
    for (let j = 0; j < 1 + Math.floor(rand() * 4); j++) body[Math.floor(rand() * body.length)] = (rand() * 256) | 0;
    const cut = rand() < 0.2 ? Math.floor(rand() * body.length) : body.length;
    const code = await decodeError(body.subarray(0, cut), { signed: rand() < 0.5, trailers: ["x-amz-checksum-sha256"] });
    expect(typeof code).toBe("string");
  }
});

test("property: releasing every decoded piece that is a whole buffer, as it arrives, leaves the payload exact (the decoder keeps no view of it)", async () => {
  const { releaseChunk } = await import("../../src/util/chunks.ts");
  const rand = fuzzRandom(7);
  let released = 0;
  for (let i = 0; i < fuzzIterations(100); i++) {
    const payload = new Uint8Array(Math.floor(rand() * 40_000)).map(() => (rand() * 256) | 0);
    const signed = rand() < 0.5;
    const body = encodeAwsChunked(payload, { chunkBytes: 1 + Math.floor(rand() * 9000), signing: signed ? signing : undefined, trailers: [] });
    // as from node:http: every network piece in a buffer of its own
    async function* ownPieces() {
      for await (const piece of pieces(body, rand)) yield Uint8Array.from(piece);
    }
    const out: Buffer[] = [];
    for await (const c of decodeAwsChunked(ownPieces(), { signing: signed ? signing : undefined, announcedTrailers: [], onTrailers: () => {} })) {
      out.push(Buffer.from(c));
      releaseChunk(c);
      if ((c.buffer as ArrayBuffer).detached) released++;
    }
    expect(Buffer.compare(Buffer.concat(out), payload)).toBe(0);
  }
  expect(released).toBeGreaterThan(0);
});
