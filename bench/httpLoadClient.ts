/**
 * The HTTP load generator of the throughput benchmark, in its own process as a real
 * client would be, so the appliance's CPU figures are the appliance's alone. Reads its
 * job as JSON from argv[2]; starts `runs` runs with `inflight` requests in flight; exits
 * non-zero on the first failed request.
 */
import { boundedParallel } from './stats.js';

export interface HttpLoadJob {
  url: string;
  token: string;
  workflowId: string;
  runs: number;
  inflight: number;
}

async function startRun(job: HttpLoadJob): Promise<void> {
  const response = await fetch(`${job.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${job.token}` },
    body: JSON.stringify({
      query: 'mutation($i: StartRunInput!) { startRun(input: $i) { id status } }',
      variables: { i: { workflowId: job.workflowId, input: {} } },
    }),
  });
  const body = (await response.json()) as { data?: { startRun: { id: string } }; errors?: unknown };
  if (!body.data) throw new Error(`startRun over HTTP failed (${response.status}): ${JSON.stringify(body.errors)}`);
}

const job = JSON.parse(process.argv[2] ?? '{}') as HttpLoadJob;
boundedParallel(job.runs, job.inflight, () => startRun(job)).then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${(error as Error).message}\n`);
    process.exit(1);
  },
);
