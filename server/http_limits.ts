/**
 * How long and how much a client may take before a Parley HTTP listener has
 * read its request: the numbers that bound slow-header (slowloris) clients,
 * in one place for every listener that faces the internet. Once a request is
 * upgraded to a WebSocket these no longer apply: the chat protocol's own
 * authentication timeout and heartbeats govern the socket.
 */

export interface HttpLimits {
  /**
   * From accepting a connection to the end of its request head (the TLS
   * handshake included). A client that has not sent a whole head by then
   * is disconnected, however slowly it keeps sending.
   */
  headTimeoutMs: number;
  /** The request line and headers together, in bytes; a larger head gets 431. */
  maxHeadBytes: number;
  /**
   * Connections still sending their head. Past this, the oldest of them is
   * dropped, so a flood of slow clients cannot keep a fresh one out.
   */
  maxPendingHeads: number;
  /** Writing an answer to a client that does not read it. */
  writeTimeoutMs: number;
}

export const HTTP_LIMITS: Readonly<HttpLimits> = {
  headTimeoutMs: 10_000,
  maxHeadBytes: 16 * 1024,
  maxPendingHeads: 1024,
  writeTimeoutMs: 10_000,
};
