/** Figure 8 of the Raft paper, step by step: why a leader must not commit old-term entries by
 * counting replicas. With that rule broken, entry 2 would be "committed" at step (c) and then
 * overwritten at step (d). */
import { expect, test } from "bun:test";
import { Role } from "../../src/raft/types.ts";
import { MsgType } from "../../src/raft/types.ts";
import { TestCluster, enc } from "./harness.ts";

test("figure 8: an old-term entry on a majority is not committed until a current-term entry is", () => {
  const c = new TestCluster([1, 2, 3, 4, 5], { preVote: false, checkQuorum: false, appendEntriesMax: 1 });
  const s1 = c.elect(1);
  expect(s1.log.committed).toBe(1);
  const only = (...ids: number[]) => (c.drop = (m) => !(ids.includes(m.from) && ids.includes(m.to)));

  // (a) S1 leads term 1 and replicates entry 2 to S2 only
  only(1, 2);
  s1.propose([enc("x")]);
  c.settle();
  expect(c.node(2).log.term(2)).toBe(1);
  expect(s1.log.committed).toBe(1);

  // (b) S1 is gone; S5 wins term 2 with votes from S3 and S4 and appends entry 2 locally only
  c.drop = (m) => m.from === 1 || m.to === 1 || (m.from === 5 && m.type === MsgType.App);
  c.node(5).campaignNow();
  c.settle();
  expect(c.node(5).role).toBe(Role.Leader);
  expect(c.node(5).log.term(2)).toBe(c.node(5).term);

  // (c) S5 is gone; S1 wins a later term (S2, S3 vote) and gets entry 2 (term 1) onto S3 but not
  // its own new-term entry: entry 2 is on S1, S2, S3, a majority, yet must not count as committed
  const s3HasEntry2 = () => c.node(3).log.lastIndex() >= 2;
  c.drop = (m) =>
    [4, 5].includes(m.from) ||
    [4, 5].includes(m.to) ||
    (m.from === 1 && m.to === 3 && s3HasEntry2() && m.entries.some((e) => e.index >= 3));
  for (let i = 0; i === 0 || (i < 3 && s1.role !== "leader"); i++) {
    s1.campaignNow(); // S1 still thinks it leads term 1: it has heard nothing since
    c.settle();
  }
  expect(s1.role).toBe(Role.Leader);
  expect(c.node(3).log.term(2)).toBe(1);
  expect(s1.log.committed).toBe(1); // the rule under test

  // (d) S1 crashes; S5 wins again (S3, S4 vote: its last term is newer) and overwrites entry 2
  c.drop = (m) => m.from === 1 || m.to === 1 || m.from === 2 || m.to === 2;
  for (let i = 0; i === 0 || (i < 3 && c.node(5).role !== "leader"); i++) {
    c.node(5).campaignNow();
    c.settle();
  }
  expect(c.node(5).role).toBe(Role.Leader);
  expect(c.node(3).log.term(2)).toBe(2);
  expect(c.node(3).log.committed).toBeGreaterThanOrEqual(2);
  // entry 2 of term 1 was never committed anywhere, so nothing committed was lost
  for (const n of c.nodes.values()) {
    if (n.log.committed >= 2) expect(n.log.term(2)).toBe(2);
  }
});
