/**
 * Application Insights through `applicationinsights` 3 (built on OpenTelemetry). Loaded only when a
 * connection string is configured. The cloud role name comes from OTEL_SERVICE_NAME, which must be set before
 * the SDK starts (the v2 `context.tags` way no longer works). Events land in `customEvents`, metrics in
 * `customMetrics`, dependencies in `dependencies`; each carries the current task's trace as its operation id.
 */
import { context, trace as otelTrace, TraceFlags } from '@opentelemetry/api';
import type { TraceContext } from './traceparent';
import type { TelemetryItem, TelemetrySink } from './telemetry';

type AppInsightsModule = typeof import('applicationinsights');

export class AppInsightsSink implements TelemetrySink {
  private readonly client: InstanceType<AppInsightsModule['TelemetryClient']>;
  private readonly ai: AppInsightsModule;

  constructor(connectionString: string, roleName: string, instance: string) {
    // The resource attributes are read when the SDK starts: set them first.
    process.env.OTEL_SERVICE_NAME = roleName;
    process.env.OTEL_RESOURCE_ATTRIBUTES = `service.instance.id=${instance}`;
    // The SDK's default sampler keeps 5 traces a second and, in practice, dropped every dependency tracked
    // through trackDependency (they start in the past). Keep every span of a sampled trace unless the
    // operator chose a sampler (OTEL_TRACES_SAMPLER, e.g. microsoft.rate_limited with OTEL_TRACES_SAMPLER_ARG).
    process.env.OTEL_TRACES_SAMPLER ??= 'parentbased_always_on';
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    this.ai = require('applicationinsights') as AppInsightsModule;
    this.ai.setup(connectionString).setSendLiveMetrics(false).start();
    const client = this.ai.defaultClient;
    if (!client) throw new Error('Application Insights did not start');
    this.client = client;
  }

  emit(item: TelemetryItem): void {
    switch (item.kind) {
      case 'event':
        this.client.trackEvent({ name: item.name, properties: item.properties });
        return;
      case 'metric':
        this.client.trackMetric({ name: item.name, value: item.value ?? 0, properties: item.properties });
        return;
      case 'dependency':
        this.client.trackDependency({
          name: item.name,
          data: item.name,
          target: item.properties.target ?? '',
          dependencyTypeName: item.properties.type ?? 'SQL',
          duration: item.durationMs ?? 0,
          success: item.success ?? true,
          resultCode: item.success === false ? 1 : 0,
        });
        return;
    }
  }

  /** Runs `fn` inside a span context of the task's trace, so everything tracked belongs to that operation. */
  wrap<T>(trace: TraceContext, fn: () => T): T {
    const ctx = otelTrace.setSpanContext(context.active(), {
      traceId: trace.traceId,
      spanId: trace.spanId,
      traceFlags: trace.sampled ? TraceFlags.SAMPLED : TraceFlags.NONE,
      isRemote: true,
    });
    return context.with(ctx, fn);
  }

  async flush(): Promise<void> {
    await Promise.resolve(this.client.flush()).catch(() => undefined);
    await this.ai.flushAzureMonitor().catch(() => undefined);
    await this.ai.shutdownAzureMonitor().catch(() => undefined);
  }
}
