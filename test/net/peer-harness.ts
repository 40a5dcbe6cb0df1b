/**
 * The conformance harness of the transports that run on real sockets: node a calls node b, and b
 * lives in this process or in a child one (a script that prints "ready <port>") that can be
 * killed -9 and started again on its port.
 */
import type { PeerAddress, Transport } from "../../src/net/transport.ts";
import type { Harness } from "./conformance.ts";

/** Starts a node; its address, once listening, goes in `peers`. A node that does not serve only dials. */
export type StartNode = (id: string, peers: Map<string, PeerAddress>, port?: number, serve?: boolean) => Promise<Transport>;

/** Runs `bun script ...args` and waits for its "ready <port>" line. */
export async function spawnPeer(script: string, args: string[]) {
  const proc = Bun.spawn([process.execPath, script, ...args], { stdout: "pipe", stderr: "inherit" });
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const r = await reader.read();
    if (r.done) throw new Error(`peer ${script} ${args.join(" ")} exited before ready`);
    text += new TextDecoder().decode(r.value);
  }
  reader.releaseLock();
  const m = /ready (\d+)/.exec(text);
  if (!m) throw new Error(`peer ${script}: ${text}`);
  return { proc, port: Number(m[1]) };
}

/**
 * a (dialling only) calls b. In a child process b is `bun script <argsOf(b's id, port, peers)>`,
 * which must print "ready <port>".
 */
export async function peerHarness(
  child: boolean,
  startNode: StartNode,
  peerScript: { script: string; argsOf: (id: string, port: number, peers: Map<string, PeerAddress>) => string[] },
): Promise<Harness> {
  const peers = new Map<string, PeerAddress>();
  peers.set("a", { host: "127.0.0.1", port: 1 }); // a only dials; b must know it as a member
  if (!child) {
    let b = await startNode("b", peers);
    const port = peers.get("b")!.port;
    const a = await startNode("a", peers, 0, false);
    return {
      client: a, peer: "b",
      async killPeer() { await b.close(); },
      async restartPeer() { b = await startNode("b", peers, port); },
      async close() { await a.close(); await b.close(); },
    };
  }
  const spawn = (port: number) => spawnPeer(peerScript.script, peerScript.argsOf("b", port, peers));
  let p = await spawn(0);
  const port = p.port;
  peers.set("b", { host: "127.0.0.1", port });
  const a = await startNode("a", peers, 0, false);
  return {
    client: a, peer: "b",
    async killPeer() { p.proc.kill(9); await p.proc.exited; },
    async restartPeer() { p = await spawn(port); },
    async close() { await a.close(); p.proc.kill(9); await p.proc.exited; },
  };
}
