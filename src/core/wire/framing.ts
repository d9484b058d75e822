import type { WireAck, WireReply, WireRequest } from './contract.js';

/** Far above the largest request (a 1 MiB store document, base64-encoded). */
export const MAX_LINE_BYTES = 2 * 1024 * 1024;

export const encodeLine = (message: WireRequest | WireReply | WireAck): string => `${JSON.stringify(message)}\n`;

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

  /** Whether bytes of an unfinished line are held. */
  holdsPartialLine(): boolean {
    return this.pendingBytes > 0;
  }
}
