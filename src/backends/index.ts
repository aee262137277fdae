import type { Config } from '../config.js'
import type { Logger } from '../logger.js'
import { packageVersion } from '../version.js'
import { AppServerBackend } from './app-server/app-server-backend.js'
import { ExecBackend } from './exec.js'
import { ProtoBackend } from './proto.js'
import type { CodexBackend } from './types.js'

/** The backend CODEX_BACKEND names. */
export function createBackend (config: Config, log: Logger): CodexBackend {
  switch (config.CODEX_BACKEND) {
    case 'app-server':
      return new AppServerBackend({ config, log, version: packageVersion() })
    case 'proto':
      return new ProtoBackend({ config, log })
    case 'exec':
      return new ExecBackend({ config, log })
  }
}
