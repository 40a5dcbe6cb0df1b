/**
 * Raft over the cluster transport (src/net, HTTP/2 + mutual TLS): each Raft message is a one-way
 * "raft" message carrying the binary codec; a message too big for one (a large snapshot) goes as
 * a "raft.snap" call whose body streams. The sender's authenticated node name must match the
 * message's `from`, so a peer cannot speak for another.
 */
import type { CallReply, IncomingCall, IncomingMessage, Transport as NetTransport } from "../net/transport.ts";
import { CodecError, decodeMessage, encodeMessage } from "./codec.ts";
import type { Transport } from "./transport.ts";
import type { Message, NodeId } from "./types.ts";

export const RAFT_MESSAGE_METHOD = "raft";
export const RAFT_SNAPSHOT_METHOD = "raft.snap";
/** Largest Raft message sent as a one-way message (src/net's messageBytesMax is 64 MiB). */
export const RAFT_MESSAGE_BYTES_MAX = 32 * 1024 * 1024;
/** Largest snapshot message accepted through a call body (held in memory whole). */
export const RAFT_SNAPSHOT_BYTES_MAX = 4 * 1024 * 1024 * 1024 - 1;

/** How Raft's numeric ids map to the transport's node names (from the cluster config). */
export interface RaftAddressBook {
  nameOf(id: NodeId): string | undefined;
  idOf(name: string): NodeId | undefined;
}

export class RaftNetAdapter implements Transport {
  private net?: NetTransport;
  private handler?: (m: Message) => void;
  dropped = 0;

  constructor(
    private readonly book: RaftAddressBook,
    private readonly messageBytesMax = RAFT_MESSAGE_BYTES_MAX,
  ) {}

  /** The net transport is created with handlers that call onMessage/onCall: attach it after. */
  attach(net: NetTransport): void {
    this.net = net;
  }

  send(messages: Message[]): void {
    for (const m of messages) {
      const to = this.book.nameOf(m.to);
      if (!this.net || to === undefined) {
        this.dropped++;
        continue;
      }
      const bytes = encodeMessage(m);
      try {
        if (bytes.byteLength <= this.messageBytesMax) {
          this.net.send(to, RAFT_MESSAGE_METHOD, {}, bytes);
        } else {
          const body = new ReadableStream<Uint8Array>({
            start(c) {
              c.enqueue(bytes);
              c.close();
            },
          });
          this.net.call(to, RAFT_SNAPSHOT_METHOD, { body }).catch(() => this.dropped++); // Raft retries
        }
      } catch {
        this.dropped++; // never throw into the Raft loop: a lost message is a normal event
      }
    }
  }

  listen(handler: (m: Message) => void): void {
    this.handler = handler;
  }

  close(): void {
    this.handler = undefined; // the net transport belongs to the caller
  }

  /** For TransportHandlers.message: returns false if the message is not Raft's. */
  onMessage(msg: IncomingMessage): boolean {
    if (msg.method !== RAFT_MESSAGE_METHOD) return false;
    if (msg.payload) this.deliver(msg.from, msg.payload);
    return true;
  }

  /** For TransportHandlers.call with method RAFT_SNAPSHOT_METHOD. */
  async onCall(call: IncomingCall): Promise<CallReply> {
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (call.body) {
      for await (const chunk of call.body) {
        size += chunk.byteLength;
        if (size > RAFT_SNAPSHOT_BYTES_MAX) throw new Error("raft snapshot message too large");
        chunks.push(chunk);
      }
    }
    const bytes = new Uint8Array(size);
    let o = 0;
    for (const c of chunks) {
      bytes.set(c, o);
      o += c.byteLength;
    }
    this.deliver(call.from, bytes);
    return { header: {} };
  }

  private deliver(fromName: string, bytes: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(bytes);
    } catch (e) {
      if (e instanceof CodecError) {
        this.dropped++;
        return;
      }
      throw e;
    }
    if (this.book.idOf(fromName) !== m.from) {
      this.dropped++; // the authenticated sender is not who the message claims to be
      return;
    }
    this.handler?.(m);
  }
}
