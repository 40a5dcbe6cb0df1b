/**
 * An incremental parser of HTTP/1.1 responses, for the generator's socket client: bytes go in as
 * the socket delivers them, split anywhere; the head comes out parsed, the body chunk by chunk
 * (Content-Length, chunked, or up to the connection's end), never collected here.
 */

export class HttpProtocolError extends Error {
  readonly code = "HTTPProtocol";
}

export interface ResponseHead {
  status: number;
  /** lower-case names; repeated fields joined with "," */
  headers: Map<string, string>;
  /** the server will close the connection after this response */
  closes: boolean;
}

/** A head (status line and fields) longer than this is refused: S3 servers send a few hundred bytes. */
const headBytesMax = 64 * 1024;
/** A chunk-size line or trailer field longer than this is refused. */
const lineBytesMax = 4096;

const enum State {
  Head,
  Fixed,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
  UntilClose,
  Done,
}

const cr = 13;
const lf = 10;

export class ResponseParser {
  private state = State.Done;
  /** bytes of the head or of the current line, kept across pushes until its end arrives */
  private pending: Uint8Array = new Uint8Array(0);
  /** body bytes still to come: of the whole body (Fixed) or of the current chunk (ChunkData) */
  private left = 0;
  private headRequest = false;

  /**
   * `onHead` is called once a final (non-1xx) head is parsed; `onBody` with every body piece (a
   * view into the pushed bytes: copy it to keep it past the call); `onEnd` when the response is
   * complete.
   */
  constructor(
    private readonly onHead: (head: ResponseHead) => void,
    private readonly onBody: (chunk: Uint8Array) => void,
    private readonly onEnd: () => void,
  ) {}

  /** Expect the response to a new request; a HEAD request's response has no body, whatever its fields say. */
  expect(headRequest: boolean): void {
    if (this.state !== State.Done) throw new Error("ResponseParser.expect: the previous response is not complete");
    this.state = State.Head;
    this.pending = new Uint8Array(0);
    this.headRequest = headRequest;
  }

  get idle(): boolean {
    return this.state === State.Done;
  }

  /** Feed bytes from the connection. Bytes beyond the end of the response are a protocol error (no pipelining). */
  push(bytes: Uint8Array): void {
    let at = 0;
    while (at < bytes.length) {
      switch (this.state) {
        case State.Done:
          throw new HttpProtocolError(`${bytes.length - at} bytes after the end of the response`);
        case State.Head:
          at = this.readHead(bytes, at);
          break;
        case State.Fixed:
        case State.ChunkData: {
          const n = Math.min(this.left, bytes.length - at);
          this.onBody(bytes.subarray(at, at + n));
          at += n;
          this.left -= n;
          if (this.left === 0) {
            if (this.state === State.Fixed) this.finish();
            else this.state = State.ChunkDataEnd;
          }
          break;
        }
        case State.ChunkDataEnd:
        case State.ChunkSize:
        case State.Trailer:
          at = this.readLine(bytes, at);
          break;
        case State.UntilClose:
          this.onBody(bytes.subarray(at));
          at = bytes.length;
          break;
      }
    }
  }

  /** The connection ended. A response delimited by the end completes; any other that is under way was cut short. */
  close(): void {
    if (this.state === State.UntilClose) this.finish();
    else if (this.state !== State.Done) throw new HttpProtocolError("the connection closed before the response was complete");
  }

  private readHead(bytes: Uint8Array, at: number): number {
    const joined = this.pending.length === 0 ? bytes.subarray(at) : concat(this.pending, bytes.subarray(at));
    const end = indexOfBlankLine(joined, Math.max(0, this.pending.length - 3));
    if (end < 0) {
      if (joined.length > headBytesMax) throw new HttpProtocolError(`response head longer than ${headBytesMax} bytes`);
      // a copy: the pushed bytes may be a Buffer, whose slice() is a view of memory the socket reuses
      this.pending = new Uint8Array(joined);
      return bytes.length;
    }
    const consumed = end + 4 - this.pending.length;
    this.pending = new Uint8Array(0);
    const head = parseHead(latin1(joined.subarray(0, end)));
    if (head.status >= 100 && head.status < 200) return at + consumed; // 100 Continue and the like: the real head follows
    this.onHead(head);
    this.startBody(head);
    return at + consumed;
  }

  private startBody(head: ResponseHead): void {
    if (this.headRequest || head.status === 204 || head.status === 304) return this.finish();
    const coding = head.headers.get("transfer-encoding");
    if (coding !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(coding)) throw new HttpProtocolError(`unsupported transfer-encoding "${coding}"`);
      this.state = State.ChunkSize;
      return;
    }
    const length = head.headers.get("content-length");
    if (length === undefined) {
      this.state = State.UntilClose;
      head.closes = true;
      return;
    }
    if (!/^\d{1,15}$/.test(length)) throw new HttpProtocolError(`bad content-length "${length}"`);
    this.left = Number(length);
    if (this.left === 0) return this.finish();
    this.state = State.Fixed;
  }

  /** Reads one CRLF-terminated line of the chunked coding (a size, a chunk's end, a trailer field). */
  private readLine(bytes: Uint8Array, at: number): number {
    const nl = bytes.indexOf(lf, at);
    if (nl < 0) {
      this.pending = concat(this.pending, bytes.subarray(at));
      if (this.pending.length > lineBytesMax) throw new HttpProtocolError("chunked coding line too long");
      return bytes.length;
    }
    const whole = this.pending.length === 0 ? bytes.subarray(at, nl + 1) : concat(this.pending, bytes.subarray(at, nl + 1));
    this.pending = new Uint8Array(0);
    if (whole.length < 2 || whole[whole.length - 2] !== cr) throw new HttpProtocolError("chunked coding line without CRLF");
    const line = latin1(whole.subarray(0, whole.length - 2));
    if (this.state === State.ChunkDataEnd) {
      if (line !== "") throw new HttpProtocolError("chunk data longer than its size");
      this.state = State.ChunkSize;
    } else if (this.state === State.ChunkSize) {
      const size = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(line);
      if (size === null) throw new HttpProtocolError(`bad chunk size line "${line.slice(0, 40)}"`);
      this.left = parseInt(size[1], 16);
      this.state = this.left === 0 ? State.Trailer : State.ChunkData;
    } else if (line === "") {
      this.finish();
    }
    return nl + 1;
  }

  private finish(): void {
    this.state = State.Done;
    this.onEnd();
  }
}

function parseHead(text: string): ResponseHead {
  const lines = text.split("\r\n");
  const status = /^HTTP\/1\.([01]) (\d{3})(?: .*)?$/.exec(lines[0]);
  if (status === null) throw new HttpProtocolError(`bad status line "${lines[0].slice(0, 80)}"`);
  const headers = new Map<string, string>();
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    if (colon <= 0) throw new HttpProtocolError(`bad header line "${lines[i].slice(0, 80)}"`);
    const name = lines[i].slice(0, colon).toLowerCase();
    const value = lines[i].slice(colon + 1).trim();
    const before = headers.get(name);
    headers.set(name, before === undefined ? value : `${before},${value}`);
  }
  const connection = headers.get("connection")?.toLowerCase() ?? "";
  const closes = status[1] === "0" ? !/keep-alive/.test(connection) : /(^|,)\s*close\s*(,|$)/.test(connection);
  return { status: Number(status[2]), headers, closes };
}

function indexOfBlankLine(bytes: Uint8Array, from: number): number {
  for (let i = bytes.indexOf(cr, from); i >= 0 && i + 3 < bytes.length; i = bytes.indexOf(cr, i + 1)) {
    if (bytes[i + 1] === lf && bytes[i + 2] === cr && bytes[i + 3] === lf) return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString("latin1");
}
