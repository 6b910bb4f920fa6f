import type { Config } from '../config/config';
import { AppInsightsSink } from './appInsights';
import { FileSink } from './fileSink';
import { Telemetry, type TelemetrySink } from './telemetry';

/** The cloud role names in Application Insights: one per kind of process. */
export type Role = 'taskfleet-supervisor' | 'taskfleet-worker';

/** Telemetry for this process: Application Insights and/or a file when configured, otherwise a no-op. */
export function createTelemetry(config: Config, role: Role, instance: string): Telemetry {
  const sinks: TelemetrySink[] = [];
  if (config.appInsightsConnectionString) {
    sinks.push(new AppInsightsSink(config.appInsightsConnectionString, role, instance));
  }
  if (config.telemetryFile) sinks.push(new FileSink(config.telemetryFile));
  return new Telemetry(sinks, { role, instance });
}
