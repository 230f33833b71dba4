// JSON schemas of the leader's HTTP API (docs/api.md): request bodies, params and querystrings
// are validated by fastify's Ajv with no coercion and no silent removal of unknown fields (an
// unknown field is a 400 naming it); responses are serialised through these schemas, so a view
// field missing here would be dropped: keep them in step with api.ts.
import { TRUST_LEVELS } from '../../domain/cluster.js';
import { MAX_CREATE_XML_BYTES } from '../../protocol/leader.js';

const num = { type: 'number' } as const;
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const numRecord = { type: 'object', additionalProperties: num } as const;

export const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';
/** Host names: as the leader's registration accepts them (protocol/common.ts name64). */
const hostName = { type: 'string', minLength: 1, maxLength: 64 } as const;
const dryRun = { type: 'boolean', description: 'answer what would happen; change nothing' } as const;

// ---- errors ----

export const errorSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: str, message: str, leaderId: str, field: str },
    },
  },
} as const;

const errors = { '4xx': errorSchema, '5xx': errorSchema } as const;

// ---- views ----

const statusView = {
  type: 'object',
  properties: {
    id: str, role: str, token: num, leaderId: str, uptimeS: num, clusterBudgetWatts: num, clusterWatts: num,
    hosts: { type: 'object', properties: { total: int, up: int, draining: int, off: int, lost: int } },
    vms: int, migrationsInFlight: int, budgetViolationPct: num,
  },
} as const;

export const hostView = {
  type: 'object',
  properties: {
    id: str, liveness: str, state: str, cpus: num, memoryMiB: num, idleWatts: num, peakWatts: num, budgetWatts: num,
    measuredWatts: num, budgetSource: str, capKHz: num, maxKHz: num, reliability: num, trust: str, vms: int,
    cpuUtil: num, lastSeen: num, migrationUri: str,
  },
} as const;

export const vmView = {
  type: 'object',
  properties: { uuid: str, name: str, host: str, vcpus: num, memoryMiB: num, cpuUtil: num, sla: str, slaClass: str, minReliability: num, minTrust: str, migratingTo: str },
} as const;

const budgetView = {
  type: 'object',
  properties: {
    clusterWatts: num,
    hosts: {
      type: 'array',
      items: { type: 'object', properties: { host: str, budgetWatts: num, demandWatts: num, measuredWatts: num, floorWatts: num, capWatts: num } },
    },
    lastSplitAt: num,
  },
} as const;

export const decisionView = {
  type: 'object',
  properties: {
    id: int, at: num, kind: str, target: str, value: num, from: str, to: str, policy: str,
    reason: { type: 'object', properties: { code: str, text: str } },
    predicted: numRecord,
    inputs: { type: 'object', additionalProperties: { type: ['number', 'string', 'boolean'] } },
    token: num, outcome: str,
    actual: { type: 'object', additionalProperties: true },
  },
} as const;

export const migrationView = {
  type: 'object',
  properties: {
    id: int, vm: str, from: str, to: str, state: str, progress: num, startedAt: num, endedAt: num, error: str, decisionId: int,
  },
} as const;

const actionAnswer = {
  type: 'object',
  properties: { done: bool, dryRun: bool, reason: str, decisions: { type: 'array', items: decisionView } },
} as const;

const placeAnswer = {
  type: 'object',
  properties: { placed: bool, host: str, reason: str, decision: decisionView, dryRun: bool, created: bool, vm: str },
} as const;

const list = (items: object): object => ({ type: 'array', items });

// ---- requests ----

const dryRunOnly = { type: 'object', additionalProperties: false, properties: { dryRun } } as const;

export const budgetBody = {
  type: 'object',
  additionalProperties: false,
  required: ['watts'],
  properties: { watts: { type: 'number', exclusiveMinimum: 0, maximum: 1e9, description: 'cluster power budget, W' }, dryRun },
} as const;

export const placeBody = {
  type: 'object',
  additionalProperties: false,
  // With a domain XML, vcpus and memoryMiB may be left out: they are read from it.
  anyOf: [{ required: ['vcpus', 'memoryMiB'] }, { required: ['xml'] }],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 128 },
    xml: { type: 'string', minLength: 1, maxLength: MAX_CREATE_XML_BYTES, description: 'libvirt domain XML (bytes checked by the leader)' },
    create: { type: 'boolean', description: 'with xml: the chosen host defines and starts the VM' },
    vcpus: { type: 'integer', minimum: 1, maximum: 1024 },
    memoryMiB: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 },
    cpuUtil: { type: 'number', minimum: 0, maximum: 1 },
    slaClass: { type: 'string', enum: ['gold', 'silver', 'bronze'] },
    minReliability: { type: 'number', minimum: 0, maximum: 1 },
    minTrust: { type: 'string', enum: [...TRUST_LEVELS] },
    affinityGroup: { type: 'string', minLength: 1, maxLength: 128 },
    antiAffinityGroup: { type: 'string', minLength: 1, maxLength: 128 },
    dryRun,
  },
} as const;

export const migrateBody = {
  type: 'object',
  additionalProperties: false,
  properties: { to: hostName, dryRun },
} as const;

const hostParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: hostName } } as const;
const vmParams = { type: 'object', required: ['uuid'], additionalProperties: false, properties: { uuid: { type: 'string', pattern: UUID_PATTERN } } } as const;
const decisionParams = { type: 'object', required: ['id'], additionalProperties: false, properties: { id: { type: 'string', pattern: '^[0-9]{1,15}$' } } } as const;
/** Query numbers arrive as strings; parsed by the handler after this pattern check. */
const count = { type: 'string', pattern: '^[0-9]{1,9}$' } as const;

// ---- routes ----

export const routeSchemas = {
  status: { response: { 200: statusView, ...errors } },
  hosts: { response: { 200: list(hostView), ...errors } },
  host: { params: hostParams, response: { 200: hostView, ...errors } },
  vms: { response: { 200: list(vmView), ...errors } },
  budgets: { response: { 200: budgetView, ...errors } },
  decisions: {
    querystring: { type: 'object', additionalProperties: false, properties: { limit: count, before: count } },
    response: { 200: list(decisionView), ...errors },
  },
  decision: { params: decisionParams, response: { 200: decisionView, ...errors } },
  migrations: {
    querystring: { type: 'object', additionalProperties: false, properties: { limit: count } },
    response: { 200: list(migrationView), ...errors },
  },
  setBudget: { body: budgetBody, response: { 200: actionAnswer, ...errors } },
  place: { body: placeBody, response: { 200: placeAnswer, ...errors } },
  migrate: { params: vmParams, body: migrateBody, response: { 200: actionAnswer, ...errors } },
  drain: { params: hostParams, body: dryRunOnly, response: { 200: actionAnswer, ...errors } },
  plan: { body: dryRunOnly, response: { 200: actionAnswer, ...errors } },
  abortMigration: { params: decisionParams, body: dryRunOnly, response: { 200: actionAnswer, ...errors } },
} as const;
