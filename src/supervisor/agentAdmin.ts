/**
 * Admin actions on agents: drain, suspend, resume, unfreeze, remove, and their settings (concurrency, disabled
 * types). Each is conditional and audited.
 */
import { noTelemetry, type Telemetry } from '../telemetry/telemetry';
import { describeSettingsChange, type AgentRecord, type AgentSettingsChange, type AgentState } from '../domain/agent';
import type { Clock } from '../domain/clock';
import { ConflictError, NotFoundError, ValidationError, type FieldIssue } from '../domain/errors';
import type { Actor } from '../domain/security';
import type { AuditLog } from '../security/audit';
import type { Store } from '../store/port';
import type { HeartbeatEnforcer } from './enforcement';

export const AGENT_ACTIONS = ['drain', 'suspend', 'resume', 'unfreeze'] as const;
export type AgentAction = (typeof AGENT_ACTIONS)[number];

const RULES: Record<AgentAction, { from: AgentState[]; to: AgentState }> = {
  drain: { from: ['registered', 'running', 'degraded', 'warning'], to: 'draining' },
  suspend: { from: ['registered', 'running', 'degraded', 'warning', 'draining'], to: 'suspended' },
  resume: { from: ['suspended', 'draining', 'warning'], to: 'running' },
  unfreeze: { from: ['frozen'], to: 'running' },
};

export const REMOVABLE_STATES: AgentState[] = ['stopped', 'failed'];

export class AgentAdmin {
  constructor(
    private readonly store: Store,
    private readonly enforcer: HeartbeatEnforcer,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly telemetry: Telemetry = noTelemetry,
  ) {}

  async act(agentId: string, action: AgentAction, actor: Actor): Promise<AgentRecord> {
    const rule = RULES[action];
    const agent = await this.store.getAgent(agentId);
    if (!agent) throw new NotFoundError(`agent ${agentId}`);
    const ok = await this.store.setAgentState({
      agentId,
      to: rule.to,
      from: rule.from,
      reason: `${action} by ${actor.name}`,
      now: this.clock.now(),
      source: 'admin',
    });
    if (!ok) {
      const hint = agent.state === 'frozen' && action === 'resume' ? ' (a frozen agent needs unfreeze)' : '';
      throw new ConflictError(
        `agent ${agentId} is ${agent.state}; ${action} applies to ${rule.from.join(', ')}${hint}`,
      );
    }
    this.telemetry.agentStateChanged(agentId, agent.state, rule.to, `${action} by ${actor.name}`);
    if (action === 'suspend') await this.enforcer.reclaimLeases(agentId);
    await this.audit.record(actor, `agent.${action}`, `agent:${agentId}`, { from: agent.state, to: rule.to });
    const after = await this.store.getAgent(agentId);
    if (!after) throw new NotFoundError(`agent ${agentId}`);
    return after;
  }

  /**
   * Changes the agent's settings; it applies them at its next heartbeat. A disabled type must be one the agent
   * registered with, and at least one type must stay served (to take an agent out of work, drain or suspend it).
   * A change that changes nothing writes nothing. Answers the agent as stored.
   */
  async updateSettings(agentId: string, change: AgentSettingsChange, actor: Actor): Promise<AgentRecord> {
    const agent = await this.store.getAgent(agentId);
    if (!agent) throw new NotFoundError(`agent ${agentId}`);
    const registered = new Set([...agent.types, ...agent.disabledTypes]);
    const disabledTypes =
      change.disabledTypes === undefined ? agent.disabledTypes : [...new Set(change.disabledTypes)].sort();
    const issues: FieldIssue[] = [];
    (change.disabledTypes ?? []).forEach((type, i) => {
      if (!registered.has(type))
        issues.push({ field: `disabledTypes[${i}]`, message: `agent ${agentId} has no type ${type}` });
    });
    if (issues.length === 0 && disabledTypes.length >= registered.size) {
      issues.push({
        field: 'disabledTypes',
        message: 'would leave the agent no type to serve: drain or suspend it instead',
      });
    }
    if (issues.length > 0) throw new ValidationError(issues);
    const after = {
      desiredConcurrency: change.concurrency === undefined ? agent.desiredConcurrency : change.concurrency,
      disabledTypes,
    };
    const reason = describeSettingsChange(agent, after, actor.name);
    if (reason === null) return agent;
    const updated = await this.store.updateAgentSettings({ agentId, ...after, reason, now: this.clock.now() });
    if (!updated) throw new NotFoundError(`agent ${agentId}`);
    await this.audit.record(actor, 'agent.update', `agent:${agentId}`, {
      from: { concurrency: agent.desiredConcurrency, disabledTypes: agent.disabledTypes },
      to: { concurrency: after.desiredConcurrency, disabledTypes: after.disabledTypes },
    });
    return updated;
  }

  async remove(agentId: string, actor: Actor): Promise<void> {
    const agent = await this.store.getAgent(agentId);
    if (!agent) throw new NotFoundError(`agent ${agentId}`);
    if (!(await this.store.removeAgent(agentId, REMOVABLE_STATES))) {
      throw new ConflictError(
        `agent ${agentId} is ${agent.state}; only ${REMOVABLE_STATES.join(' or ')} agents can be removed`,
      );
    }
    await this.audit.record(actor, 'agent.remove', `agent:${agentId}`, { state: agent.state });
  }
}
