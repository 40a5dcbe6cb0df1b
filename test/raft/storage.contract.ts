/** The RaftStorage and SnapshotStore contracts: every implementation runs these same tests. */
import { describe, expect, test } from "bun:test";
import type { RaftStorage, SnapshotStore } from "../../src/raft/storage.ts";
import { EntryType, type Entry } from "../../src/raft/types.ts";

export interface StorageFixture {
  storage: RaftStorage;
  /** Close and open the same store again (what a restart sees). */
  reopen(): RaftStorage;
}

const ent = (index: number, term: number, text = `e${index}`): Entry => ({
  index,
  term,
  type: EntryType.Normal,
  data: new TextEncoder().encode(text),
});

export function raftStorageContract(name: string, make: () => StorageFixture): void {
  describe(`RaftStorage contract: ${name}`, () => {
    test("starts empty", () => {
      const { storage } = make();
      expect(storage.firstIndex()).toBe(0);
      expect(storage.lastIndex()).toBe(0);
      expect(storage.getEntries(1, 10)).toEqual([]);
      expect(storage.getHardState()).toEqual({ term: 0, vote: 0, commit: 0 });
    });

    test("a batch of entries and hard state is stored and survives a reopen", () => {
      const f = make();
      f.storage.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 2)], hardState: { term: 2, vote: 3, commit: 2 } });
      const s = f.reopen();
      expect(s.firstIndex()).toBe(1);
      expect(s.lastIndex()).toBe(3);
      const got = s.getEntries(2, 3);
      expect(got.map((e) => [e.index, e.term, new TextDecoder().decode(e.data)])).toEqual([
        [2, 1, "e2"],
        [3, 2, "e3"],
      ]);
      expect(got[0].type).toBe(EntryType.Normal);
      expect(s.getHardState()).toEqual({ term: 2, vote: 3, commit: 2 });
    });

    test("entries replace the stored suffix from their first index", () => {
      const { storage } = make();
      storage.persist({ entries: [ent(1, 1), ent(2, 1), ent(3, 1), ent(4, 1)] });
      storage.persist({ entries: [ent(3, 2, "new3")] });
      expect(storage.lastIndex()).toBe(3);
      expect(storage.getEntries(1, 10).map((e) => e.term)).toEqual([1, 1, 2]);
      expect(new TextDecoder().decode(storage.getEntries(3, 3)[0].data)).toBe("new3");
    });

    test("hard state alone, and conf-change entries keep their type", () => {
      const { storage } = make();
      storage.persist({ entries: [], hardState: { term: 7, vote: 0, commit: 0 } });
      storage.persist({ entries: [{ ...ent(1, 7), type: EntryType.ConfChange }] });
      expect(storage.getHardState().term).toBe(7);
      expect(storage.getEntries(1, 1)[0].type).toBe(EntryType.ConfChange);
    });

    test("compact drops the prefix; resetLog drops everything before the batch", () => {
      const { storage } = make();
      storage.persist({ entries: [1, 2, 3, 4, 5].map((i) => ent(i, 1)) });
      storage.compact(3);
      expect(storage.firstIndex()).toBe(4);
      expect(storage.getEntries(1, 10).map((e) => e.index)).toEqual([4, 5]);
      storage.persist({ resetLog: true, entries: [ent(11, 3), ent(12, 3)] });
      expect(storage.firstIndex()).toBe(11);
      expect(storage.lastIndex()).toBe(12);
    });

    test("empty payloads round-trip", () => {
      const { storage } = make();
      storage.persist({ entries: [{ index: 1, term: 1, type: EntryType.Normal, data: new Uint8Array(0) }] });
      expect(storage.getEntries(1, 1)[0].data.byteLength).toBe(0);
    });
  });
}

export function snapshotStoreContract(name: string, make: () => { store: SnapshotStore; reopen(): SnapshotStore }): void {
  describe(`SnapshotStore contract: ${name}`, () => {
    test("no snapshot at first; the latest saved one survives a reopen", () => {
      const f = make();
      expect(f.store.latest()).toBeUndefined();
      f.store.save({ meta: { index: 5, term: 2, conf: { voters: [1, 2, 3] } }, data: new Uint8Array([1, 2]) });
      f.store.save({ meta: { index: 9, term: 3, conf: { voters: [1, 2] } }, data: new Uint8Array([3]) });
      const s = f.reopen().latest()!;
      expect(s.meta).toEqual({ index: 9, term: 3, conf: { voters: [1, 2] } });
      expect([...s.data]).toEqual([3]);
    });
  });
}
