/** The simulator's state machine: a string KV map whose commands are JSON in Raft entries. */
import { assert } from "../../util/assert.ts";
import { EntryType, type Entry } from "../types.ts";

export interface KvCommand {
  op: "put";
  key: string;
  value: string;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeKv(cmd: KvCommand): Uint8Array {
  return enc.encode(JSON.stringify(cmd));
}

export class KvState {
  map = new Map<string, string>();
  appliedIndex = 0;

  apply(e: Entry): void {
    assert(e.index === this.appliedIndex + 1, `kv: applying ${e.index} after ${this.appliedIndex}`);
    this.appliedIndex = e.index;
    if (e.type !== EntryType.Normal || e.data.byteLength === 0) return;
    const cmd = JSON.parse(dec.decode(e.data)) as KvCommand;
    this.map.set(cmd.key, cmd.value);
  }

  snapshot(): Uint8Array {
    return enc.encode(JSON.stringify({ index: this.appliedIndex, map: [...this.map] }));
  }

  restore(data: Uint8Array, index: number): void {
    if (data.byteLength === 0) {
      this.map = new Map();
    } else {
      const s = JSON.parse(dec.decode(data)) as { index: number; map: [string, string][] };
      assert(s.index === index, "kv: snapshot data does not match its index");
      this.map = new Map(s.map);
    }
    this.appliedIndex = index;
  }
}

/** FNV-1a over the bytes: a cheap identity for comparing entries across nodes. */
export function fnv32(data: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i], 0x01000193) >>> 0;
  return h;
}

export function entryKey(e: Entry): string {
  return `${e.term}/${e.type}/${e.data.byteLength}/${fnv32(e.data)}`;
}
