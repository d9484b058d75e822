import { Gaxios } from 'gaxios';

/** A request google-auth-library made, as the transport received it. */
export interface CapturedRequest {
  readonly url: string;
  readonly authorization: string | null;
  /** Form bodies as text, JSON bodies serialised. */
  readonly body: string;
}

/**
 * A gaxios transport that answers every request google-auth-library makes with `respond(url)`, recording each one.
 * The service-account key path posts a signed JWT to Google's fixed token URL; this is how tests receive it.
 */
export function capturingTransport(respond: (url: string) => unknown): {
  transporter: Gaxios;
  requests: CapturedRequest[];
} {
  const requests: CapturedRequest[] = [];
  const transporter = new Gaxios({
    adapter: async (options) => {
      const headers = new Headers(options.headers as ConstructorParameters<typeof Headers>[0]);
      const data = options.data;
      const body =
        typeof data === 'object' && data !== null && !(data instanceof URLSearchParams)
          ? JSON.stringify(data)
          : String(data ?? '');
      const url = String(options.url);
      requests.push({ url, authorization: headers.get('authorization'), body });
      return { data: respond(url), status: 200, statusText: 'OK', headers: new Headers(), config: options } as never;
    },
  });
  return { transporter, requests };
}
