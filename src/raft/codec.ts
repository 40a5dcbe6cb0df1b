/**
 * Binary encoding of Raft messages for network transports (the in-memory one can use it too, to
 * prove nothing depends on shared objects). Little-endian; integers (terms, indexes, ids) are
 * float64, exact up to 2^53. Decoding checks every length against the buffer and throws
 * CodecError on malformed input: the transport drops such a message (Raft tolerates loss).
 */
import { EntryType, MsgType, message, type Entry, type Message, type Snapshot } from "./types.ts";

export const CODEC_VERSION = 1;
/** Entries in one decoded message at most (a sanity bound well above APPEND_ENTRIES_MAX). */
export const DECODE_ENTRIES_MAX = 1_000_000;

export class CodecError extends Error {
  override name = "CodecError";
}

const FLAG_REJECT = 1;
const FLAG_TRANSFER = 2;
const FLAG_SNAPSHOT = 4;
const HEADER_BYTES = 2 + 4 + 4 + 8 * 5 + 1;
const te = new TextEncoder();
const td = new TextDecoder("utf-8", { fatal: true });

export function encodeMessage(m: Message): Uint8Array {
  const ctx = te.encode(m.ctx);
  const conf = m.snapshot ? te.encode(JSON.stringify(m.snapshot.meta.conf)) : undefined;
  let size = HEADER_BYTES + 4 + ctx.length + 4;
  for (const e of m.entries) size += 8 + 8 + 1 + 4 + e.data.byteLength;
  if (m.snapshot) size += 8 + 8 + 4 + conf!.length + 4 + m.snapshot.data.byteLength;
  const buf = new Uint8Array(size);
  const v = new DataView(buf.buffer);
  let o = 0;
  const u8 = (x: number) => v.setUint8(o++, x);
  const u32 = (x: number) => {
    v.setUint32(o, x, true);
    o += 4;
  };
  const f64 = (x: number) => {
    v.setFloat64(o, x, true);
    o += 8;
  };
  const bytes = (b: Uint8Array) => {
    u32(b.byteLength);
    buf.set(b, o);
    o += b.byteLength;
  };
  u8(CODEC_VERSION);
  u8(m.type);
  u32(m.from);
  u32(m.to);
  f64(m.term);
  f64(m.logTerm);
  f64(m.index);
  f64(m.commit);
  f64(m.rejectHint);
  u8((m.reject ? FLAG_REJECT : 0) | (m.transfer ? FLAG_TRANSFER : 0) | (m.snapshot ? FLAG_SNAPSHOT : 0));
  bytes(ctx);
  u32(m.entries.length);
  for (const e of m.entries) {
    f64(e.index);
    f64(e.term);
    u8(e.type);
    bytes(e.data);
  }
  if (m.snapshot) {
    f64(m.snapshot.meta.index);
    f64(m.snapshot.meta.term);
    bytes(conf!);
    bytes(m.snapshot.data);
  }
  return buf;
}

function text(b: Uint8Array): string {
  try {
    return td.decode(b);
  } catch {
    throw new CodecError("invalid UTF-8");
  }
}

export function decodeMessage(buf: Uint8Array): Message {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = 0;
  const need = (n: number) => {
    if (o + n > buf.byteLength) throw new CodecError(`truncated message at byte ${o}`);
  };
  const u8 = () => (need(1), v.getUint8(o++));
  const u32 = () => {
    need(4);
    const x = v.getUint32(o, true);
    o += 4;
    return x;
  };
  const f64 = () => {
    need(8);
    const x = v.getFloat64(o, true);
    o += 8;
    if (!Number.isSafeInteger(x) || x < 0) throw new CodecError(`bad integer at byte ${o - 8}`);
    return x;
  };
  const bytes = () => {
    const n = u32();
    need(n);
    const b = buf.slice(o, o + n); // a copy: the message must not alias the transport's buffer
    o += n;
    return b;
  };
  const version = u8();
  if (version !== CODEC_VERSION) throw new CodecError(`unknown codec version ${version}`);
  const type = u8() as MsgType;
  if (type < MsgType.App || type > MsgType.ReadIndexResp) throw new CodecError(`bad message type ${type}`);
  const from = u32();
  const to = u32();
  const term = f64();
  const logTerm = f64();
  const index = f64();
  const commit = f64();
  const rejectHint = f64();
  const flags = u8();
  const ctx = text(bytes());
  const count = u32();
  if (count > DECODE_ENTRIES_MAX) throw new CodecError(`too many entries: ${count}`);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const eIndex = f64();
    const eTerm = f64();
    const eType = u8();
    if (eType !== EntryType.Normal && eType !== EntryType.ConfChange) throw new CodecError(`bad entry type ${eType}`);
    entries.push({ index: eIndex, term: eTerm, type: eType, data: bytes() });
  }
  let snapshot: Snapshot | undefined;
  if (flags & FLAG_SNAPSHOT) {
    const sIndex = f64();
    const sTerm = f64();
    let conf;
    try {
      conf = JSON.parse(text(bytes()));
    } catch {
      throw new CodecError("bad snapshot configuration");
    }
    if (!conf || !Array.isArray(conf.voters)) throw new CodecError("bad snapshot configuration");
    snapshot = { meta: { index: sIndex, term: sTerm, conf }, data: bytes() };
  }
  if (o !== buf.byteLength) throw new CodecError(`${buf.byteLength - o} trailing bytes`);
  return message({
    type,
    from,
    to,
    term,
    logTerm,
    index,
    commit,
    rejectHint,
    reject: (flags & FLAG_REJECT) !== 0,
    transfer: (flags & FLAG_TRANSFER) !== 0,
    ctx,
    entries,
    snapshot,
  });
}
