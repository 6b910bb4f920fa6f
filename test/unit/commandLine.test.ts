import { commandEnvironment } from '../../workers/handlers/command';
import { isEnvName, parseExecSpec, splitCommand } from '../../workers/handlers/commandLine';

describe('splitCommand: a command line into argv, without a shell', () => {
  it.each([
    ['python3 /opt/tasks/resize.py', ['python3', '/opt/tasks/resize.py']],
    ['  node   run.js\t--fast  ', ['node', 'run.js', '--fast']],
    ["sh -c 'echo $HOME; ls *'", ['sh', '-c', 'echo $HOME; ls *']],
    [
      'prog "two words" "a \\"quote\\"" "back\\\\slash" "keep \\n"',
      ['prog', 'two words', 'a "quote"', 'back\\slash', 'keep \\n'],
    ],
    ['prog one\\ word \\$HOME', ['prog', 'one word', '$HOME']],
    ['prog ab\'cd\'"ef"', ['prog', 'abcdef']],
    ['prog \'\' ""', ['prog', '', '']],
    ['prog $(rm -rf /) `id` a|b >out', ['prog', '$(rm', '-rf', '/)', '`id`', 'a|b', '>out']],
    ['', []],
  ])('%s', (line, argv) => {
    expect(splitCommand(line)).toEqual(argv);
  });

  it.each([["echo 'open"], ['echo "open'], ['echo trailing\\']])('refuses %s', (line) => {
    expect(() => splitCommand(line)).toThrow(/unclosed|trailing/);
  });
});

describe('parseExecSpec: one --exec value', () => {
  it('splits at the first "=" only', () => {
    expect(parseExecSpec('resize=convert -resize=50% in.png')).toEqual({
      type: 'resize',
      argv: ['convert', '-resize=50%', 'in.png'],
    });
  });

  it.each([
    ['resize', /is not <type>=<command>/],
    ['Resize Image=convert', /is not a token/],
    ['=convert', /is not a token/],
    ['resize=   ', /is empty/],
  ])('refuses %s', (value, message) => {
    expect(() => parseExecSpec(value)).toThrow(message);
  });
});

describe('the environment of a command', () => {
  it('holds the base variables and the named ones that are set, nothing else', () => {
    const worker = {
      PATH: '/usr/bin',
      HOME: '/home/w',
      LANG: 'C.UTF-8',
      TASKFLEET_REDIS_URL: 'redis://secret@host',
      SECRET_TOKEN: 'x',
      MODEL_DIR: '/models',
    };
    expect(commandEnvironment(worker, ['MODEL_DIR', 'NOT_SET'])).toEqual({
      PATH: '/usr/bin',
      HOME: '/home/w',
      LANG: 'C.UTF-8',
      MODEL_DIR: '/models',
    });
  });

  it('accepts variable names only', () => {
    expect(['A', '_x', 'MODEL_DIR2'].every(isEnvName)).toBe(true);
    expect(['', '1A', 'A-B', 'A=B', 'A B'].some(isEnvName)).toBe(false);
  });
});
