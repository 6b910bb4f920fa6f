import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import type { TelemetryItem, TelemetrySink } from './telemetry';

/**
 * Appends every item as one JSON line to a file (TASKFLEET_TELEMETRY_FILE): a way to see what a process
 * reports without Azure, and how tests read the telemetry of worker processes. Synchronous appends keep
 * lines whole when several processes share the file.
 */
export class FileSink implements TelemetrySink {
  constructor(private readonly file: string) {
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  }
  emit(item: TelemetryItem): void {
    appendFileSync(this.file, `${JSON.stringify(item)}\n`);
  }
  flush(): Promise<void> {
    return Promise.resolve();
  }
}
