/** The mutual-TLS transports by name, and what their test nodes are made of (no bun:test here: the peer script runs it). */
import { readFileSync } from "node:fs";
import { credentialPaths } from "../../src/net/certs.ts";
import { H2Transport } from "../../src/net/h2-transport.ts";
import { TlsTransport } from "../../src/net/tls-transport.ts";
import type { PeerAddress, Transport, TransportHandlers } from "../../src/net/transport.ts";

export const mtlsTransports = { h2: H2Transport, tls: TlsTransport };
export type MtlsKind = keyof typeof mtlsTransports;

export interface MtlsOptions {
  self: string;
  peers: Map<string, PeerAddress>;
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer };
  bodyIdleTimeoutMs?: number;
  handlers?: TransportHandlers;
  listen?: PeerAddress;
}
export type MtlsNode = Transport & { readonly address?: PeerAddress };

export function credentialsOf(dir: string, id: string) {
  const p = credentialPaths(dir, id);
  return { ca: readFileSync(p.caCertPath), cert: readFileSync(p.certPath), key: readFileSync(p.keyPath) };
}

/** Body idle timeout of the test nodes (the peer script uses the same). */
export const idleMs = 500;

