import closeWithGrace from 'close-with-grace'
import { assertSafeToListen, ConfigError, loadConfig } from './config.js'
import { killAllChildrenNow } from './backends/child-process.js'
import { buildApp } from './build.js'

/** A configuration problem (at load, or found while the app is built) ends the process with 78. */
function exitOnConfigError (err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`)
    process.exit(78)
  }
  throw err
}

async function main (): Promise<void> {
  let config
  try {
    config = loadConfig()
    assertSafeToListen(config)
  } catch (err) {
    exitOnConfigError(err)
  }

  const app = await buildApp({ config }).catch(exitOnConfigError)
  // First signal: stop accepting, interrupt turns, end streams, stop workers, flush the usage
  // log. A second signal, or the grace period running out, exits at once.
  closeWithGrace({
    delay: config.PROXY_SHUTDOWN_GRACE_MS,
    // SIGHUP reopens the usage log (plugins/usage.ts), as logrotate's postrotate expects.
    skip: ['SIGHUP'],
    // Exiting at once must not orphan Codex processes (they run in their own process groups).
    onSecondSignal: (signal) => {
      app.log.error({ signal }, 'second signal: exiting now')
      killAllChildrenNow()
    },
    onTimeout: (delay) => {
      app.log.error({ delay }, 'shutdown took longer than PROXY_SHUTDOWN_GRACE_MS: exiting now')
      killAllChildrenNow()
    }
  }, async ({ signal, err }) => {
    if (err !== undefined) app.log.error({ err }, 'shutting down after an error')
    else app.log.info({ signal }, 'shutting down')
    await app.close()
  })
  await app.listen({ port: config.PORT, host: config.HOST })
}

await main()
