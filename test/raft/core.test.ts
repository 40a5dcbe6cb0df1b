/** Figure 2 and §5-6 of the Raft paper, one rule per test, against the pure core. */
import { describe, expect, test } from "bun:test";
import { Role } from "../../src/raft/types.ts";
import { Prng } from "../../src/raft/prng.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { EntryType, MsgType, message, type Entry, type Message } from "../../src/raft/types.ts";
import { TestCluster, enc, newCore } from "./harness.ts";

const ent = (index: number, term: number): Entry => ({ index, term, type: EntryType.Normal, data: enc(`e${index}t${term}`) });

function coreWithLog(id: number, voters: number[], term: number, entries: Entry[], commit = 0): RaftCore {
  return new RaftCore(
    { id, prng: new Prng(id) },
    { hardState: { term, vote: 0, commit }, entries, snapshot: { meta: { index: 0, term: 0, conf: { voters } }, data: new Uint8Array() } },
  );
}

function drain(n: RaftCore): Message[] {
  const out: Message[] = [];
  while (n.hasReady()) {
    const rd = n.ready();
    out.push(...rd.messages);
    n.advance(rd);
  }
  return out;
}

describe("election", () => {
  test("a single node elects itself after its randomised timeout and commits", () => {
    const c = new TestCluster([1]);
    c.tickAll(25);
    expect(c.node(1).role).toBe(Role.Leader);
    expect(c.node(1).propose([enc("a")]).ok).toBe(true);
    c.settle();
    expect(c.applied.get(1)!.map((e) => e.data.length)).toEqual([0, 1]);
  });

  test("three nodes elect exactly one leader; timeouts are randomised in [T, 2T)", () => {
    const c = new TestCluster([1, 2, 3]);
    c.tickAll(40);
    expect(c.leaders().length).toBe(1);
    for (const n of c.nodes.values()) {
      expect(n.randomizedElectionTicks).toBeGreaterThanOrEqual(n.electionTicks);
      expect(n.randomizedElectionTicks).toBeLessThan(2 * n.electionTicks);
    }
  });

  test("a vote is granted at most once per term (§5.2)", () => {
    const n = newCore(1, [1, 2, 3], { preVote: false, checkQuorum: false });
    n.step(message({ type: MsgType.Vote, from: 2, to: 1, term: 5 }));
    n.step(message({ type: MsgType.Vote, from: 3, to: 1, term: 5 }));
    const resp = drain(n).filter((m) => m.type === MsgType.VoteResp);
    expect(resp.map((m) => [m.to, m.reject])).toEqual([
      [2, false],
      [3, true],
    ]);
    expect(n.vote).toBe(2);
    // a repeated request from the same candidate is granted again (idempotent)
    n.step(message({ type: MsgType.Vote, from: 2, to: 1, term: 5 }));
    expect(drain(n)[0].reject).toBe(false);
  });

  test("votes are refused to candidates whose log is less up to date (§5.4.1)", () => {
    const n = coreWithLog(1, [1, 2, 3], 3, [ent(1, 1), ent(2, 3)]);
    n.step(message({ type: MsgType.Vote, from: 2, to: 1, term: 4, index: 5, logTerm: 2 })); // lower last term
    n.step(message({ type: MsgType.Vote, from: 3, to: 1, term: 4, index: 1, logTerm: 3 })); // same term, shorter
    expect(drain(n).map((m) => m.reject)).toEqual([true, true]);
    n.step(message({ type: MsgType.Vote, from: 3, to: 1, term: 4, index: 2, logTerm: 3 }));
    expect(drain(n).map((m) => m.reject)).toEqual([false]);
  });

  test("pre-vote: an isolated node does not inflate its term and cannot disrupt on rejoin", () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    const term = c.node(1).term;
    c.isolate(3);
    for (let i = 0; i < 50; i++) {
      c.node(3).tick();
      c.settle();
    }
    expect(c.node(3).term).toBe(term);
    c.heal();
    c.tickAll(5);
    expect(c.node(1).role).toBe(Role.Leader);
    expect(c.node(1).term).toBe(term);
  });

  test("without pre-vote an isolated node's term grows (the problem pre-vote solves)", () => {
    const c = new TestCluster([1, 2, 3], { preVote: false });
    c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 50; i++) c.node(3).tick();
    expect(c.node(3).term).toBeGreaterThan(c.node(1).term);
  });

  test("check-quorum: a leader cut off from the majority steps down within an election timeout", () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    c.isolate(1);
    for (let i = 0; i < 2 * c.node(1).electionTicks; i++) c.node(1).tick();
    expect(c.node(1).role).toBe(Role.Follower);
  });

  test("leader lease: a follower that hears from its leader ignores vote requests", () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    const n2 = c.node(2);
    n2.step(message({ type: MsgType.Vote, from: 3, to: 2, term: n2.term + 1, index: 100, logTerm: 100 }));
    expect(n2.term).toBe(c.node(1).term);
    expect(drain(n2).length).toBe(0);
  });

  test("a higher term in any message turns a leader into a follower (§5.1)", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    l.step(message({ type: MsgType.AppResp, from: 2, to: 1, term: l.term + 1 }));
    expect(l.role).toBe(Role.Follower);
    expect(l.term).toBe(c.node(2).term + 1);
  });

  test("messages from an older term are answered with the current term, not obeyed", () => {
    const n = coreWithLog(1, [1, 2, 3], 5, [ent(1, 1)]);
    n.step(message({ type: MsgType.App, from: 2, to: 1, term: 4, index: 1, logTerm: 1, entries: [ent(2, 4)] }));
    expect(n.log.lastIndex()).toBe(1);
    const out = drain(n);
    expect(out[0].type).toBe(MsgType.AppResp);
    expect(out[0].term).toBe(5);
  });
});

describe("replication", () => {
  test("a new leader appends an empty entry of its term and commits it", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    expect(l.log.entry(1).term).toBe(l.term);
    expect(l.log.entry(1).data.length).toBe(0);
    expect(l.log.committed).toBe(1);
    for (const id of [2, 3]) expect(c.node(id).log.committed).toBe(1);
  });

  test("appends with a mismatching previous entry are rejected with a backtracking hint (§5.3)", () => {
    const n = coreWithLog(1, [1, 2, 3], 3, [ent(1, 1), ent(2, 1), ent(3, 2)]);
    n.step(message({ type: MsgType.App, from: 2, to: 1, term: 3, index: 5, logTerm: 3, entries: [ent(6, 3)] }));
    const [r] = drain(n);
    expect(r.reject).toBe(true);
    expect(r.rejectHint).toBe(3);
    expect(r.logTerm).toBe(2);
    expect(n.log.lastIndex()).toBe(3);
  });

  test("conflicting entries are truncated and replaced; matching ones are kept (§5.3)", () => {
    const n = coreWithLog(1, [1, 2, 3], 2, [ent(1, 1), ent(2, 2), ent(3, 2)]);
    const fresh = [ent(2, 2), ent(3, 3), ent(4, 3)];
    n.step(message({ type: MsgType.App, from: 2, to: 1, term: 3, index: 1, logTerm: 1, entries: fresh, commit: 2 }));
    expect([1, 2, 3, 4].map((i) => n.log.term(i))).toEqual([1, 2, 3, 3]);
    expect(n.log.committed).toBe(2);
    const rd = n.ready();
    expect(rd.entries.map((e) => e.index)).toEqual([3, 4]); // only the rewritten suffix is persisted again
    expect(rd.messages[0].index).toBe(4);
  });

  test("a follower's commit is min(leaderCommit, index of last new entry)", () => {
    const n = coreWithLog(1, [1, 2, 3], 2, [ent(1, 1)]);
    n.step(message({ type: MsgType.App, from: 2, to: 1, term: 2, index: 1, logTerm: 1, entries: [ent(2, 2)], commit: 9 }));
    expect(n.log.committed).toBe(2);
  });

  test("a leader never commits an entry of an older term by counting replicas (§5.4.2, figure 8)", () => {
    const l = coreWithLog(1, [1, 2, 3], 2, [ent(1, 1), ent(2, 2)], 1);
    for (const id of [2, 3]) l.step(message({ type: MsgType.PreVoteResp, from: id, to: 1, term: 3 })); // ignored: not a candidate
    l.campaignNow();
    drain(l);
    l.step(message({ type: MsgType.PreVoteResp, from: 2, to: 1, term: 3 }));
    drain(l);
    l.step(message({ type: MsgType.VoteResp, from: 2, to: 1, term: 3 }));
    expect(l.role).toBe(Role.Leader);
    drain(l); // persists the leader's empty entry at index 3, term 3
    l.step(message({ type: MsgType.AppResp, from: 2, to: 1, term: 3, index: 2 }));
    expect(l.log.committed).toBe(1); // index 2 is on a majority but from term 2
    l.step(message({ type: MsgType.AppResp, from: 2, to: 1, term: 3, index: 3 }));
    expect(l.log.committed).toBe(3); // committing 3 commits 2 indirectly
  });

  test("persist, then send: the leader counts itself only after advance()", () => {
    const l = newCore(1, [1]);
    l.campaignNow();
    const rd = l.ready();
    expect(rd.entries.length).toBe(1);
    expect(rd.hardState?.vote).toBe(1);
    expect(l.log.committed).toBe(0);
    l.advance(rd);
    expect(l.log.committed).toBe(1);
    const rd2 = l.ready();
    expect(rd2.committed.map((e) => e.index)).toEqual([1]);
    expect(rd2.hardState?.commit).toBe(1);
    l.advance(rd2);
  });

  test("proposals are batched into one append and split by the per-append limits", () => {
    const c = new TestCluster([1, 2, 3], { appendEntriesMax: 4 });
    const l = c.elect(1);
    c.sent = [];
    l.propose(Array.from({ length: 10 }, (_, i) => enc(`p${i}`)));
    c.settle();
    const apps = c.sent.filter((m) => m.type === MsgType.App && m.to === 2 && m.entries.length > 0);
    expect(apps.map((m) => m.entries.length)).toEqual([4, 4, 2]);
    expect(c.applied.get(3)!.length).toBe(11);
  });

  test("the in-flight window caps pipelined appends to a silent follower", () => {
    const c = new TestCluster([1, 2, 3], { appendEntriesMax: 1, inflightAppendsMax: 3 });
    const l = c.elect(1);
    c.sent = [];
    c.drop = (m) => m.from === 2; // 2 never answers
    for (let i = 0; i < 10; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    expect(c.sent.filter((m) => m.type === MsgType.App && m.to === 2).length).toBe(3);
    expect(c.node(3).log.lastIndex()).toBe(11);
  });

  test("the leader refuses proposals beyond the uncommitted-bytes limit", () => {
    const c = new TestCluster([1, 2, 3], { uncommittedBytesMax: 1000 });
    const l = c.elect(1);
    c.isolate(1);
    const big = new Uint8Array(400);
    expect(l.propose([big]).ok).toBe(true);
    expect(l.propose([big]).ok).toBe(true);
    const r = l.propose([big]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe("too-many-uncommitted");
    c.heal();
    c.tickAll(2);
    expect(l.propose([big]).ok).toBe(true);
  });

  test("a follower that lost messages catches up through heartbeats and probing", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 20; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    c.heal();
    c.tickAll(3);
    expect(c.node(3).log.lastIndex()).toBe(l.log.lastIndex());
    expect(c.applied.get(3)!.length).toBe(21);
  });

  test("followers refuse proposals and report the leader", () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    const r = c.node(2).propose([enc("x")]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.leader).toBe(1);
  });
});
