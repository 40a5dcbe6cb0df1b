/** Edge cases of the core: stale and duplicated responses, restarts, snapshot fast-forward. */
import { describe, expect, test } from "bun:test";
import { Role } from "../../src/raft/types.ts";
import { Prng } from "../../src/raft/prng.ts";
import { ProgressState } from "../../src/raft/progress.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { EntryType, MsgType, message, type Entry } from "../../src/raft/types.ts";
import { TestCluster, bootState, enc } from "./harness.ts";

const ent = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: enc(`e${index}`) });

describe("stale and duplicated traffic", () => {
  test("old or duplicated append responses never move match backwards", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    for (let i = 0; i < 5; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    const pr = l.progress.get(2)!;
    expect(pr.match).toBe(6);
    l.step(message({ type: MsgType.AppResp, from: 2, to: 1, term: l.term, index: 3 }));
    l.step(message({ type: MsgType.AppResp, from: 2, to: 1, term: l.term, index: 2, reject: true, rejectHint: 1, logTerm: 1 }));
    expect(pr.match).toBe(6);
    expect(pr.next).toBe(7);
    expect(pr.state).toBe(ProgressState.Replicate);
  });

  test("a duplicated old append does not truncate a longer matching log", () => {
    const n = new RaftCore({ id: 2, prng: new Prng(2) }, { ...bootState([1, 2, 3]), hardState: { term: 1, vote: 1, commit: 0 }, entries: [ent(1, 1), ent(2, 1), ent(3, 1)] });
    n.step(message({ type: MsgType.App, from: 1, to: 2, term: 1, index: 0, logTerm: 0, entries: [ent(1, 1)], commit: 1 }));
    expect(n.log.lastIndex()).toBe(3);
    expect(n.log.committed).toBe(1);
  });

  test("a candidate that hears from a leader of its own term becomes its follower", () => {
    const n = new RaftCore({ id: 2, prng: new Prng(2), preVote: false }, bootState([1, 2, 3]));
    n.campaignNow();
    expect(n.role).toBe(Role.Candidate);
    n.step(message({ type: MsgType.Heartbeat, from: 3, to: 2, term: n.term }));
    expect(n.role).toBe(Role.Follower);
    expect(n.leader).toBe(3);
  });
});

test("a vote cast without a term change is still handed out for persistence", () => {
  const n = new RaftCore({ id: 1, prng: new Prng(1), checkQuorum: false }, { ...bootState([1, 2, 3]), hardState: { term: 5, vote: 0, commit: 0 } });
  n.advance(n.ready());
  n.step(message({ type: MsgType.Vote, from: 2, to: 1, term: 5 }));
  const rd = n.ready();
  expect(rd.hardState).toEqual({ term: 5, vote: 2, commit: 0 });
  expect(rd.messages[0]).toMatchObject({ type: MsgType.VoteResp, to: 2, reject: false });
  n.advance(rd);
});

describe("restart and snapshots", () => {
  test("a core restarted from its stored state keeps term, vote, log and config", () => {
    const snap = { meta: { index: 4, term: 2, conf: { voters: [1, 2, 3], learners: [5] } }, data: enc("s") };
    const n = new RaftCore({ id: 1, prng: new Prng(1) }, { hardState: { term: 3, vote: 2, commit: 5 }, snapshot: snap, entries: [ent(3, 2), ent(4, 2), ent(5, 3), ent(6, 3)] });
    expect(n.term).toBe(3);
    expect(n.vote).toBe(2);
    expect(n.log.snapshotIndex).toBe(4);
    expect(n.log.lastIndex()).toBe(6);
    expect(n.log.committed).toBe(5);
    expect(n.log.applied).toBe(4);
    expect(n.learners).toEqual([5]);
    const rd = n.ready();
    expect(rd.committed.map((e) => e.index)).toEqual([5]); // re-applied after the snapshot
    expect(rd.entries).toEqual([]); // nothing new to persist
    n.advance(rd);
  });

  test("a snapshot whose last entry the follower already has only moves the commit index", () => {
    const n = new RaftCore({ id: 2, prng: new Prng(2) }, { ...bootState([1, 2, 3]), hardState: { term: 2, vote: 0, commit: 1 }, entries: [ent(1, 1), ent(2, 2), ent(3, 2)] });
    const snap = { meta: { index: 2, term: 2, conf: { voters: [1, 2, 3] } }, data: enc("s") };
    n.step(message({ type: MsgType.Snap, from: 1, to: 2, term: 2, snapshot: snap }));
    expect(n.log.committed).toBe(2);
    expect(n.log.lastIndex()).toBe(3);
    expect(n.incomingSnapshot).toBeUndefined();
    const rd = n.ready();
    expect(rd.snapshot).toBeUndefined();
    expect(rd.messages[0]).toMatchObject({ type: MsgType.AppResp, index: 2, reject: false });
  });

  test("the leader releases uncommitted bytes as entries commit", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    l.propose([new Uint8Array(1000)]);
    expect(l.uncommittedBytes).toBeGreaterThan(1000);
    c.settle();
    expect(l.uncommittedBytes).toBe(0);
  });

  test("a removed follower gets no more traffic and the quorum shrinks", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    l.proposeConfChange({ op: "remove", node: 3 });
    c.settle();
    expect(l.progress.has(3)).toBe(false);
    c.sent = [];
    c.drop = (m) => m.to === 3 || m.from === 3;
    l.propose([enc("x")]);
    c.settle();
    expect(c.sent.filter((m) => m.to === 3).length).toBe(0);
    expect(l.log.committed).toBe(l.log.lastIndex()); // 2 of 2 voters
  });
});
