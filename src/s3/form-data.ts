/**
 * A streaming reader of multipart/form-data bodies (RFC 7578, RFC 2046 §5.1), shaped by what S3's
 * POST Object needs: the text fields before the file are read whole (at most `fieldBytesMax` of
 * them, headers included), and the file's content is handed over as it arrives, never held whole.
 * What follows the file is read only to the body's end, and no more than `trailingBytesMax` of it:
 * S3 ignores fields after the file. Pure apart from reading `source`.
 */
import { S3Error } from "../errors.ts";

export interface FormFile {
  /** the name the part gave for its file (Content-Disposition's filename), when it gave one */
  filename: string | undefined;
  /**
   * The file's bytes, ending where the next boundary begins; fails with MalformedPOSTRequest when
   * the body ends first. Read once. Its pieces are views of the request's chunks, which the reader
   * may still hold views of too: they are not the consumer's to release (not `chunksOwned`).
   */
  content: AsyncIterable<Uint8Array>;
}

export interface Form {
  /** the text fields before the file, in order, names as sent */
  fields: Array<[string, string]>;
  /** the part named `fileField`, or undefined when the body ended without one */
  file: FormFile | undefined;
}

export const malformedForm = () => new S3Error("MalformedPOSTRequest", "The body of your POST request is not well-formed multipart/form-data.");

/**
 * The boundary of a `multipart/form-data; boundary=...` Content-Type; undefined for any other type
 * (not a form). A form type without a usable boundary is MalformedPOSTRequest.
 */
export function formBoundary(contentType: string | undefined): string | undefined {
  if (contentType?.split(";")[0].trim().toLowerCase() !== "multipart/form-data") return undefined;
  const [, ...params] = splitParams(contentType);
  const boundary = params.find(([name]) => name === "boundary")?.[1];
  // RFC 2046: 1-70 characters, and not ending in a space
  if (boundary === undefined || !/^[\x20-\x7e]{0,69}[\x21-\x7e]$/.test(boundary)) throw malformedForm();
  return boundary;
}

const crlf = Buffer.from("\r\n");
const headerEnd = Buffer.from("\r\n\r\n");
const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
/** Transport padding (spaces) a delimiter line may carry before its CRLF: RFC 2046 sets no limit, s3d this one. */
const delimiterPaddingBytesMax = 80;

/**
 * Reads the parts of a form body up to and including the head of the part named `fileField`
 * (compared without regard to case). Fails with MalformedPOSTRequest for a body that is not
 * multipart/form-data with this boundary, and with `tooLarge()` once the parts before the file
 * exceed `fieldBytesMax` bytes.
 */
export async function readForm(
  source: AsyncIterable<Uint8Array>,
  boundary: string,
  options: { fileField: string; fieldBytesMax: number; tooLarge: () => S3Error },
): Promise<Form> {
  const input = new ChunkReader(source[Symbol.asyncIterator]());
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // The body may start with the first delimiter itself (no preamble): read it as if a CRLF came before.
  input.unshift(crlf);
  const fields: Array<[string, string]> = [];
  let budget = options.fieldBytesMax;
  const within = async (find: Buffer) => {
    const at = await input.find(find, budget);
    if (at === "limit") throw options.tooLarge();
    if (at === "end") throw malformedForm();
    budget -= at + find.length;
    return at;
  };
  // the preamble, ignored
  input.skip(await within(delimiter) + delimiter.length);
  while (true) {
    const after = await afterDelimiter(input);
    budget -= after.bytes;
    if (after.next === "close") return { fields, file: undefined };
    const head = parsePartHead(input.take(await within(headerEnd)));
    input.skip(headerEnd.length);
    if (head.name.toLowerCase() === options.fileField) return { fields, file: { filename: head.filename, content: partContent(input, delimiter) } };
    const value = input.take(await within(delimiter));
    input.skip(delimiter.length);
    // (a file sent under another name is a field to S3: its bytes need not be text)
    fields.push([head.name, head.filename === undefined ? decodeText(value) : value.toString("utf8")]);
  }
}

/**
 * What follows a delimiter, consumed: "--" closes the body; spaces and a CRLF begin a part. Anything
 * else means the bytes were no delimiter, and the body is malformed.
 */
async function afterDelimiter(input: ChunkReader): Promise<{ next: "part" | "close"; bytes: number }> {
  if (await input.startsWith("--")) {
    input.skip(2);
    return { next: "close", bytes: 2 };
  }
  const at = await input.find(crlf, delimiterPaddingBytesMax);
  if (at === "end" || at === "limit" || !/^[ \t]*$/.test(input.take(at).toString("latin1"))) throw malformedForm();
  input.skip(crlf.length);
  return { next: "part", bytes: at + crlf.length };
}

/**
 * How much of a body after its file is read, so that the file is stored only once the whole
 * request has arrived (a client that hangs up before the end of its body stores nothing). Fields
 * after the file are ignored; beyond this much the rest is left unread and the connection closes.
 */
export const trailingBytesMax = 64 * 1024;

/**
 * A part's bytes up to the next delimiter, as they arrive; then checks what follows that delimiter
 * and reads on to the end of the body (up to `trailingBytesMax`): the content ends only then.
 */
async function* partContent(input: ChunkReader, delimiter: Buffer): AsyncGenerator<Uint8Array> {
  while (true) {
    const { piece, found } = await input.until(delimiter);
    if (piece.length > 0) yield piece;
    if (found) break;
  }
  input.skip(delimiter.length);
  await afterDelimiter(input);
  await input.drain(trailingBytesMax);
}

interface PartHead {
  name: string;
  filename: string | undefined;
}

/**
 * A part's header section: its Content-Disposition, form-data; name="..."[; filename="..."]. Other
 * headers (the part's Content-Type) are not used: S3 sets an object's type from the form's fields.
 */
function parsePartHead(bytes: Buffer): PartHead {
  let disposition: string | undefined;
  for (const line of decodeText(bytes).split("\r\n")) {
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformedForm();
    if (line.slice(0, colon).trim().toLowerCase() === "content-disposition") disposition = line.slice(colon + 1).trim();
  }
  if (disposition === undefined) throw malformedForm();
  const [type, ...params] = splitParams(disposition);
  const name = params.find(([n]) => n === "name")?.[1];
  if (type.toLowerCase() !== "form-data" || name === undefined || name === "") throw malformedForm();
  return { name, filename: params.find(([n]) => n === "filename")?.[1] };
}

/**
 * `type; a=b; c="d e"` as the type and its parameters, names lowercase. Quoted values are taken
 * as sent: browsers escape `"` as %22 and send a backslash as it is (WHATWG HTML), so a Windows
 * path keeps its separators; a backslash-escaped quote (RFC 2616 style) does not end the value.
 */
function splitParams(header: string): [string, ...Array<[string, string]>] {
  const semicolon = header.indexOf(";");
  const type = (semicolon < 0 ? header : header.slice(0, semicolon)).trim();
  const params: Array<[string, string]> = [];
  const pattern = /\s*;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/y;
  let at = semicolon < 0 ? header.length : semicolon;
  while (at < header.length) {
    pattern.lastIndex = at;
    const m = pattern.exec(header);
    if (m === null) {
      if (header.slice(at).trim() === "" || header.slice(at).trim() === ";") break;
      throw malformedForm();
    }
    params.push([m[1].toLowerCase(), m[2] ?? m[3]]);
    at = pattern.lastIndex;
  }
  return [type, ...params];
}

function decodeText(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw malformedForm();
  }
}

/**
 * The unread bytes of a stream of chunks, with the searches the form needs. Small spans are
 * copied together; a file's content passes through as views of the chunks it arrived in.
 */
class ChunkReader {
  private held: Buffer = Buffer.alloc(0);
  /**
   * Where chunks read onto `held` are gathered: `held` ends at `gatheredEnd` while it is a view of
   * it, and later chunks are copied in after that, into a new space twice the size when it is full.
   * So gathering many small chunks (a client dripping its fields byte by byte) costs linear time,
   * and no byte a view was handed out of is ever written again.
   */
  private gathered: Buffer = Buffer.alloc(0);
  private gatheredEnd = 0;
  private ended = false;

  constructor(private readonly source: AsyncIterator<Uint8Array>) {}

  unshift(bytes: Buffer): void {
    this.held = Buffer.concat([bytes, this.held]);
  }

  /** Reads one more chunk onto what is held; false at the end of the stream. */
  private async more(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    if (this.held.length === 0) {
      this.held = chunk;
      return true;
    }
    const length = this.held.length + chunk.length;
    const heldEndsGathered = this.held.buffer === this.gathered.buffer && this.held.byteOffset + this.held.length === this.gathered.byteOffset + this.gatheredEnd;
    if (!heldEndsGathered || this.gatheredEnd + chunk.length > this.gathered.length) {
      // (allocUnsafeSlow: a buffer of its own, never a slice of the shared pool)
      const space = Buffer.allocUnsafeSlow(Math.max(4096, 2 * length));
      this.held.copy(space);
      this.gathered = space;
      this.gatheredEnd = this.held.length;
    }
    chunk.copy(this.gathered, this.gatheredEnd);
    this.gatheredEnd += chunk.length;
    this.held = this.gathered.subarray(this.gatheredEnd - length, this.gatheredEnd);
    return true;
  }

  /** The offset of `needle` in what is unread, reading on as needed; "limit" when it is not within `limitBytes`. */
  async find(needle: Buffer, limitBytes: number): Promise<number | "end" | "limit"> {
    let from = 0;
    while (true) {
      const at = this.held.indexOf(needle, from);
      if (at >= 0) return at > limitBytes ? "limit" : at;
      if (this.held.length > limitBytes + needle.length) return "limit";
      from = Math.max(0, this.held.length - needle.length + 1);
      if (!(await this.more())) return "end";
    }
  }

  async startsWith(text: string): Promise<boolean> {
    return (await this.peek(text.length)) === text;
  }

  /** Up to `n` unread bytes as latin1 text, without consuming them (fewer at the end of the stream). */
  async peek(n: number): Promise<string> {
    while (this.held.length < n && (await this.more()));
    return this.held.subarray(0, n).toString("latin1");
  }

  /** Reads to the end of the stream, discarding, unless more than `limitBytes` are left. */
  async drain(limitBytes: number): Promise<void> {
    let read = this.held.length;
    this.held = Buffer.alloc(0);
    while (read <= limitBytes && !this.ended) {
      const next = await this.source.next();
      if (next.done) this.ended = true;
      else read += next.value.length;
    }
  }

  /** Consumes and returns `n` bytes known to be held. */
  take(n: number): Buffer {
    const out = this.held.subarray(0, n);
    this.held = this.held.subarray(n);
    return out;
  }

  skip(n: number): void {
    this.held = this.held.subarray(n);
  }

  /**
   * The unread bytes before `delimiter`, in pieces: each call returns what can be passed on (all
   * but a tail that may begin the delimiter) and whether the delimiter was found, at the start of
   * what remains held. A new chunk is searched where it meets the tail (a copy of at most twice
   * the delimiter's length), then on its own, so a file's chunks are never copied whole.
   */
  async until(delimiter: Buffer): Promise<{ piece: Buffer; found: boolean }> {
    const at = this.held.indexOf(delimiter);
    if (at >= 0) return { piece: this.take(at), found: true };
    const keep = Math.min(this.held.length, delimiter.length - 1);
    if (this.held.length > keep) return { piece: this.take(this.held.length - keep), found: false };
    // only a tail shorter than the delimiter is held: bring in the next chunk
    const tail = this.held;
    if (this.ended) throw malformedForm();
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      throw malformedForm();
    }
    const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    // A delimiter that begins in the tail ends within the chunk's first bytes, unless the chunk is
    // shorter than a delimiter. Then, or when it does begin there, both are held together (a copy
    // of a small chunk, or of one chunk at the end of a part) for the next call to search.
    const short = chunk.length < delimiter.length;
    if (short || Buffer.concat([tail, chunk.subarray(0, delimiter.length - 1)]).indexOf(delimiter) >= 0) {
      this.held = Buffer.concat([tail, chunk]);
      return { piece: Buffer.alloc(0), found: false };
    }
    this.held = chunk;
    return { piece: tail, found: false };
  }
}
