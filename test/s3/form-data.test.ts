import { describe, expect, test } from "bun:test";
import { S3Error } from "../../src/errors.ts";
import { requestBody } from "../../src/s3/body.ts";
import { formBoundary, readForm } from "../../src/s3/form-data.ts";
import { int, text } from "../sigv4/prng.ts";
import { fuzzIterations, fuzzRandom } from "../support/fuzz.ts";

const options = { fileField: "file", fieldBytesMax: 20 * 1024, tooLarge: () => new S3Error("MaxPostPreDataLengthExceeded", "too large") };

/** `bytes` in pieces of random sizes (1 to `maxPiece` bytes), as a socket might deliver them. */
async function* pieces(bytes: Uint8Array, rand: () => number, maxPiece: number): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < bytes.length; ) {
    const n = 1 + int(rand, maxPiece);
    // a fresh buffer each, as node:http hands them over
    yield bytes.slice(at, at + n);
    at += n;
  }
}

function encodeForm(boundary: string, fields: Array<[string, string]>, file?: { name?: string; filename: string; type?: string; content: Uint8Array }, after = ""): Buffer {
  const parts: Buffer[] = [];
  for (const [name, value] of fields) {
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`));
  }
  if (file) {
    const type = file.type === undefined ? "" : `Content-Type: ${file.type}\r\n`;
    parts.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${file.name ?? "file"}"; filename="${file.filename}"\r\n${type}\r\n`));
    parts.push(Buffer.from(file.content), Buffer.from("\r\n"));
  }
  parts.push(Buffer.from(`${after}--${boundary}--\r\n`));
  return Buffer.concat(parts);
}

async function readAll(body: Uint8Array, boundary: string, rand = fuzzRandom(7), maxPiece = 4096) {
  const form = await readForm(pieces(body, rand, maxPiece), boundary, options);
  const chunks: Uint8Array[] = [];
  if (form.file) for await (const c of form.file.content) chunks.push(Buffer.from(c));
  return { fields: form.fields, file: form.file && { filename: form.file.filename, content: Buffer.concat(chunks) } };
}

async function errorCode(body: Uint8Array, boundary: string, maxPiece = 4096): Promise<string> {
  try {
    await readAll(body, boundary, fuzzRandom(3), maxPiece);
  } catch (e) {
    if (e instanceof S3Error) return e.code;
    throw e;
  }
  return "none";
}

describe("formBoundary", () => {
  test("takes the boundary of multipart/form-data, quoted or not; other types are not forms; a form type without a boundary is malformed", () => {
    expect(formBoundary("multipart/form-data; boundary=abc")).toBe("abc");
    expect(formBoundary('Multipart/Form-Data; charset=utf-8; boundary="a b:c"')).toBe("a b:c");
    expect(formBoundary("multipart/mixed; boundary=abc")).toBeUndefined();
    expect(formBoundary("application/x-www-form-urlencoded")).toBeUndefined();
    expect(formBoundary(undefined)).toBeUndefined();
    expect(formBoundary("text/plain; not(a=param")).toBeUndefined();
    expect(() => formBoundary("multipart/form-data")).toThrow("not well-formed");
    expect(() => formBoundary(`multipart/form-data; boundary=${"x".repeat(71)}`)).toThrow("not well-formed");
  });
});

describe("readForm", () => {
  test("reads the fields before the file and streams the file's bytes", async () => {
    const content = Buffer.from("hello\r\n--not-the-boundary\r\n");
    const body = encodeForm("XyZ", [["key", "a/${filename}"], ["Content-Type", "text/plain"]], { filename: "h.txt", type: "text/plain", content }, "");
    const form = await readAll(body, "XyZ");
    expect(form.fields).toEqual([["key", "a/${filename}"], ["Content-Type", "text/plain"]]);
    expect(form.file).toEqual({ filename: "h.txt", content });
  });

  test("ignores a preamble and whatever follows the file", async () => {
    const body = Buffer.concat([Buffer.from("preamble text\r\n"), encodeForm("b", [["a", "1"]], { filename: "", content: Buffer.from("x") }, "--b\r\nContent-Disposition: form-data; name=\"late\"\r\n\r\nv\r\n")]);
    const form = await readAll(body, "b");
    expect(form.fields).toEqual([["a", "1"]]);
    expect(form.file?.content.toString()).toBe("x");
  });

  test("a body without a file part gives its fields and no file", async () => {
    const form = await readAll(encodeForm("b", [["key", "k"]]), "b");
    expect(form).toEqual({ fields: [["key", "k"]], file: undefined });
  });

  test("the file is the part named file in any case; quoted values are taken as sent", async () => {
    const body = Buffer.from('--b\r\ncontent-disposition: form-data; name="FILE"; filename="C:\\dir\\a \\"q\\" %22.txt"\r\n\r\nDATA\r\n--b--');
    const form = await readAll(body, "b");
    expect(form.file?.filename).toBe('C:\\dir\\a \\"q\\" %22.txt');
    expect(form.file?.content.toString()).toBe("DATA");
  });

  test("a part without a filename gives none; spaces around a parameter's semicolon are allowed", async () => {
    const body = Buffer.from('--b\r\nContent-Disposition: form-data ; name="file" \r\n\r\nDATA\r\n--b--');
    const form = await readAll(body, "b");
    expect(form.file?.filename).toBeUndefined();
    expect(formBoundary("multipart/form-data ; boundary=abc ; charset=utf-8")).toBe("abc");
  });

  test("the file's content ends only with the body: a body cut off after the file's boundary fails it", async () => {
    const whole = encodeForm("b", [["key", "k"]], { filename: "f", content: Buffer.from("file bytes") }, '--b\r\nContent-Disposition: form-data; name="late"\r\n\r\nignored\r\n');
    async function* cut(): AsyncGenerator<Uint8Array> {
      yield whole.subarray(0, whole.length - 5);
      throw new Error("the request body was cut off (connection closed)");
    }
    const form = await readForm(cut(), "b", options);
    const read = async () => {
      for await (const _ of form.file!.content);
    };
    await expect(read()).rejects.toThrow("cut off");
    // past trailingBytesMax after the file, the rest is left unread and the file ends
    let pulled = 0;
    async function* long(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('--b\r\nContent-Disposition: form-data; name="file"; filename="f"\r\n\r\nx\r\n--b\r\nContent-Disposition: form-data; name="late"\r\n\r\n');
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield Buffer.alloc(16 * 1024, 0x61);
      }
    }
    const longForm = await readForm(long(), "b", options);
    const pieces: Uint8Array[] = [];
    for await (const piece of longForm.file!.content) pieces.push(piece);
    expect(Buffer.concat(pieces).toString()).toBe("x");
    expect(pulled).toBeLessThan(10);
  });

  test("refuses what is not multipart/form-data with that boundary", async () => {
    expect(await errorCode(Buffer.from("just some bytes"), "b")).toBe("MalformedPOSTRequest");
    expect(await errorCode(encodeForm("other", [["a", "1"]]), "b")).toBe("MalformedPOSTRequest");
    // a part without Content-Disposition, or without a name
    expect(await errorCode(Buffer.from("--b\r\nContent-Type: text/plain\r\n\r\nv\r\n--b--"), "b")).toBe("MalformedPOSTRequest");
    expect(await errorCode(Buffer.from('--b\r\nContent-Disposition: form-data; filename="x"\r\n\r\nv\r\n--b--'), "b")).toBe("MalformedPOSTRequest");
    // garbage after a delimiter
    expect(await errorCode(Buffer.from("--bzz\r\nContent-Disposition: form-data; name=a\r\n\r\nv\r\n--b--"), "b")).toBe("MalformedPOSTRequest");
    // a field that is not UTF-8
    expect(await errorCode(Buffer.concat([Buffer.from('--b\r\nContent-Disposition: form-data; name="a"\r\n\r\n'), Buffer.from([0xff, 0xfe]), Buffer.from("\r\n--b--")]), "b")).toBe("MalformedPOSTRequest");
  });

  test("a file cut off before its delimiter fails its content stream, at any cut", async () => {
    const whole = encodeForm("bound", [["key", "k"]], { filename: "f", content: Buffer.alloc(3000, 0x61) });
    const fileEnd = whole.lastIndexOf("\r\n--bound--");
    for (const cut of [fileEnd - 1000, fileEnd, fileEnd + 1, fileEnd + 5, fileEnd + 9]) {
      expect(await errorCode(whole.subarray(0, cut), "bound", 700)).toBe("MalformedPOSTRequest");
    }
    // the delimiter followed by nothing that makes it one is still inside the file
    expect(await errorCode(Buffer.concat([whole.subarray(0, fileEnd), Buffer.from("\r\n--boundx")]), "bound")).toBe("MalformedPOSTRequest");
  });

  test("fields before the file past the limit: the limit's error, without reading the rest", async () => {
    let read = 0;
    async function* endless(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('--b\r\nContent-Disposition: form-data; name="big"\r\n\r\n');
      while (true) {
        read += 65536;
        yield Buffer.alloc(65536, 0x61);
      }
    }
    const error = await readForm(endless(), "b", options).catch((e) => e);
    expect(error).toBeInstanceOf(S3Error);
    expect(error.code).toBe("MaxPostPreDataLengthExceeded");
    expect(read).toBeLessThanOrEqual(2 * 65536);
    // many small fields add up too
    const fields = Array.from({ length: 300 }, (_, i): [string, string] => [`x-amz-meta-f${i}`, "v".repeat(60)]);
    expect(await errorCode(encodeForm("b", fields, { filename: "f", content: Buffer.from("x") }), "b")).toBe("MaxPostPreDataLengthExceeded");
  });

  test("fields dripped a byte at a time are gathered in linear time", async () => {
    const value = "v".repeat(512 * 1024);
    const body = encodeForm("b", [["big", value]], { filename: "f", content: Buffer.from("x") });
    async function* drip(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < body.length; i++) yield body.subarray(i, i + 1);
    }
    const started = performance.now();
    const form = await readForm(drip(), "b", { ...options, fieldBytesMax: 1024 * 1024 });
    // gathering by copying everything held for each byte took 6 s here; linear, 0.2 s
    expect(performance.now() - started).toBeLessThan(3000);
    expect(form.fields[0][1]).toBe(value);
  });

  test("padding on delimiter lines counts against the fields' limit; a delimiter line with anything else is malformed", async () => {
    const padded = Buffer.from(Array.from({ length: 300 }, (_, i) => `--b${" ".repeat(79)}\r\nContent-Disposition: form-data; name="f${i}"\r\n\r\nv\r\n`).join("") + "--b--");
    expect(await errorCode(padded, "b")).toBe("MaxPostPreDataLengthExceeded");
    const file = '--b\r\nContent-Disposition: form-data; name="file"\r\n\r\nDATA';
    expect(await errorCode(Buffer.from(`${file}\r\n--b\rjunk`), "b")).toBe("MalformedPOSTRequest");
    expect(await errorCode(Buffer.from(`${file}\r\n--b `), "b")).toBe("MalformedPOSTRequest");
    expect((await readAll(Buffer.from(`${file}\r\n--b \t\r\n`), "b")).file?.content.toString()).toBe("DATA");
  });

  test("a file sent under another name is a field, whatever its bytes", async () => {
    const body = Buffer.concat([Buffer.from('--b\r\nContent-Disposition: form-data; name="upload"; filename="a.bin"\r\n\r\n'), Buffer.from([0xff, 0xfe, 0x00]), Buffer.from("\r\n--b--")]);
    const form = await readAll(body, "b");
    expect(form.file).toBeUndefined();
    expect(form.fields.map(([name]) => name)).toEqual(["upload"]);
  });

  test("property: any fields and file content, delivered in any pieces, read back exactly", async () => {
    const rand = fuzzRandom(42);
    for (let i = 0; i < fuzzIterations(300); i++) {
      const boundary = `----b${text(rand, 10).replace(/[^A-Za-z0-9'()+_,./:=?-]/g, "")}${int(rand, 1e6)}`;
      const fields: Array<[string, string]> = Array.from({ length: int(rand, 5) }, (_, j) => [`f${j}`, text(rand, 30).replace(/\r\n/g, "\n")]);
      // content made to contain near misses of the delimiter: its prefixes, CRLFs, dashes
      const near = [`\r\n--${boundary.slice(0, int(rand, boundary.length))}`, "\r\n", "--", "\r", boundary, `--${boundary}`];
      let content = "";
      for (let k = int(rand, 20); k > 0; k--) content += rand() < 0.5 ? near[int(rand, near.length)] : text(rand, 40);
      // (a client picks a boundary its content does not hold)
      const bytes = Buffer.from(content.replaceAll(`\r\n--${boundary}`, "\r\n-x"));
      const body = encodeForm(boundary, fields, { filename: "f.bin", content: bytes });
      const maxPiece = [1, 3, boundary.length, 64, 4096][int(rand, 5)];
      const form = await readAll(body, boundary, rand, maxPiece);
      expect(form.fields).toEqual(fields);
      expect(form.file?.content.equals(bytes)).toBe(true);
    }
  });

  test("a file's pieces are not its consumer's to release: a body made of them says its chunks are not owned", async () => {
    const form = await readForm(pieces(encodeForm("b", [], { filename: "f", content: Buffer.from("x") }), fuzzRandom(1), 16), "b", options);
    const body = requestBody(form.file!.content, {}, { kind: "unsigned" }, { limitBytes: 1024, lengthRequired: false });
    expect(body.chunksOwned).toBe(false);
    expect(Buffer.from(await body.bytes()).toString()).toBe("x");
  });

  test("a large file passes through as the request's own chunks, not copied", async () => {
    const content = new Uint8Array(8 * 1024 * 1024).map((_, i) => (i * 31) & 0xff);
    const body = encodeForm("b", [["key", "k"]], { filename: "f", content });
    const chunks = Array.from({ length: Math.ceil(body.length / 65536) }, (_, i) => body.slice(i * 65536, (i + 1) * 65536));
    async function* source() {
      yield* chunks;
    }
    const form = await readForm(source(), "b", options);
    const buffers = new Set(chunks.map((c) => c.buffer));
    let total = 0;
    let viewsOfInput = 0;
    for await (const piece of form.file!.content) {
      total += piece.length;
      if (buffers.has(piece.buffer as ArrayBuffer)) viewsOfInput += piece.length;
    }
    expect(total).toBe(content.length);
    expect(viewsOfInput / total).toBeGreaterThan(0.99);
  });
});
