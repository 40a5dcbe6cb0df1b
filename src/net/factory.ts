/**
 * Picks a transport by name, as the cluster config names it: "tls" (s3d's own multiplexing over
 * pooled mutual-TLS connections, the default), "h2" (HTTP/2 over mutual TLS), "quic" (Bun's
 * HTTP/3, experimental, authenticated by the cluster secret) or "memory" (the in-process twin, for
 * tests and single-process simulations).
 */
import { readFile } from "node:fs/promises";
import { credentialPaths } from "./certs.ts";
import { H2Transport, type PeerAddress } from "./h2-transport.ts";
import { MemoryNetwork } from "./memory.ts";
import { QuicTransport } from "./quic-transport.ts";
import { TlsTransport } from "./tls-transport.ts";
import type { NodeId, Transport, TransportHandlers } from "./transport.ts";

export const transportKinds = ["tls", "h2", "quic", "memory"] as const;
export type TransportKind = (typeof transportKinds)[number];
/** "tls": at 16 streams 2-3x the calls/s and bodies of "h2" here (bench/RESULTS.md, Transport). */
export const defaultTransportKind: TransportKind = "tls";

export interface TransportConfig {
  kind: TransportKind;
  self: NodeId;
  /** The address book (for "quic" the ports are UDP). */
  peers: Map<NodeId, PeerAddress>;
  /** Where `s3d certs` wrote ca.crt, <id>.crt/.key and cluster.secret. Not used by "memory". */
  credentialsDir?: string;
  handlers?: TransportHandlers;
  listen?: PeerAddress;
  bodyIdleTimeoutMs?: number;
  /** "memory" only: the network the nodes share (one per process by default). */
  network?: MemoryNetwork;
}

let sharedNetwork: MemoryNetwork | undefined;

export function isTransportKind(s: string): s is TransportKind {
  return (transportKinds as readonly string[]).includes(s);
}

export async function createTransport(c: TransportConfig): Promise<Transport> {
  if (c.kind === "memory") {
    const net = c.network ?? (sharedNetwork ??= new MemoryNetwork());
    return net.node(c.self, c.handlers ?? { call: () => { throw new Error(`${c.self} serves no calls`); } });
  }
  if (!c.credentialsDir) throw new Error(`transport "${c.kind}" needs the credentials directory (s3d certs)`);
  const p = credentialPaths(c.credentialsDir, c.self);
  const [ca, cert, key] = await Promise.all([readFile(p.caCertPath), readFile(p.certPath), readFile(p.keyPath)]);
  const common = { self: c.self, peers: c.peers, handlers: c.handlers, listen: c.listen, bodyIdleTimeoutMs: c.bodyIdleTimeoutMs };
  if (c.kind === "tls") return TlsTransport.start({ ...common, tls: { ca, cert, key } });
  if (c.kind === "h2") return H2Transport.start({ ...common, tls: { ca, cert, key } });
  if (c.kind === "quic") {
    const secret = await readFile(p.secretPath, "utf8");
    return QuicTransport.start({ ...common, secret, tls: { cert, key } });
  }
  throw new Error(`unknown transport ${JSON.stringify(c.kind)}; one of ${transportKinds.join(", ")}`);
}
