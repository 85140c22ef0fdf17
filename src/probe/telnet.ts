/**
 * Telnet option negotiation (RFC 854/855) from the probe's side: strip IAC commands from what the
 * peer sends and refuse every option (DO → WONT, WILL → DONT), so that a telnetd waiting for our
 * answers does not stall and the probe never agrees to anything. DONT/WONT are not answered (that
 * is how negotiation loops are avoided, RFC 854).
 */
const IAC = 255;
const DONT = 254;
const DO = 253;
const WONT = 252;
const WILL = 251;
const SB = 250;
const SE = 240;

export interface TelnetFilter {
  /** Data bytes (latin1) with every telnet command removed. */
  filter(chunk: string): string;
  /** How many IAC commands the peer has sent so far. */
  readonly commands: number;
}

const enum State { Data, Iac, Option, Sub, SubIac }

export function createTelnetFilter(reply: (bytes: Buffer) => void): TelnetFilter {
  let state = State.Data;
  let verb = 0;
  let commands = 0;
  return {
    get commands() {
      return commands;
    },
    filter(chunk: string): string {
      if (state === State.Data && chunk.indexOf('\xff') === -1) return chunk;
      let out = '';
      const answers: number[] = [];
      for (let i = 0; i < chunk.length; i++) {
        const c = chunk.charCodeAt(i);
        switch (state) {
          case State.Data:
            if (c === IAC) state = State.Iac;
            else out += chunk[i];
            break;
          case State.Iac:
            if (c === IAC) {
              out += '\xff';
              state = State.Data;
            } else if (c === DO || c === DONT || c === WILL || c === WONT) {
              verb = c;
              state = State.Option;
            } else if (c === SB) {
              commands += 1;
              state = State.Sub;
            } else {
              commands += 1;
              state = State.Data;
            }
            break;
          case State.Option:
            commands += 1;
            if (verb === DO) answers.push(IAC, WONT, c);
            else if (verb === WILL) answers.push(IAC, DONT, c);
            state = State.Data;
            break;
          case State.Sub:
            if (c === IAC) state = State.SubIac;
            break;
          case State.SubIac:
            state = c === SE ? State.Data : State.Sub;
            break;
        }
      }
      if (answers.length > 0) reply(Buffer.from(answers));
      return out;
    },
  };
}
