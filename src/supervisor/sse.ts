/**
 * One server-sent-events response. Heartbeat comments keep proxies from closing an idle stream; a client that
 * reads too slowly is disconnected (it resumes with Last-Event-ID), never buffered without bound: past
 * `maxBufferBytes` held in the process, or when the socket has taken nothing for `stallMs` while there was
 * something to send.
 */
import type { Response } from 'express';

export interface StreamSettings {
  keepAliveMs: number;
  stallMs: number;
  maxBufferBytes: number;
}

export const DEFAULT_STREAM_SETTINGS: StreamSettings = {
  keepAliveMs: 15_000,
  stallMs: 10_000,
  maxBufferBytes: 1024 * 1024,
};

const TICK_MS = 1_000;

export class SseStream {
  private stalledSince: number | null = null;
  private lastWriteAt = Date.now();
  private readonly timer: NodeJS.Timeout;
  private readonly closeHandlers: Array<() => void> = [];
  private drainWaiters: Array<() => void> = [];
  private done = false;

  constructor(
    private readonly res: Response,
    private readonly settings: StreamSettings,
  ) {
    res.status(200).set({
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      // nginx (and Azure's ingress built on it) would otherwise hold events back in its buffer.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    this.timer = setInterval(() => this.tick(), Math.min(TICK_MS, settings.keepAliveMs));
    this.timer.unref();
    res.on('drain', () => this.drained());
    res.on('close', () => this.closed());
  }

  get isOpen(): boolean {
    return !this.done;
  }

  /** An event; without an id (progress is state, not a point of the log to resume after). */
  send(event: string, data: unknown, id?: number): void {
    const head = id === undefined ? '' : `id: ${id}\n`;
    this.write(`${head}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /** Resolves once the socket takes more (or the stream closed): what a backlog replay waits on. */
  whenWritable(): Promise<void> {
    if (this.done || this.stalledSince === null) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  onClose(fn: () => void): void {
    if (this.done) fn();
    else this.closeHandlers.push(fn);
  }

  end(): void {
    if (this.done) return;
    this.res.end();
    this.closed();
  }

  private write(text: string): void {
    if (this.done) return;
    this.lastWriteAt = Date.now();
    if (!this.res.write(text)) this.stalledSince ??= Date.now();
    if (this.res.writableLength > this.settings.maxBufferBytes) this.disconnect();
  }

  private tick(): void {
    const now = Date.now();
    if (this.stalledSince !== null && now - this.stalledSince > this.settings.stallMs) {
      this.disconnect();
      return;
    }
    if (now - this.lastWriteAt >= this.settings.keepAliveMs) this.write(': keep-alive\n\n');
  }

  /** Too slow: the socket is destroyed (an orderly end would wait behind what is buffered). */
  private disconnect(): void {
    this.res.destroy();
    this.closed();
  }

  private drained(): void {
    this.stalledSince = null;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private closed(): void {
    if (this.done) return;
    this.done = true;
    clearInterval(this.timer);
    this.drained();
    for (const fn of this.closeHandlers.splice(0)) fn();
  }
}
