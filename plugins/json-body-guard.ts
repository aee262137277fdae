import fp from 'fastify-plugin'
import type { FastifyPluginAsync } from 'fastify'
import { invalidRequest } from '../src/errors.js'
import { jsonBodyProblem } from '../src/http/json-body.js'

/**
 * JSON that parses here but that Codex could not read (nested deeper than its parser allows,
 * unpaired surrogates) is a 400 now, not a turn that hangs and a worker recycled as hung later.
 */
const jsonBodyGuard: FastifyPluginAsync = async (fastify) => {
  fastify.addHook('preValidation', async (request) => {
    const problem = jsonBodyProblem(request.body)
    if (problem !== undefined) throw invalidRequest(problem.message, problem.param, 'invalid_value')
  })
}

export default fp(jsonBodyGuard, { name: 'json-body-guard', fastify: '5.x' })
