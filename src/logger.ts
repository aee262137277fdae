import type { FastifyBaseLogger } from 'fastify'

/** The logger src/ code takes: Fastify's pino logger, or a child of it (type only; no runtime import). */
export type Logger = FastifyBaseLogger
