/** A server's services, as written (`http` or `{ https: { path: /health } }`), read as one list. */
import type { ServerDocument, ServiceName } from './types.ts';
import type { ServiceOptions } from './generated/server.ts';

export interface SubscribedService {
  name: ServiceName;
  options: NonNullable<ServiceOptions>;
  /** Its index in spec.services, for findings. */
  index: number;
}

export function listServices(server: Pick<ServerDocument, 'spec'>): SubscribedService[] {
  return server.spec.services.map((item, index) => {
    if (typeof item === 'string') return { name: item, options: {}, index };
    const [name, options] = Object.entries(item)[0] as [ServiceName, ServiceOptions | null | undefined];
    return { name, options: options ?? {}, index };
  });
}
