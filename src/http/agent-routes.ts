/**
 * The vantage-point agents' door (scope agent): `GET /api/agent/targets` hands an agent the probe
 * targets of every watched server, `POST /api/observations` takes its signed report. A report is
 * believed only when the bearer token is a configured vantage's, the body is signed with that
 * token (`X-Mamori-Signature: sha256=<HMAC-SHA256(token, body)>`), and its clock agrees with the
 * daemon's (quorum.maxSkewSeconds): anything else is refused and is no vote.
 */
import type { Logger } from '../log.ts';
import { isMamoriError } from '../errors.ts';
import type { AgentTargets } from '../reconcile/agent-targets.ts';
import { parseAgentReport, type VantageBoard } from '../reconcile/vantage-board.ts';
import { verifyHubSignature } from './auth.ts';
import { HttpError, sendJson, type HttpServer } from './server.ts';

export const SIGNATURE_HEADER = 'x-mamori-signature';


export interface AgentRoutesOptions {
  /** Undefined without `vantages:` in the config: the door answers 501. */
  board: VantageBoard | undefined;
  /** Each agent token by its secretRef (the principal's name): the vantage it is, and the token for the signature. */
  agents: ReadonlyMap<string, { vantage: string; token: string }>;
  targets(): AgentTargets;
  watched(server: string): boolean;
  now(): number;
  logger: Logger;
}

export function registerAgentRoutes(http: HttpServer, o: AgentRoutesOptions): void {
  const agentOf = (principal: { scope: string; name: string } | undefined): { vantage: string; token: string } => {
    const agent = principal?.scope === 'agent' ? o.agents.get(principal.name) : undefined;
    if (agent === undefined) throw new HttpError(403, 'only a vantage-point agent token (vantages[].token) may do this');
    return agent;
  };
  http.route(
    'GET',
    '/api/agent/targets',
    (_req, res, { principal }) => {
      if (o.board === undefined) throw new HttpError(501, 'no vantage points are configured (vantages:)');
      agentOf(principal);
      sendJson(res, 200, o.targets());
    },
    'observe',
  );
  http.route(
    'POST',
    '/api/observations',
    (req, res, { body, principal }) => {
      const board = o.board;
      if (board === undefined) throw new HttpError(501, 'no vantage points are configured (vantages:)');
      const agent = agentOf(principal);
      const header = req.headers[SIGNATURE_HEADER];
      if (!verifyHubSignature(agent.token, body, typeof header === 'string' ? header : undefined)) {
        o.logger.warn({ vantage: agent.vantage }, 'agent report refused: bad signature');
        throw new HttpError(401, `the report is not signed with vantage ${agent.vantage}'s token (${SIGNATURE_HEADER})`);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch {
        throw new HttpError(400, 'the body is not JSON');
      }
      try {
        const result = board.accept(agent.vantage, parseAgentReport(parsed), o.now(), o.watched);
        o.logger.debug({ vantage: agent.vantage, accepted: result.accepted, dropped: result.dropped }, 'agent report accepted');
        sendJson(res, 202, { ok: true, ...result });
      } catch (err) {
        if (!isMamoriError(err, 'MAMORI_AGENT_REPORT_REFUSED')) throw err;
        o.logger.warn({ vantage: agent.vantage, reason: err.message }, 'agent report refused');
        throw new HttpError(422, err.message);
      }
    },
    'observe',
  );
}
