/**
 * Contract: sensitive tasks. The adapter stores the `sensitive` flag; the sealing wrapper (sealedStore.ts) over
 * the adapter keeps the payload and result encrypted at rest, opens them for a claim and a single read, redacts
 * them everywhere else, rotates keys, and detects values that were altered or moved between rows.
 */
import { ConflictError } from '../../src/domain/errors';
import { DataKeyRing } from '../../src/security/dataKeys';
import { REDACTED, SealedDataError, type SealedValue } from '../../src/security/encryption';
import { sealStore } from '../../src/store/sealedStore';
import type { CurrentStore } from './store.contract';
import { claim, LEASE_MS, leaseOf, newTask, submit, T0 } from './fixtures';

const material = (n: number) => Buffer.alloc(32, n).toString('base64');
const K1 = DataKeyRing.parse(`k1:${material(1)}`);
const K2_K1 = DataKeyRing.parse(`k2:${material(2)},k1:${material(1)}`);
const K2 = DataKeyRing.parse(`k2:${material(2)}`);

const SECRET = 'card-4111-1111-1111-1111';
const payload = { card: SECRET, amount: 12 };

export function sensitiveContract(store: CurrentStore): void {
  describe('sensitive tasks', () => {
    it('stores the sensitive flag, false unless set', async () => {
      const plain = await submit(store());
      const flagged = await submit(store(), { sensitive: true });
      expect(plain.sensitive).toBe(false);
      expect(flagged.sensitive).toBe(true);
      expect((await store().getTask(flagged.id))?.sensitive).toBe(true);
      expect((await store().listTasks({ limit: 10 })).map((t) => [t.id, t.sensitive])).toEqual([
        [flagged.id, true],
        [plain.id, false],
      ]);
      expect((await claim(store(), flagged)).sensitive).toBe(true);
    });

    it('keeps payload and result sealed at rest, plain for the claim and a read, redacted in lists', async () => {
      const sealed = sealStore(store(), K1);
      const [outcome] = await sealed.insertTasks([newTask({ sensitive: true, payload })]);
      expect(outcome?.task.payload).toEqual(payload);
      const id = outcome!.task.id;

      const raw = await store().getTask(id);
      expect(raw?.payload).toMatchObject({ sealed: 1, kid: 'k1' });
      expect(JSON.stringify(raw)).not.toContain(SECRET);

      const claimed = await sealed.claimTask({
        taskId: id,
        attempt: 0,
        agentId: 'agent-a',
        now: T0 + 1,
        leaseMs: LEASE_MS,
      });
      expect(claimed).toMatchObject({ claimed: true, task: { payload } });
      const running = (claimed as { task: { attempt: number } }).task;
      const result = { receipt: `paid with ${SECRET}` };
      const ref = { taskId: id, attempt: running.attempt, agentId: 'agent-a', now: T0 + 2 };
      expect(await sealed.completeTask({ ...ref, result })).toBe(true);

      const stored = await store().getTask(id);
      expect(stored?.result).toMatchObject({ sealed: 1, kid: 'k1' });
      expect(JSON.stringify(stored)).not.toContain(SECRET);
      expect(await sealed.getTask(id)).toMatchObject({ status: 'succeeded', payload, result });
      expect((await sealed.listTasks({ limit: 5 }))[0]).toMatchObject({ id, payload: REDACTED, result: REDACTED });
      // A plain task is untouched by the wrapper, in a read and in a list.
      const plain = await submit(sealed, { payload: { visible: true } });
      expect((await sealed.listTasks({ limit: 5 }))[0]).toMatchObject({ id: plain.id, payload: { visible: true } });
    });

    it('seals the result of a task claimed through another wrapper (an HTTP agent reporting elsewhere)', async () => {
      const task = await submit(sealStore(store(), K1), { sensitive: true, payload });
      const running = await claim(sealStore(store(), K1), task);
      await sealStore(store(), K1).completeTask({ ...leaseOf(running, T0 + 2), result: { echo: SECRET } });
      expect(JSON.stringify(await store().getTask(task.id))).not.toContain(SECRET);
      expect((await sealStore(store(), K1).getTask(task.id))?.result).toEqual({ echo: SECRET });
    });

    it('never stores a sensitive result in the clear, even where no key is configured', async () => {
      const task = await submit(sealStore(store(), K1), { sensitive: true, payload });
      const running = await claim(sealStore(store(), K1), task);
      const keyless = sealStore(store(), null);
      await expect(
        keyless.completeTask({ ...leaseOf(running, T0 + 2), result: { echo: SECRET } }),
      ).rejects.toMatchObject({
        code: 'data_key_missing',
      });
      expect(await store().getTask(task.id)).toMatchObject({ status: 'running', result: null });
    });

    it('reads old tasks after a rotation, writes new ones with the new key, and names a key no longer held', async () => {
      const old = await submit(sealStore(store(), K1), { sensitive: true, payload });
      const rotated = sealStore(store(), K2_K1);
      expect((await rotated.getTask(old.id))?.payload).toEqual(payload);
      const fresh = await submit(rotated, { sensitive: true, payload });
      expect(((await store().getTask(fresh.id))?.payload as SealedValue).kid).toBe('k2');

      const k2Only = sealStore(store(), K2);
      expect((await k2Only.getTask(fresh.id))?.payload).toEqual(payload);
      const err = await k2Only.getTask(old.id).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SealedDataError);
      expect(err).toMatchObject({ reason: 'key_missing', status: 500, code: 'data_key_missing' });
      expect((err as Error).message).toMatch(/data key "k1", which TASKFLEET_DATA_KEY does not hold/);
      // Lists still answer, redacted, without the key.
      expect((await k2Only.listTasks({ limit: 5 })).map((t) => t.payload)).toEqual([REDACTED, REDACTED]);
      await expect(sealStore(store(), null).getTask(fresh.id)).rejects.toThrow(/no key is configured/);
    });

    it('detects a flipped byte, and a sealed value moved to another task', async () => {
      const sealed = sealStore(store(), K1);
      const a = await submit(sealed, { sensitive: true, payload });
      const stolen = (await store().getTask(a.id))?.payload as SealedValue;
      const bytes = Buffer.from(stolen.data, 'base64');
      bytes[3] = (bytes[3] ?? 0) ^ 0x01;
      const flipped = await submit(store(), {
        sensitive: true,
        payload: { ...stolen, data: bytes.toString('base64') },
      });
      const moved = await submit(store(), { sensitive: true, payload: stolen });
      for (const id of [flipped.id, moved.id]) {
        await expect(sealed.getTask(id)).rejects.toMatchObject({ reason: 'invalid', code: 'sealed_data_invalid' });
      }
      expect((await sealed.getTask(a.id))?.payload).toEqual(payload);
    });

    it('fails the attempt of a claimed task that cannot be opened, instead of running it', async () => {
      const sealed = sealStore(store(), K1);
      const good = await submit(sealed, { sensitive: true, payload });
      const stolen = (await store().getTask(good.id))?.payload;
      const moved = await submit(store(), { sensitive: true, payload: stolen });
      const result = await sealed.claimTask({
        taskId: moved.id,
        attempt: 0,
        agentId: 'agent-a',
        now: T0 + 1,
        leaseMs: LEASE_MS,
      });
      expect(result.claimed).toBe(false);
      expect((await store().getTask(moved.id))?.status).toBe('dead');
      expect((await store().getTask(moved.id))?.error).toMatchObject({ kind: 'sealed_data_invalid' });

      // A key this process does not hold: the attempt fails and is retried (another worker may hold the key).
      const other = await submit(sealStore(store(), K2), { sensitive: true, payload });
      const refused = await sealed.claimTask({
        taskId: other.id,
        attempt: 0,
        agentId: 'agent-a',
        now: T0 + 1,
        leaseMs: LEASE_MS,
      });
      expect(refused.claimed).toBe(false);
      expect(await store().getTask(other.id)).toMatchObject({ status: 'queued', error: { kind: 'data_key_missing' } });
    });

    it('replays an idempotent sensitive submission by a keyed hash, across a rotation', async () => {
      const task = (hash: string) =>
        newTask({ sensitive: true, payload, idempotencyKey: 'c:task:k', requestHash: hash });
      const [first] = await sealStore(store(), K1).insertTasks([task('h1')]);
      const stored = await store().getTask(first!.task.id);
      expect(stored?.requestHash).toMatch(/^k1:[0-9a-f]{64}$/);

      const [again] = await sealStore(store(), K1).insertTasks([task('h1')]);
      expect(again).toMatchObject({ created: false, task: { id: first!.task.id, payload } });
      const [rotated] = await sealStore(store(), K2_K1).insertTasks([task('h1')]);
      expect(rotated).toMatchObject({ created: false, task: { id: first!.task.id, payload } });
      await expect(sealStore(store(), K2_K1).insertTasks([task('h2')])).rejects.toBeInstanceOf(ConflictError);
    });

    it('refuses a sensitive task without a key, writing nothing', async () => {
      await expect(sealStore(store(), null).insertTasks([newTask({ sensitive: true })])).rejects.toMatchObject({
        status: 400,
        issues: [{ field: 'sensitive', message: expect.stringMatching(/TASKFLEET_DATA_KEY/) }],
      });
      expect(await store().listTasks({ limit: 5 })).toEqual([]);
    });
  });
}
