import { afterEach, describe, expect, it } from 'vitest'
import pino from 'pino'
import { AppServerWorker } from '../../../../src/backends/app-server/worker.js'
import { FAKE_APP_SERVER } from '../../../helpers/fake-app-server.js'
import { captureLogs } from '../../../helpers/log-capture.js'
import { waitFor } from '../../../helpers/wait.js'

// A worker that dies or garbles names, in the log line that says why, the requests whose turns it
// cut short: their clients got only the request id, the operator looks it up here.

const workers: AppServerWorker[] = []
afterEach(async () => { await Promise.all(workers.splice(0).map(async (w) => { w.child.killNow(); await w.child.exited })) })

async function startWorker (mode: 'ok' | 'garbage'): Promise<{ worker: AppServerWorker, logs: ReturnType<typeof captureLogs> }> {
  const logs = captureLogs()
  const worker = new AppServerWorker({
    id: 1,
    bin: FAKE_APP_SERVER,
    args: ['app-server'],
    cwd: process.cwd(),
    env: { PATH: process.env.PATH ?? '', FAKE_APP_SERVER_MODE: mode },
    log: pino(logs.options as pino.LoggerOptions, logs.options.stream as pino.DestinationStream),
    rpcTimeoutMs: 5000,
    startTimeoutMs: 10_000,
    clientVersion: '0.0.0'
  })
  workers.push(worker)
  await worker.start()
  return { worker, logs }
}

const record = (logs: ReturnType<typeof captureLogs>, msg: string): Record<string, unknown> | undefined => logs.records().find((r) => r.msg === msg)

describe('AppServerWorker failure log lines', () => {
  it('an exit lists the turns in flight and the request ids they were begun with', async () => {
    const { worker, logs } = await startWorker('ok')
    worker.begin('req-a')
    const endB = worker.begin('req-b')
    worker.begin('req-c')
    endB()
    worker.child.killNow()
    await waitFor(() => record(logs, 'app-server exited') !== undefined, 5000, 'the exit log line')
    expect(record(logs, 'app-server exited')).toMatchObject({ worker: 1, turns: 2, requests: ['req-a', 'req-c'], signal: 'SIGKILL' })
  })

  it('garbage on stdout: the protocol-error line names them too', async () => {
    const { worker, logs } = await startWorker('garbage')
    worker.begin('req-g')
    await expect(worker.rpc.request('turn/start', { threadId: 't', input: [] })).rejects.toMatchObject({ code: 'codex_protocol_error' })
    expect(record(logs, 'app-server protocol error; killing the worker')).toMatchObject({ turns: 1, requests: ['req-g'] })
  })
})
