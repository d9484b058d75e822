/**
 * The daemon's wire format: one JSON object per line, each way. A request gets an `ack` line as soon as the daemon
 * has read it, then one reply line. The ack lets a client tell a slow answer (a token exchange) from a daemon that
 * is not running its event loop at all (stopped, wedged), which the kernel would otherwise hide by accepting the
 * connection on its behalf.
 */

/** Far above the largest request (a 1 MiB store document, base64-encoded). */
export const MAX_LINE_BYTES = 2 * 1024 * 1024;

export type WireRequest =
  | { readonly v: string; readonly op: 'protocol'; readonly action: string; readonly input: string }
  | { readonly v: string; readonly op: 'kubelet'; readonly input: string }
  | { readonly v: string; readonly op: 'status' | 'shutdown' | 'reload' | 'cache-list' }
  | { readonly v: string; readonly op: 'cache-clear'; readonly host?: string }
  /** `credrelay unlock`: the passphrase of the encrypted file store, kept by the daemon as derived keys only. */
  | { readonly v: string; readonly op: 'unlock'; readonly passphrase: string }
  | { readonly v: string; readonly op: 'lock' }
  /** A CLI command's call on the daemon's secret store (the file store unlocked there). */
  | { readonly v: string; readonly op: 'store-call'; readonly call: StoreCall };

/** One call on a secret store, as a CLI command makes it through the daemon. */
export type StoreCall =
  | { readonly method: 'getPassword' | 'deletePassword'; readonly service: string; readonly account: string }
  | { readonly method: 'setPassword'; readonly service: string; readonly account: string; readonly password: string }
  | { readonly method: 'findCredentials'; readonly service: string };

export type WireOp = WireRequest['op'];

export type WireReply =
  | { readonly ack: true }
  | { readonly ok: true; readonly result: unknown }
  | { readonly ok: false; readonly code: string; readonly message: string; readonly version?: string };

export const encodeLine = (message: WireRequest | WireReply): string => `${JSON.stringify(message)}\n`;

/**
 * Splits a byte stream into lines, refusing any line longer than MAX_LINE_BYTES before holding more than that.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxBytes = MAX_LINE_BYTES) {}

  /** Returns the complete lines in `chunk`; throws RangeError when a line outgrows the limit. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let newline = chunk.indexOf(0x0a); newline !== -1; newline = chunk.indexOf(0x0a, start)) {
      this.pending.push(chunk.subarray(start, newline));
      this.pendingBytes += newline - start;
      if (this.pendingBytes > this.maxBytes) throw new RangeError('line too long');
      lines.push(Buffer.concat(this.pending).toString('utf8'));
      this.pending = [];
      this.pendingBytes = 0;
      start = newline + 1;
    }
    if (start < chunk.length) {
      this.pending.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
      if (this.pendingBytes > this.maxBytes) throw new RangeError('line too long');
    }
    return lines;
  }
}
