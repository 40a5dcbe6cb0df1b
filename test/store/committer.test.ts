/**
 * Group commit with the sync off the event loop: writes are answered only after a sync that
 * started after their transaction committed; writes arriving during a sync gather for the next
 * transaction; a failed sync refuses every write from then on.
 */
import { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Committer, NotDurableError } from "../../src/store/fs/committer.ts";

/** A sync the test finishes by hand, recording when each one started. */
class ManualSync {
  readonly calls: Array<{ resolve: () => void; reject: (e: Error) => void; rowsAtStart: number }> = [];
  constructor(private readonly rows: () => number) {}
  readonly sync = () =>
    new Promise<void>((resolve, reject) => {
      this.calls.push({ resolve, reject, rowsAtStart: this.rows() });
    });
}

const turn = () => new Promise((r) => setImmediate(r));

describe("Committer", () => {
  let db: Database;
  let syncs: ManualSync;
  let committer: Committer;
  const rows = () => (db.query("SELECT count(*) AS n FROM t").get() as { n: number }).n;
  const insert = (v: number) => () => {
    db.run("INSERT INTO t (v) VALUES (?)", [v]);
    return v;
  };

  beforeEach(() => {
    db = new Database(":memory:");
    db.run("CREATE TABLE t (v INTEGER PRIMARY KEY)");
    syncs = new ManualSync(rows);
    committer = new Committer(db, syncs.sync);
  });
  afterEach(() => db.close());

  test("a write is answered only after a sync that began after its commit", async () => {
    let answered = false;
    const write = committer.commit(insert(1)).then((v) => ((answered = true), v));
    await turn();
    expect(syncs.calls.length).toBe(1);
    expect(syncs.calls[0].rowsAtStart).toBe(1); // committed before the sync started
    await turn();
    expect(answered).toBe(false);
    syncs.calls[0].resolve();
    expect(await write).toBe(1);
  });

  test("writes that arrive during a sync gather into one transaction committed when it ends", async () => {
    const first = committer.commit(insert(1));
    await turn();
    expect(syncs.calls.length).toBe(1);
    const later = [2, 3, 4].map((v) => committer.commit(insert(v)));
    await turn();
    expect(rows()).toBe(1); // gathered, not committed yet
    expect(syncs.calls.length).toBe(1); // one sync at a time
    syncs.calls[0].resolve();
    expect(await first).toBe(1);
    await turn();
    expect(syncs.calls.length).toBe(2);
    expect(syncs.calls[1].rowsAtStart).toBe(4); // all three in before the second sync began
    let laterAnswered = 0;
    for (const p of later) void p.then(() => laterAnswered++);
    await turn();
    expect(laterAnswered).toBe(0);
    syncs.calls[1].resolve();
    expect(await Promise.all(later)).toEqual([2, 3, 4]);
  });

  test("a write that throws is rolled back alone, and its refusal also waits for the sync", async () => {
    const ok = committer.commit(insert(1));
    const refused = committer.commit(() => {
      db.run("INSERT INTO t (v) VALUES (2)");
      throw new Error("precondition");
    });
    let refusedEarly = false;
    refused.catch(() => (refusedEarly = true));
    await turn();
    expect(rows()).toBe(1);
    await turn();
    expect(refusedEarly).toBe(false);
    syncs.calls[0].resolve();
    expect(await ok).toBe(1);
    await expect(refused).rejects.toThrow("precondition");
  });

  test("a failed sync refuses the writes it covered, those behind it and every later one", async () => {
    const covered = committer.commit(insert(1));
    await turn();
    const behind = committer.commit(insert(2));
    await turn();
    syncs.calls[0].reject(new Error("EIO"));
    await expect(covered).rejects.toBeInstanceOf(NotDurableError);
    await expect(behind).rejects.toBeInstanceOf(NotDurableError);
    await expect(committer.commit(insert(3))).rejects.toBeInstanceOf(NotDurableError);
    expect(syncs.calls.length).toBe(1); // no sync is trusted after a failure
  });

  test("a sync that throws instead of rejecting refuses the writes the same way", async () => {
    const broken = new Committer(db, () => {
      throw new Error("ENOENT: no -wal file");
    });
    await expect(broken.commit(insert(1))).rejects.toBeInstanceOf(NotDurableError);
    await expect(broken.commit(insert(2))).rejects.toBeInstanceOf(NotDurableError);
  });

  test("settled() waits for every write submitted before it", async () => {
    const writes = [1, 2].map((v) => committer.commit(insert(v)));
    let settled = false;
    const done = committer.settled().then(() => (settled = true));
    await turn();
    await turn();
    expect(settled).toBe(false);
    syncs.calls[0].resolve();
    await done;
    expect(await Promise.all(writes)).toEqual([1, 2]);
  });

  describe("a disk too full for a write (SQLITE_FULL; here the database's page limit)", () => {
    const big = (v: number) => () => {
      db.run("INSERT INTO t (v) VALUES (?)", [v]);
      db.run("INSERT INTO blobs (b) VALUES (?)", [new Uint8Array(64 * 1024)]);
      return v;
    };
    let roomMade = 0;
    let rollbacks = 0;
    let full: Committer;
    beforeEach(() => {
      db.run("CREATE TABLE blobs (b BLOB)");
      db.run(`PRAGMA max_page_count = ${(db.query("PRAGMA page_count").get() as { page_count: number }).page_count + 2}`);
      roomMade = 0;
      rollbacks = 0;
      full = new Committer(db, async () => {}, {
        makeRoom: () => {
          roomMade++;
          db.run("PRAGMA max_page_count = 100000");
          return true;
        },
        rolledBack: () => rollbacks++,
      });
    });

    test("refuses it with InsufficientStorage, and the transaction it rolled back with it", async () => {
      const refused = full.commit(big(1));
      const beside = full.commit(insert(2));
      await expect(refused).rejects.toMatchObject({ code: "InsufficientStorage" });
      await expect(beside).rejects.toMatchObject({ code: "InsufficientStorage" });
      expect([roomMade, rows()]).toEqual([0, 0]); // a batch that frees nothing gets no room made for it
      expect(rollbacks).toBe(1);
      expect(await full.commit(insert(3))).toBe(3); // and the next transaction starts clean
    });

    test("a write that frees space gets room made for it, once, and runs again; the writes beside it are refused, not run on the reserve", async () => {
      const freeing = full.commit(big(4), true);
      const beside = full.commit(insert(5));
      expect(await freeing).toBe(4);
      await expect(beside).rejects.toMatchObject({ code: "InsufficientStorage" });
      expect([roomMade, rollbacks, rows()]).toEqual([1, 1, 1]);
    });

    test("also when the full disk rolled back only its statement (a statement journal kept the transaction)", async () => {
      db.run("INSERT INTO t (v) VALUES (7)");
      // a delete whose trigger needs pages: SQLite rolls back the statement and keeps the transaction
      db.run("CREATE TRIGGER grow AFTER DELETE ON t BEGIN INSERT INTO blobs (b) VALUES (zeroblob(65536)); END");
      db.run(`PRAGMA max_page_count = ${(db.query("PRAGMA page_count").get() as { page_count: number }).page_count + 2}`);
      const deleted = full.commit(() => db.run("DELETE FROM t WHERE v = 7").changes, true);
      expect(await deleted).toBe(1);
      expect([roomMade, rows()]).toEqual([1, 0]);
    });
  });
});
