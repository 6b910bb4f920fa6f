import * as fs from 'node:fs';
import * as path from 'node:path';
import { CONFIG_VARIABLES, loadConfig, SECRET_VARIABLES } from '../../src/config/config';

/** `.env.example` must list exactly the variables config.ts reads, each documented, each at its default. */
const text = fs.readFileSync(path.join(__dirname, '../../.env.example'), 'utf8');
const lines = text.split('\n');

/** Every `NAME=value` line, commented out (`# NAME=value`) or not. */
const entries = lines.flatMap((line, index) => {
  const m = /^(#\s*)?(TASKFLEET_[A-Z0-9_]+|APPLICATIONINSIGHTS_CONNECTION_STRING)=(.*)$/.exec(line);
  return m ? [{ name: m[2]!, value: m[3]!, commented: m[1] !== undefined, index }] : [];
});

const defaults = loadConfig({});
const knownVariables = [...CONFIG_VARIABLES].sort();

describe('.env.example', () => {
  it('lists every variable config.ts reads, and nothing else', () => {
    expect(entries.map((e) => e.name).sort()).toEqual(knownVariables);
  });

  it('lists each variable once', () => {
    const names = entries.map((e) => e.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('sets every active variable to its default', () => {
    const env = Object.fromEntries(entries.filter((e) => !e.commented).map((e) => [e.name, e.value]));
    expect(loadConfig(env)).toStrictEqual(defaults);
  });

  it('shows the default of the commented-out (derived) variables', () => {
    const env = Object.fromEntries(entries.map((e) => [e.name, e.value]));
    expect(loadConfig(env)).toStrictEqual(defaults);
  });

  it('leaves the keys commented out and empty: a secret never has a value in an example file', () => {
    for (const name of SECRET_VARIABLES) {
      expect(entries.find((e) => e.name === name)).toMatchObject({ commented: true, value: '' });
    }
  });

  it('documents each variable on the line above it', () => {
    for (const e of entries) {
      const above = lines[e.index - 1] ?? '';
      expect({ name: e.name, above }).toEqual({ name: e.name, above: expect.stringMatching(/^# \S/) });
      expect(above).not.toMatch(/^#\s*TASKFLEET_/);
    }
  });
});
