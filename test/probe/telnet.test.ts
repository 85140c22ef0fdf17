import { describe, expect, test } from 'vitest';
import { createTelnetFilter } from '../../src/probe/telnet.ts';

const latin1 = (bytes: number[]): string => Buffer.from(bytes).toString('latin1');

describe('telnet option refusal', () => {
  test.each([
    ['DO x → WONT x', [[255, 253, 24]], '', [[255, 252, 24]], 1],
    ['WILL x → DONT x', [[255, 251, 1]], '', [[255, 254, 1]], 1],
    ['DONT/WONT are not answered (no negotiation loop)', [[255, 254, 1, 255, 252, 3]], '', [], 2],
    ['IAC IAC is a literal 255 in the data', [[65, 255, 255, 66]], 'A\xffB', [], 0],
    ['a command split across reads', [[72, 255], [253], [31, 105]], 'Hi', [[255, 252, 31]], 1],
    ['subnegotiation is skipped whole', [[255, 250, 24, 1, 255, 240, 108, 111, 103, 105, 110, 58]], 'login:', [], 1],
  ])('%s', (_name, chunks, data, replies, commands) => {
    const sent: number[][] = [];
    const f = createTelnetFilter((b) => sent.push([...b]));
    const out = chunks.map((c) => f.filter(latin1(c))).join('');
    expect(out).toBe(data);
    expect(sent).toEqual(replies);
    expect(f.commands).toBe(commands);
  });
});
