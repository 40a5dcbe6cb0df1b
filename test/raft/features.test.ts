/** ReadIndex, membership changes, leadership transfer and snapshots in the pure core. */
import { describe, expect, test } from "bun:test";
import { Role } from "../../src/raft/types.ts";
import { Prng } from "../../src/raft/prng.ts";
import { RaftCore } from "../../src/raft/raft.ts";
import { EntryType, MsgType, decodeConfChange, encodeConfChange, message } from "../../src/raft/types.ts";
import { TestCluster, enc } from "./harness.ts";

function readStates(c: TestCluster, id: number, ctx: string): number[] {
  // ReadStates are handed out in Ready; the harness drains them, so capture during settle
  const seen: number[] = [];
  const n = c.node(id);
  const orig = n.ready.bind(n);
  n.ready = () => {
    const rd = orig();
    for (const rs of rd.readStates) if (rs.ctx === ctx) seen.push(rs.index);
    return rd;
  };
  return seen;
}

describe("ReadIndex (§6.4)", () => {
  test("the leader answers after a heartbeat round with its commit index", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    l.propose([enc("a")]);
    c.settle();
    const seen = readStates(c, 1, "q1");
    c.sent = [];
    expect(l.readIndex("q1")).toBe(true);
    expect(seen).toEqual([]);
    c.settle();
    expect(seen).toEqual([2]);
    expect(c.sent.some((m) => m.type === MsgType.Heartbeat && m.ctx === "q1")).toBe(true);
  });

  test("a deposed leader cut off from the majority never confirms a read", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(1);
    const seen = readStates(c, 1, "stale");
    expect(l.readIndex("stale")).toBe(true);
    c.settle();
    c.node(2).campaignNow();
    for (let i = 0; i < 30; i++) c.tickAll();
    expect(seen).toEqual([]);
  });

  test("a follower forwards the request and gets the leader's read index", () => {
    const c = new TestCluster([1, 2, 3]);
    c.elect(1);
    const seen = readStates(c, 2, "f1");
    expect(c.node(2).readIndex("f1")).toBe(true);
    c.settle();
    expect(seen).toEqual([1]);
  });

  test("a new leader holds reads until it has committed an entry of its term", () => {
    const c = new TestCluster([1, 2, 3]);
    c.drop = (m) => m.type === MsgType.AppResp;
    const l = c.elect(1);
    expect(l.role).toBe(Role.Leader);
    expect(l.log.committed).toBe(0);
    const seen = readStates(c, 1, "early");
    expect(l.readIndex("early")).toBe(true);
    c.settle();
    expect(seen).toEqual([]);
    c.heal();
    c.tickAll(2);
    expect(seen).toEqual([1]); // answered with the commit index of its own term
  });
});

describe("membership changes (one server at a time)", () => {
  test("a new voter counts as soon as the change is appended; a second change waits for the first", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(1); // keep the change uncommitted
    expect(l.proposeConfChange({ op: "add", node: 4 }).ok).toBe(true);
    expect(l.voters).toEqual([1, 2, 3, 4]);
    const second = l.proposeConfChange({ op: "remove", node: 2 });
    expect(second.ok).toBe(false);
    if (!second.ok) expect(second.error).toBe("conf-change-pending");
  });

  test("a node added later receives the log and joins the quorum", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.nodes.set(4, new RaftCore({ id: 4, prng: new Prng(4) }, { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] }));
    c.applied.set(4, []);
    for (let i = 0; i < 25; i++) c.node(4).tick(); // no config: it must not campaign
    expect(c.node(4).role).toBe(Role.Follower);
    expect(c.node(4).term).toBe(0);
    expect(l.proposeConfChange({ op: "add", node: 4 }).ok).toBe(true);
    c.settle();
    c.tickAll(2);
    expect(c.node(4).voters).toEqual([1, 2, 3, 4]);
    expect(c.node(4).log.committed).toBe(l.log.committed);
    // with 4 voters the quorum is 3: two nodes down stop progress
    c.drop = (m) => [3, 4].includes(m.from) || [3, 4].includes(m.to);
    const before = l.log.committed;
    l.propose([enc("x")]);
    c.settle();
    expect(l.log.committed).toBe(before);
  });

  test("a leader that removes itself steps down once the change commits", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    expect(l.proposeConfChange({ op: "remove", node: 1 }).ok).toBe(true);
    c.settle();
    expect(l.role).toBe(Role.Follower);
    c.tickAll(40);
    const leaders = c.leaders();
    expect(leaders.length).toBe(1);
    expect(leaders[0].id).not.toBe(1);
    expect(leaders[0].voters).toEqual([2, 3]);
  });

  test("an uncommitted change that is overwritten is undone on the follower", () => {
    const boot = { meta: { index: 0, term: 0, conf: { voters: [1, 2, 3] } }, data: new Uint8Array() };
    const cc = { index: 2, term: 1, type: EntryType.ConfChange, data: encodeConfChange({ op: "add", node: 9, voters: [1, 2, 3, 9] }) };
    const n = new RaftCore(
      { id: 2, prng: new Prng(2) },
      { hardState: { term: 1, vote: 1, commit: 1 }, entries: [{ index: 1, term: 1, type: EntryType.Normal, data: enc("") }, cc], snapshot: boot },
    );
    expect(n.voters).toEqual([1, 2, 3, 9]);
    expect(n.confIndex).toBe(2);
    const replacement = { index: 2, term: 2, type: EntryType.Normal, data: enc("x") };
    n.step(message({ type: MsgType.App, from: 3, to: 2, term: 2, index: 1, logTerm: 1, entries: [replacement], commit: 1 }));
    expect(n.log.term(2)).toBe(2);
    expect(n.voters).toEqual([1, 2, 3]);
    expect(n.confIndex).toBe(0);
    expect(decodeConfChange(cc.data).voters).toEqual([1, 2, 3, 9]);
  });
});

describe("learners (non-voting members)", () => {
  test("a learner gets the log but neither votes, campaigns, nor counts for commit; then is promoted", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.nodes.set(4, new RaftCore({ id: 4, prng: new Prng(4) }, { hardState: { term: 0, vote: 0, commit: 0 }, entries: [] }));
    c.applied.set(4, []);
    expect(l.proposeConfChange({ op: "add-learner", node: 4 }).ok).toBe(true);
    c.settle();
    c.tickAll(2);
    expect(l.voters).toEqual([1, 2, 3]);
    expect(l.learners).toEqual([4]);
    expect(c.node(4).learners).toEqual([4]);
    expect(c.node(4).log.committed).toBe(l.log.committed);
    // the learner never campaigns
    c.isolate(4);
    for (let i = 0; i < 50; i++) c.node(4).tick();
    expect(c.node(4).role).toBe(Role.Follower);
    c.heal();
    // with 2 and 3 silent, 1 + learner 4 cannot commit: the learner is not in the quorum
    c.drop = (m) => [2, 3].includes(m.from) || [2, 3].includes(m.to);
    const before = l.log.committed;
    l.propose([enc("x")]);
    c.settle();
    expect(c.node(4).log.lastIndex()).toBe(l.log.lastIndex());
    expect(l.log.committed).toBe(before);
    c.heal();
    c.tickAll(2);
    expect(l.proposeConfChange({ op: "add", node: 4 }).ok).toBe(true); // promote
    c.settle();
    expect(l.voters).toEqual([1, 2, 3, 4]);
    expect(l.learners).toEqual([]);
    expect(l.transferLeader(4)).toBe(true);
    c.settle();
    expect(c.node(4).role).toBe(Role.Leader);
  });

  test("a learner cannot be the target of a leadership transfer", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    l.proposeConfChange({ op: "add-learner", node: 4 });
    c.settle();
    expect(l.transferLeader(4)).toBe(false);
  });
});

describe("leadership transfer", () => {
  test("the target campaigns at once and wins in the next term", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    const term = l.term;
    expect(l.transferLeader(3)).toBe(true);
    c.settle();
    expect(c.node(3).role).toBe(Role.Leader);
    expect(c.node(3).term).toBe(term + 1);
    expect(l.role).toBe(Role.Follower);
  });

  test("proposals are refused during a transfer, which is abandoned after an election timeout", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.drop = (m) => m.to === 3 || m.from === 3;
    l.transferLeader(3);
    c.settle();
    const r = l.propose([enc("x")]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe("transferring");
    c.tickAll(l.electionTicks);
    expect(l.role).toBe(Role.Leader);
    expect(l.propose([enc("x")]).ok).toBe(true);
  });

  test("a transfer target that lags is caught up first", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    c.heal();
    c.sent = [];
    l.transferLeader(3);
    c.settle();
    expect(c.sent.some((m) => m.type === MsgType.App && m.to === 3)).toBe(true);
    expect(c.node(3).role).toBe(Role.Leader);
    expect(c.node(3).log.lastIndex()).toBeGreaterThanOrEqual(7);
  });
});

describe("snapshots and log compaction", () => {
  test("a follower behind the compacted log gets InstallSnapshot, restores it, then replicates", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    const meta = l.appliedSnapshotMeta()!;
    expect(meta.index).toBe(11);
    l.compact({ meta, data: enc("state@11") }, 11);
    expect(l.log.snapshotIndex).toBe(11);
    expect(l.log.term(5)).toBeUndefined();
    c.heal();
    let restored: string | undefined;
    const n3 = c.node(3);
    const orig = n3.ready.bind(n3);
    n3.ready = () => {
      const rd = orig();
      if (rd.snapshot) restored = new TextDecoder().decode(rd.snapshot.data);
      return rd;
    };
    c.tickAll(3);
    expect(restored).toBe("state@11");
    expect(n3.log.snapshotIndex).toBe(11);
    l.propose([enc("after")]);
    c.settle();
    expect(n3.log.committed).toBe(12);
    expect(c.applied.get(3)!.map((e) => e.index)).toEqual([1, 12]); // 2..11 came in the snapshot
  });

  test("a lost snapshot is sent again", () => {
    const c = new TestCluster([1, 2, 3]);
    const l = c.elect(1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    l.compact({ meta: l.appliedSnapshotMeta()!, data: enc("s") }, l.log.applied);
    c.drop = (m) => m.type === MsgType.Snap;
    c.heal();
    c.drop = (m) => m.type === MsgType.Snap;
    c.tickAll(5);
    expect(c.node(3).log.snapshotIndex).toBe(0);
    c.heal();
    c.tickAll(30);
    expect(c.node(3).log.snapshotIndex).toBe(6);
  });

  test("compaction keeps trailing entries and refuses to pass the applied index", () => {
    const c = new TestCluster([1]);
    c.tickAll(25);
    const l = c.node(1);
    for (let i = 0; i < 10; i++) l.propose([enc(`p${i}`)]);
    c.settle();
    const meta = l.appliedSnapshotMeta()!;
    l.compact({ meta, data: enc("s") }, meta.index - 3);
    expect(l.log.snapshotIndex).toBe(meta.index - 3);
    expect(l.snapshot!.meta.index).toBe(meta.index);
    expect(() => l.compact({ meta: { ...meta, index: meta.index + 5 }, data: enc("s") }, meta.index + 5)).toThrow();
  });
});

test("message() fills defaults", () => {
  const m = message({ type: MsgType.Heartbeat, from: 1, to: 2, term: 3 });
  expect(m.entries).toEqual([]);
  expect(m.ctx).toBe("");
});
