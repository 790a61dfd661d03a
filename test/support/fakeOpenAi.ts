import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeOpenAiCall {
  authorization: string | undefined;
  body: { model: string; messages: { role: string; content: string }[]; temperature?: number; response_format?: unknown };
}

/**
 * An OpenAI-compatible `/v1/chat/completions` server on loopback, for tests. What it
 * answers depends on the last message: "overloaded" gives 503, "bad-json" plain text,
 * "wrong-shape" JSON of the wrong shape, anything else with a response_format gives
 * `{"sentiment":"positive"}`, and plain prompts are echoed.
 */
export class FakeOpenAi {
  readonly calls: FakeOpenAiCall[] = [];
  private constructor(
    private readonly server: http.Server,
    readonly baseUrl: string,
    readonly hostPort: string,
  ) {}

  static async start(apiKey: string): Promise<FakeOpenAi> {
    let fake: FakeOpenAi | null = null;
    const server = http.createServer((req, res) => {
      let raw = '';
      req.on('data', (chunk) => {
        raw += chunk;
      });
      req.on('end', () => {
        if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
          res.writeHead(404).end();
          return;
        }
        if (req.headers.authorization !== `Bearer ${apiKey}`) {
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"bad key"}}');
          return;
        }
        const body = JSON.parse(raw) as FakeOpenAiCall['body'];
        fake!.calls.push({ authorization: req.headers.authorization, body });
        const last = body.messages[body.messages.length - 1]?.content ?? '';
        if (last.includes('overloaded')) {
          res.writeHead(503).end('busy');
          return;
        }
        const content = last.includes('bad-json')
          ? 'certainly! here you go'
          : last.includes('wrong-shape')
            ? '{"sentiment": 5}'
            : body.response_format
              ? '{"sentiment":"positive"}'
              : `echo: ${last}`;
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'chatcmpl-test',
            object: 'chat.completion',
            model: body.model,
            choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
            usage: { prompt_tokens: Math.ceil(last.length / 4), completion_tokens: 7, total_tokens: Math.ceil(last.length / 4) + 7 },
          }),
        );
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    fake = new FakeOpenAi(server, `http://127.0.0.1:${port}/v1`, `127.0.0.1:${port}`);
    return fake;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
