import type { Logger } from '../logger.js'
import type { Config } from '../config.js'
import { ProtoBackend } from './proto.js'
import type { CodexBackend } from './types.js'

/** The backend CODEX_BACKEND names. */
export function createBackend (config: Config, log: Logger): CodexBackend {
  switch (config.CODEX_BACKEND) {
    case 'proto':
      return new ProtoBackend({ config, log })
    case 'exec':
    case 'app-server':
      throw new Error(`CODEX_BACKEND=${config.CODEX_BACKEND} is not available yet`)
  }
}
