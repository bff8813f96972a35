// docker-compose.yml, the Dockerfile and .dockerignore, checked without a Docker engine: the
// files parse, every reference resolves (images, build contexts, anchors, services, volumes,
// secrets, configs), ports and addresses agree, the namespace job registers exactly the search
// attributes the code defines, compose sets only variables the code reads, and the image holds
// everything its processes import. The second block breaks each rule on purpose.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument, stringify } from 'yaml';
import { API_NODE_FLAGS, apiConfigFromEnv } from '../api/config.js';
import { PROJECT_ROOT, storeLocation, temporalSettings } from '../core/config.js';
import { hostPortSetting, logLevelSetting } from '../core/env.js';
import { SEARCH_ATTRIBUTES, trainingTaskQueue } from '../core/types.js';
import { errorMessage } from '../core/errors.js';

/** Where the code reads its environment. */
const SOURCE_DIRS = ['core', 'storage', 'api', 'worker', 'bin', 'data', 'activities', 'workflows', 'ml'];

const TEMPORAL_FRONTEND_PORT = '7233';
const UI_PORT = '8080';

/** The main task queue a process uses (training's is derived from it by the code: trainingTaskQueue). */
function taskQueue(env: Map<string, string>): string {
  return env.get('MLOPS_TASK_QUEUE') || 'mlops';
}
const WORKER_QUEUE_ROLES = ['all', 'main', 'training'];
const CONDITIONS = ['service_started', 'service_healthy', 'service_completed_successfully'];
/** The role each pool of the production shape has, by service name. */
const EXPECTED_ROLES = { worker: 'main', trainer: 'training' } as const;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asObj = (v: unknown): Obj => (isObj(v) ? v : {});
const str = (v: unknown): string => (v === null || v === undefined ? '' : String(v));

interface Repo {
  readonly root: string;
  /** Environment variable names the code reads. */
  readonly knownEnv: ReadonlySet<string>;
  readonly searchAttributes: readonly { readonly name: string; readonly type: string }[];
  readonly packageJson: { dependencies?: Obj; devDependencies?: Obj; allowScripts?: Obj };
  readonly dockerignore: string;
}

// ---------------------------------------------------------------------------------------
// Reading the repository

function walk(dir: string, out: string[] = []): string[] {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return out;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) out.push(full);
  }
  return out;
}

/** `process.env.X`, `env.X`, `env['X']` and `helper(env, 'X')` in the code (upper-case names only). */
function envReadByCode(root: string): Set<string> {
  const names = new Set<string>();
  const patterns = [
    /\benv\.([A-Z_][A-Z0-9_]*)/g,
    /\benv\[\s*['"]([A-Z_][A-Z0-9_]*)['"]\s*\]/g,
    /\benv\s*,\s*['"]([A-Z_][A-Z0-9_]*)['"]/g,
  ];
  for (const file of SOURCE_DIRS.flatMap((d) => walk(path.join(root, d)))) {
    const text = readFileSync(file, 'utf8');
    for (const re of patterns) for (const m of text.matchAll(re)) names.add(m[1]!);
  }
  return names;
}

function realRepo(): Repo {
  const read = envReadByCode(PROJECT_ROOT);
  return {
    root: PROJECT_ROOT,
    knownEnv: read,
    searchAttributes: SEARCH_ATTRIBUTES.map((k) => ({ name: k.name, type: String(k.type) })),
    packageJson: JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as Repo['packageJson'],
    dockerignore: readFileSync(path.join(PROJECT_ROOT, '.dockerignore'), 'utf8'),
  };
}

/** Whether .dockerignore keeps `rel` (a path relative to the build context) out of the context. */
function dockerIgnored(dockerignore: string, rel: string): boolean {
  const segments = path.posix.normalize(rel.replace(/^\.\//, '')).split('/');
  let ignored = false;
  for (const raw of dockerignore.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
    const re = new RegExp(
      `^${pattern
        .split(/(\*\*|\*|\?)/)
        .map((p) => (p === '**' ? '.*' : p === '*' ? '[^/]*' : p === '?' ? '[^/]' : p.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('')}$`,
    );
    // A pattern that matches a folder keeps everything under it out too.
    if (segments.some((_, i) => re.test(segments.slice(0, i + 1).join('/')))) ignored = !negate;
  }
  return ignored;
}

// ---------------------------------------------------------------------------------------
// docker-compose.yml

/** Compose's own substitution, with the defaults a fresh shell would get. */
function interpolate(value: string): string {
  return value.replace(/\$\$|\$\{([A-Za-z_]\w*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_]\w*)/g, (all, _n, op?: string, word?: string) =>
    all === '$$' ? '$' : op && op.endsWith('-') ? (word ?? '') : '',
  );
}

function environment(service: Obj): Map<string, string> {
  const env = service.environment;
  const out = new Map<string, string>();
  if (Array.isArray(env)) {
    for (const item of env) {
      const [key = '', ...rest] = str(item).split('=');
      out.set(key, interpolate(rest.join('=')));
    }
  } else {
    for (const [key, value] of Object.entries(asObj(env))) out.set(key, interpolate(str(value)));
  }
  return out;
}

function commandText(service: Obj): string {
  const part = (v: unknown) => (Array.isArray(v) ? v.map(str).join(' ') : str(v));
  return `${part(service.entrypoint)} ${part(service.command)}`.trim();
}

interface PortMapping {
  readonly host?: string;
  readonly container: string;
  readonly protocol: string;
}

function ports(service: Obj): PortMapping[] {
  const list = Array.isArray(service.ports) ? service.ports : [];
  return list.map((p): PortMapping => {
    if (isObj(p)) {
      const host = p.published === undefined ? undefined : str(p.published);
      return { ...(host ? { host } : {}), container: str(p.target), protocol: str(p.protocol) || 'tcp' };
    }
    const [spec = '', protocol = 'tcp'] = interpolate(str(p)).split('/');
    const parts = spec.split(':');
    const container = parts.at(-1) ?? '';
    const host = parts.length >= 2 ? parts.at(-2) : undefined;
    return { ...(host ? { host } : {}), container, protocol };
  });
}

interface Mount {
  readonly kind: 'volume' | 'bind';
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

function mounts(service: Obj): Mount[] {
  const list = Array.isArray(service.volumes) ? service.volumes : [];
  return list.map((v): Mount => {
    if (isObj(v)) {
      const source = str(v.source);
      return { kind: v.type === 'bind' ? 'bind' : 'volume', source, target: str(v.target), readOnly: v.read_only === true };
    }
    const [source = '', target = '', mode = ''] = interpolate(str(v)).split(':');
    const kind = /^[./~]/.test(source) ? 'bind' : 'volume';
    return target ? { kind, source, target, readOnly: mode.split(',').includes('ro') } : { kind: 'volume', source: '', target: source, readOnly: false };
  });
}

function dependsOn(service: Obj): Map<string, string> {
  const deps = service.depends_on;
  if (Array.isArray(deps)) return new Map(deps.map((d) => [str(d), 'service_started']));
  return new Map(Object.entries(asObj(deps)).map(([name, spec]) => [name, str(asObj(spec).condition) || 'service_started']));
}

/** `secrets:` / `configs:` entries of a service: the top-level name and where it is mounted. */
function fileRefs(service: Obj, key: 'secrets' | 'configs'): { source: string; target: string }[] {
  const list = Array.isArray(service[key]) ? (service[key] as unknown[]) : [];
  return list.map((s) => {
    const source = isObj(s) ? str(s.source) : str(s);
    const target = isObj(s) && s.target ? str(s.target) : source;
    return { source, target: key === 'secrets' && !target.startsWith('/') ? `/run/secrets/${target}` : target };
  });
}

const hasHealthcheck = (service: Obj): boolean => {
  const h = asObj(service.healthcheck);
  const test = Array.isArray(h.test) ? h.test.map(str) : [str(h.test)];
  return h.disable !== true && test.join('') !== '' && test[0] !== 'NONE';
};

const imageRef = (image: string) => {
  const [name = '', digest] = image.split('@');
  const slash = name.lastIndexOf('/');
  const colon = name.lastIndexOf(':');
  return { repository: colon > slash ? name.slice(0, colon) : name, tag: colon > slash ? name.slice(colon + 1) : '', digest };
};

const isTemporalServer = (s: Obj) => /^(docker\.io\/)?temporalio\/(server|auto-setup)(:|@|$)/.test(str(s.image));
const isTemporalUi = (s: Obj) => /^(docker\.io\/)?temporalio\/ui(:|@|$)/.test(str(s.image));
const runs = (s: Obj, entry: string) => commandText(s).includes(entry);

/** Problems in a compose file, each naming the service and the field; empty when it is sound. */
export function checkCompose(text: string, repo: Repo): string[] {
  const problems: string[] = [];
  const doc = parseDocument(text, { merge: true });
  if (doc.errors.length > 0) return doc.errors.map((e) => `docker-compose.yml: ${e.message.split('\n')[0]}`);
  let compose: Obj;
  try {
    compose = asObj(doc.toJS());
  } catch (err) {
    return [`docker-compose.yml: ${errorMessage(err)}`];
  }
  const services = asObj(compose.services);
  const names = Object.keys(services);
  if (names.length === 0) return ['docker-compose.yml: no services'];
  const svc = (name: string) => asObj(services[name]);
  const declared = (key: string) => new Set(Object.keys(asObj(compose[key])));

  // Images and builds. App services are the ones built from this repository.
  const appServices: string[] = [];
  for (const name of names) {
    const s = svc(name);
    if (!s.image && !s.build) problems.push(`${name}: has neither image nor build`);
    if (s.build) {
      const build = typeof s.build === 'string' ? { context: s.build } : asObj(s.build);
      const context = path.resolve(repo.root, interpolate(str(build.context) || '.'));
      if (!existsSync(context) || !statSync(context).isDirectory()) {
        problems.push(`${name}: build.context '${str(build.context)}' does not exist`);
      } else {
        const dockerfile = interpolate(str(build.dockerfile) || 'Dockerfile');
        if (!existsSync(path.resolve(context, dockerfile))) problems.push(`${name}: build.dockerfile '${dockerfile}' does not exist`);
        if (context === path.resolve(repo.root)) appServices.push(name);
      }
    } else if (s.image) {
      const { tag, digest } = imageRef(interpolate(str(s.image)));
      if (!digest && (tag === '' || tag === 'latest')) problems.push(`${name}: image '${str(s.image)}' is not pinned to a version tag`);
    }
  }

  // depends_on: names, conditions, what the condition needs from the other side, cycles.
  for (const name of names) {
    for (const [dep, condition] of dependsOn(svc(name))) {
      if (!(dep in services)) {
        problems.push(`${name}: depends_on names '${dep}', which is not a service`);
        continue;
      }
      if (!CONDITIONS.includes(condition)) {
        problems.push(`${name}: depends_on.${dep}.condition '${condition}' is not one of ${CONDITIONS.join(', ')}`);
      }
      if (condition === 'service_healthy' && !hasHealthcheck(svc(dep))) {
        problems.push(`${name}: depends_on.${dep} waits for service_healthy but ${dep} has no healthcheck`);
      }
      const restart = str(svc(dep).restart);
      if (condition === 'service_completed_successfully' && (restart === 'always' || restart === 'unless-stopped')) {
        problems.push(`${name}: depends_on.${dep} waits for service_completed_successfully but ${dep} has restart: ${restart}`);
      }
    }
  }
  const visiting: string[] = [];
  const done = new Set<string>();
  const visit = (name: string): void => {
    if (done.has(name) || !(name in services)) return;
    if (visiting.includes(name)) {
      problems.push(`depends_on: cycle ${[...visiting.slice(visiting.indexOf(name)), name].join(' -> ')}`);
      return;
    }
    visiting.push(name);
    for (const dep of dependsOn(svc(name)).keys()) visit(dep);
    visiting.pop();
    done.add(name);
  };
  names.forEach(visit);

  // Compose substitutes $NAME in the file from the host's environment: a shell variable in a
  // command must be written $$NAME.
  for (const name of names) {
    const s = svc(name);
    const fields = { command: s.command, entrypoint: s.entrypoint, 'healthcheck.test': asObj(s.healthcheck).test };
    for (const [field, value] of Object.entries(fields)) {
      const text = Array.isArray(value) ? value.map(str).join(' ') : str(value);
      const m = text.replace(/\$\$/g, '').match(/\$(\{?[A-Za-z_]\w*|\()/);
      if (m) problems.push(`${name}: ${field} has '${m[0]}', which compose replaces from the host environment (write $${m[0]})`);
    }
  }

  // Every TEMPORAL_ADDRESS is <a Temporal server service>:<its frontend port>.
  for (const name of names) {
    const address = environment(svc(name)).get('TEMPORAL_ADDRESS');
    if (address === undefined) continue;
    const m = /^([^:]+):(\d+)$/.exec(address);
    if (!m) {
      problems.push(`${name}: environment.TEMPORAL_ADDRESS '${address}' is not <service>:<port>`);
      continue;
    }
    const [, host = '', port] = m;
    if (!(host in services)) {
      problems.push(`${name}: environment.TEMPORAL_ADDRESS names '${host}', which is not a service`);
    } else if (!isTemporalServer(svc(host))) {
      problems.push(`${name}: environment.TEMPORAL_ADDRESS names '${host}', which is not a Temporal server (image '${str(svc(host).image)}')`);
    } else {
      const frontend = environment(svc(host)).get('FRONTEND_GRPC_PORT') || TEMPORAL_FRONTEND_PORT;
      if (port !== frontend) problems.push(`${name}: environment.TEMPORAL_ADDRESS port ${port}, but ${host}'s frontend listens on ${frontend}`);
    }
  }

  // Published ports: no two services on one host port; a replicated service publishes none.
  const hostPorts = new Map<string, string>();
  for (const name of names) {
    const s = svc(name);
    const replicas = Number(asObj(s.deploy).replicas ?? 1);
    for (const p of ports(s)) {
      if (!p.host) continue;
      const key = `${p.host}/${p.protocol}`;
      const other = hostPorts.get(key);
      if (other) problems.push(`ports: host port ${p.host} is published by both ${other} and ${name}`);
      else hostPorts.set(key, name);
      if (replicas > 1) problems.push(`${name}: ports publishes host port ${p.host} but deploy.replicas is ${replicas} (the replicas would collide)`);
    }
  }

  // The Temporal UI: its container port published; the app's links point at its host port.
  const uiHostPorts: string[] = [];
  for (const name of names.filter((n) => isTemporalUi(svc(n)))) {
    const s = svc(name);
    const port = environment(s).get('TEMPORAL_UI_PORT') || UI_PORT;
    if (port !== UI_PORT) problems.push(`${name}: environment.TEMPORAL_UI_PORT is ${port}, expected ${UI_PORT}`);
    const published = ports(s).filter((p) => p.container === port && p.host);
    if (published.length === 0) problems.push(`${name}: ports do not publish the UI's container port ${port}`);
    uiHostPorts.push(...published.map((p) => p.host ?? ''));
  }

  // Source under tsx (worker/main.ts) or compiled (dist/worker/main.js).
  const workers = appServices.filter((n) => runs(svc(n), 'worker/main.'));
  const apis = appServices.filter((n) => runs(svc(n), 'api/main.'));
  for (const name of apis) {
    for (const flag of API_NODE_FLAGS) if (!runs(svc(name), flag)) problems.push(`${name}: command lacks ${flag} (API_NODE_FLAGS, api/config.ts)`);
  }
  for (const name of ['worker', 'trainer', 'api']) {
    if (!(name in services)) problems.push(`services: no '${name}' service`);
    else if (!appServices.includes(name)) problems.push(`${name}: is not built from this repository (build.context .)`);
  }

  // App services: variables the code reads, an address for Temporal, links to the UI.
  for (const name of appServices) {
    const env = environment(svc(name));
    for (const key of env.keys()) {
      if (!repo.knownEnv.has(key)) problems.push(`${name}: environment.${key} is not read by the code (a typo?)`);
    }
    if ((workers.includes(name) || apis.includes(name)) && !env.has('TEMPORAL_ADDRESS')) {
      problems.push(`${name}: environment.TEMPORAL_ADDRESS is not set (the code's default, 127.0.0.1:7233, is the container itself)`);
    }
    const uiUrl = env.get('TEMPORAL_UI_URL');
    if (uiUrl !== undefined && uiHostPorts.length > 0) {
      const url = new URL(uiUrl);
      const port = url.port || (url.protocol === 'https:' ? '443' : '80');
      if (!uiHostPorts.includes(port)) {
        problems.push(`${name}: environment.TEMPORAL_UI_URL port ${port} is not a host port the Temporal UI publishes (${uiHostPorts.join(', ')})`);
      }
    }
  }

  // Each app service's settings, read by the same functions its process reads them with at start-up.
  for (const name of appServices) {
    const env = Object.fromEntries(environment(svc(name)));
    const readers: (() => unknown)[] = [() => logLevelSetting(env), () => temporalSettings(env), () => hostPortSetting(env, 'MLOPS_WORKER_METRICS')];
    if (apis.includes(name)) readers.push(() => apiConfigFromEnv({ ...env, MLOPS_AUTH: 'off' })); // the tokens file is a secret, checked above
    for (const read of readers) {
      try {
        read();
      } catch (err) {
        problems.push(`${name}: environment: ${errorMessage(err)}`);
      }
    }
  }

  // The API: reachable from outside its container, on the port it publishes, health-checked.
  for (const name of apis) {
    const s = svc(name);
    const env = environment(s);
    const port = env.get('PORT') || '3000';
    const published = ports(s).map((p) => p.container);
    if (!published.includes(port)) {
      problems.push(`${name}: environment.PORT is ${port} but ports publish container port(s) ${published.join(', ') || 'none'}`);
    }
    const host = env.get('HOST') ?? '127.0.0.1';
    if (host !== '0.0.0.0' && host !== '::') {
      problems.push(`${name}: environment.HOST is '${host}': the API would listen inside its container only (use 0.0.0.0)`);
    }
    if (!hasHealthcheck(s) || !JSON.stringify(asObj(s.healthcheck).test).includes('/healthz')) {
      problems.push(`${name}: healthcheck does not call /healthz`);
    }
  }

  // Worker roles and task queues: every process agrees on the queue names, and some worker
  // polls each queue.
  const polled = new Set<string>();
  for (const name of workers) {
    const role = environment(svc(name)).get('MLOPS_WORKER_QUEUES') ?? 'all';
    if (!WORKER_QUEUE_ROLES.includes(role)) {
      problems.push(`${name}: environment.MLOPS_WORKER_QUEUES '${role}' is not one of ${WORKER_QUEUE_ROLES.join(', ')}`);
    }
    if (role === 'all' || role === 'main') polled.add('main');
    if (role === 'all' || role === 'training') polled.add('training');
  }
  for (const [name, role] of Object.entries(EXPECTED_ROLES)) {
    const actual = name in services ? environment(svc(name)).get('MLOPS_WORKER_QUEUES') : undefined;
    if (name in services && actual !== role) problems.push(`${name}: environment.MLOPS_WORKER_QUEUES is '${actual ?? '(unset: all)'}', expected ${role}`);
  }
  for (const queue of ['main', 'training']) {
    if (workers.length > 0 && !polled.has(queue)) problems.push(`services: no worker polls the ${queue} queue (MLOPS_WORKER_QUEUES)`);
  }
  const queueUsers = [...workers, ...apis];
  const [first] = queueUsers;
  // One main queue for all: workflows started by the API land where the workers poll, and
  // every worker derives the same training queue from it.
  for (const name of queueUsers) {
    if (!first || name === first) continue;
    const [mine, theirs] = [taskQueue(environment(svc(name))), taskQueue(environment(svc(first)))];
    if (mine !== theirs) problems.push(`${name}: environment.MLOPS_TASK_QUEUE is '${mine}' but ${first}'s is '${theirs}' (training: ${trainingTaskQueue(mine)} against ${trainingTaskQueue(theirs)})`);
  }

  // Worker metrics: bound to every interface and exposed to the network.
  for (const name of appServices) {
    const s = svc(name);
    const metrics = environment(s).get('MLOPS_WORKER_METRICS');
    if (!metrics) continue;
    const m = /^(.*):(\d+)$/.exec(metrics);
    if (!m) {
      problems.push(`${name}: environment.MLOPS_WORKER_METRICS '${metrics}' is not host:port`);
      continue;
    }
    const [, host, port = ''] = m;
    if (host !== '0.0.0.0' && host !== '[::]' && host !== '::') {
      problems.push(`${name}: environment.MLOPS_WORKER_METRICS binds ${host}: unreachable from other containers (use 0.0.0.0)`);
    }
    const exposed = [...(Array.isArray(s.expose) ? s.expose.map(str) : []), ...ports(s).map((p) => p.container)];
    if (!exposed.includes(port)) problems.push(`${name}: environment.MLOPS_WORKER_METRICS port ${port} is not in expose or ports`);
  }

  // Volumes: declared; the lake and registry live on one volume that every app process mounts
  // at its MLOPS_STATE_DIR.
  const volumes = declared('volumes');
  for (const name of names) {
    for (const m of mounts(svc(name))) {
      if (m.kind === 'volume' && m.source && !volumes.has(m.source)) {
        problems.push(`${name}: volumes uses '${m.source}', which is not declared under top-level volumes`);
      }
    }
  }
  // Product state is in the object store, the same for every app process; a container's
  // MLOPS_STATE_DIR is its own cache, never a volume another app process mounts (a volume lives
  // on one host), and the store's endpoint is a service of this file or a URL outside it.
  let firstStore: { service: string; url: string } | undefined;
  const stateMounts = new Map<string, string>();
  for (const name of appServices) {
    const env = environment(svc(name));
    const url = env.get('MLOPS_STORE');
    let location = null;
    try {
      location = storeLocation(url);
    } catch (err) {
      problems.push(`${name}: environment: ${errorMessage(err)}`);
      continue;
    }
    if (!location) {
      problems.push(`${name}: environment.MLOPS_STORE is not set: its state would stay in its container (set s3://<bucket>/<prefix>)`);
      continue;
    }
    if (!firstStore) firstStore = { service: name, url: url! };
    else if (url !== firstStore.url) problems.push(`${name}: environment.MLOPS_STORE is ${url} but ${firstStore.service}'s is ${firstStore.url}`);
    const endpoint = env.get('AWS_ENDPOINT_URL_S3') ?? env.get('AWS_ENDPOINT_URL');
    if (endpoint) {
      let host = '';
      try {
        host = new URL(interpolate(endpoint)).hostname;
      } catch {
        problems.push(`${name}: environment.AWS_ENDPOINT_URL_S3 '${endpoint}' is not a URL`);
      }
      if (host && !host.includes('.') && host !== 'localhost' && !(host in services)) {
        problems.push(`${name}: environment.AWS_ENDPOINT_URL_S3 names '${host}', which is not a service`);
      }
    }
    const dir = env.get('MLOPS_STATE_DIR');
    const mount = mounts(svc(name)).find((m) => m.kind === 'volume' && m.source && m.target === dir);
    if (mount) {
      const other = stateMounts.get(mount.source);
      if (other) problems.push(`${name}: MLOPS_STATE_DIR ${dir} is volume '${mount.source}', which ${other} mounts too: product state belongs in the store, not on a shared volume`);
      else stateMounts.set(mount.source, name);
    }
  }

  // Secrets and configs: declared; secret files kept out of the image's build context; the API's
  // token file is a mounted secret or a read-only mount.
  for (const key of ['secrets', 'configs'] as const) {
    const top = declared(key);
    for (const name of names) {
      for (const ref of fileRefs(svc(name), key)) {
        if (!top.has(ref.source)) problems.push(`${name}: ${key} uses '${ref.source}', which is not declared under top-level ${key}`);
      }
    }
    for (const [entry, spec] of Object.entries(asObj(compose[key]))) {
      const file = str(asObj(spec).file);
      if (key === 'configs' && file && !existsSync(path.resolve(repo.root, file))) problems.push(`${key}.${entry}: file ${file} does not exist`);
      if (key === 'secrets' && file && !dockerIgnored(repo.dockerignore, path.relative(repo.root, path.resolve(repo.root, file)))) {
        problems.push(`${key}.${entry}: ${file} is in the build context and not in .dockerignore (it would be baked into the image)`);
      }
    }
  }
  for (const name of appServices) {
    const s = svc(name);
    const tokens = environment(s).get('MLOPS_API_TOKENS_FILE');
    if (tokens === undefined) continue;
    const mounted = fileRefs(s, 'secrets').some((r) => r.target === tokens) || mounts(s).some((m) => m.readOnly && m.target === tokens);
    if (!mounted) problems.push(`${name}: environment.MLOPS_API_TOKENS_FILE ${tokens} is neither a mounted secret nor a read-only mount`);
  }

  // The Temporal server image carries no dynamic config file: one must be mounted where it looks.
  for (const name of names.filter((n) => isTemporalServer(svc(n)) && /^(docker\.io\/)?temporalio\/server/.test(str(svc(n).image)))) {
    const s = svc(name);
    const file = environment(s).get('DYNAMIC_CONFIG_FILE_PATH') || '/etc/temporal/config/dynamicconfig/docker.yaml';
    const resolved = path.posix.resolve('/etc/temporal', file);
    const targets = [...fileRefs(s, 'configs').map((r) => r.target), ...mounts(s).map((m) => m.target)];
    if (!targets.some((t) => resolved === t || resolved.startsWith(`${t.replace(/\/$/, '')}/`))) {
      problems.push(`${name}: no dynamic config file mounted at ${resolved} (environment.DYNAMIC_CONFIG_FILE_PATH; the server image has none)`);
    }
  }

  // The server image is temporal-server alone (no tctl, no temporal CLI since 1.30).
  for (const name of names.filter((n) => /^(docker\.io\/)?temporalio\/server/.test(str(svc(n).image)))) {
    const test = asObj(svc(name).healthcheck).test;
    const words = (Array.isArray(test) ? test.map(str) : str(test).split(/\s+/)).filter((w) => w !== 'CMD' && w !== 'CMD-SHELL');
    const tool = words.join(' ').match(/\b(tctl|temporal)\s/);
    if (tool) problems.push(`${name}: healthcheck runs ${tool[1]}, which the temporalio/server image does not ship`);
  }

  // The namespace job registers exactly the code's search attributes, in the apps' namespace.
  const jobs = names.filter((n) => commandText(svc(n)).includes('search-attribute create'));
  if (jobs.length === 0) problems.push('services: no job runs `temporal operator search-attribute create`');
  const normalType = (t: string) => t.replace(/_/g, '').toLowerCase();
  for (const job of jobs) {
    const command = interpolate(commandText(svc(job)).replace(/\\\n/g, ' '));
    const registered = new Map<string, string>();
    for (const m of command.matchAll(/--name[=\s]+['"]?([\w-]+)['"]?\s+--type[=\s]+['"]?(\w+)/g)) registered.set(m[1]!, m[2]!);
    for (const sa of repo.searchAttributes) {
      const type = registered.get(sa.name);
      if (type === undefined) problems.push(`${job}: command does not register search attribute ${sa.name} (${sa.type})`);
      else if (normalType(type) !== normalType(sa.type)) problems.push(`${job}: command registers ${sa.name} as ${type} but core/types.ts defines ${sa.type}`);
    }
    for (const name of registered.keys()) {
      if (!repo.searchAttributes.some((sa) => sa.name === name)) problems.push(`${job}: command registers ${name}, which core/types.ts does not define`);
    }
    const namespaces = new Set([...command.matchAll(/search-attribute create[^\n]*?(?:-n|--namespace)[=\s]+['"]?([\w.-]+)/g)].map((m) => m[1]!));
    for (const name of appServices) {
      const ns = environment(svc(name)).get('TEMPORAL_NAMESPACE') || 'default';
      if (namespaces.size > 0 && !namespaces.has(ns)) {
        problems.push(`${name}: environment.TEMPORAL_NAMESPACE '${ns}' is not the namespace ${job} sets up (${[...namespaces].join(', ')})`);
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------
// Dockerfile

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): { op: string; args: string }[] {
  const out: { op: string; args: string }[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    if (m) out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
  }
  return out;
}

/** Source text without comments, so prose that mentions "import" is not read as code. */
function stripComments(source: string): string {
  return source
    .replace(/^\s*\/\*[\s\S]*?\*\//gm, '')
    .split('\n')
    .map((l) => (/^\s*\/\//.test(l) ? '' : l.replace(/\s\/\/(?!\/).*$/, '')))
    .join('\n');
}

/** Runtime imports of a module: static ones that are not `import type`, dynamic ones, new URL(). */
function runtimeImports(source: string): string[] {
  const code = stripComments(source);
  const specs: string[] = [];
  for (const m of code.matchAll(/^\s*(?:import|export)\s+(type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]/gm)) {
    if (!m[1]) specs.push(m[2]!);
  }
  for (const m of code.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specs.push(m[1]!);
  for (const m of code.matchAll(/new URL\(\s*['"]([^'"]+)['"]\s*,\s*import\.meta\.url/g)) specs.push(m[1]!);
  return specs;
}

const packageName = (spec: string) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtinModules.includes(packageName(spec));

/** Problems in the Dockerfile and in what the image would hold; empty when it is sound. */
export function checkDockerfile(text: string, repo: Repo): string[] {
  const problems: string[] = [];
  const args = new Map<string, string>();
  const stages = new Set<string>();
  const copied = new Set<string>();
  let stageEnv = '';
  let user = '';
  let froms = 0;
  const expand = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (all, name: string) => args.get(name) ?? all);

  for (const { op, args: rest } of instructions(text)) {
    if (op === 'ARG' && froms === 0) {
      const [name = '', value = ''] = rest.split('=');
      args.set(name.trim(), value.trim());
    } else if (op === 'FROM') {
      froms += 1;
      stageEnv = '';
      user = '';
      const [image = '', , alias] = rest.replace(/--platform=\S+\s+/, '').split(/\s+/);
      if (alias) stages.add(alias);
      const resolved = expand(image);
      if (stages.has(resolved)) continue;
      const { repository, tag, digest } = imageRef(resolved);
      if (/alpine/i.test(resolved)) problems.push(`Dockerfile: FROM ${resolved} is Alpine (musl): the Temporal native bridge ships glibc builds only`);
      else if (repository.endsWith('node') && !/(bookworm|bullseye|trixie)/.test(tag)) {
        problems.push(`Dockerfile: FROM ${resolved} does not name a Debian release (e.g. node:20-bookworm-slim)`);
      }
      if (!digest && (tag === '' || tag === 'latest')) problems.push(`Dockerfile: FROM ${resolved} is not pinned to a version tag`);
    } else if (op === 'ENV') {
      stageEnv += ` ${rest}`;
    } else if (op === 'USER') {
      user = rest.trim();
    } else if (op === 'COPY' || op === 'ADD') {
      if (/--from=/.test(rest)) continue;
      const words = rest.trim().startsWith('[')
        ? (JSON.parse(rest) as string[])
        : rest.split(/\s+/).filter((w) => !w.startsWith('--'));
      for (const source of words.slice(0, -1)) {
        const rel = path.posix.normalize(source.replace(/^\.\//, ''));
        if (!existsSync(path.join(repo.root, rel))) problems.push(`Dockerfile: COPY ${source}: not found in the repository`);
        else if (dockerIgnored(repo.dockerignore, rel)) problems.push(`Dockerfile: COPY ${source}: excluded by .dockerignore`);
        copied.add(rel.split('/')[0]!);
      }
    } else if (op === 'RUN' && /\bnpm\s+(ci|install|i)\b/.test(rest)) {
      const switches = `${stageEnv} ${rest}`;
      if (repo.packageJson.allowScripts?.['onnxruntime-node'] === false && !/(ONNXRUNTIME_NODE_INSTALL|npm_config_onnxruntime_node_install)=skip/.test(switches)) {
        problems.push(`Dockerfile: '${rest.trim().slice(0, 40)}...' runs onnxruntime-node's install script (npm 10 ignores allowScripts): set ONNXRUNTIME_NODE_INSTALL=skip`);
      }
    }
  }
  if (froms === 0) problems.push('Dockerfile: no FROM');
  if (!user || user === 'root' || user.startsWith('0')) problems.push('Dockerfile: the final stage runs as root (no USER)');

  // What the processes run must be in the image: relative imports stay inside copied folders,
  // package imports are production dependencies (npm ci --omit=dev installs nothing else).
  const dependencies = new Set(Object.keys(repo.packageJson.dependencies ?? {}));
  for (const top of copied) {
    for (const file of walk(path.join(repo.root, top))) {
      const rel = path.relative(repo.root, file);
      for (const spec of runtimeImports(readFileSync(file, 'utf8'))) {
        if (spec.startsWith('.')) {
          const target = path.relative(repo.root, path.resolve(path.dirname(file), spec)).split(path.sep)[0]!;
          if (!copied.has(target)) problems.push(`Dockerfile: ${rel} imports ${spec}, but ${target} is not copied into the image`);
        } else if (!isBuiltin(spec) && !dependencies.has(packageName(spec))) {
          problems.push(`Dockerfile: ${rel} imports '${spec}', which is not in package.json dependencies (npm ci --omit=dev leaves it out)`);
        }
      }
    }
  }
  return problems;
}

// ---------------------------------------------------------------------------------------

const COMPOSE = readFileSync(path.join(PROJECT_ROOT, 'docker-compose.yml'), 'utf8');
const DOCKERFILE = readFileSync(path.join(PROJECT_ROOT, 'Dockerfile'), 'utf8');

describe('docker-compose.yml and Dockerfile', () => {
  it('pass every rule', () => {
    const repo = realRepo();
    expect({ compose: checkCompose(COMPOSE, repo), dockerfile: checkDockerfile(DOCKERFILE, repo) }).toEqual({ compose: [], dockerfile: [] });
  });
});

type Loose = { [key: string]: any };

/** The real compose file, changed through its parsed form (anchors already merged). */
const composeWith = (change: (compose: Loose) => void) => (): string => {
  const compose = parse(COMPOSE, { merge: true }) as Loose;
  change(compose);
  return stringify(compose);
};

/** A real file with one piece of text replaced; fails loudly when the text is gone. */
const replaced = (file: string, from: string | RegExp, to: string) => (): string => {
  if (!(typeof from === 'string' ? file.includes(from) : from.test(file))) throw new Error(`the file no longer contains ${String(from)}: update this case`);
  return file.replace(from, to);
};

describe('each rule catches a broken variant', () => {
  const repo = realRepo();
  const composeCases: [string, () => string, RegExp][] = [
    ['a merge of no anchor', replaced(COMPOSE, '<<: *app-env', '<<: *app-envv'), /^docker-compose\.yml: Merge sources must be maps/],
    ['an alias of no anchor', replaced(COMPOSE, 'healthcheck: *worker-health', 'healthcheck: *worker-healthh'), /^docker-compose\.yml: Unresolved alias/],
    ['a duplicate key', replaced(COMPOSE, '    MLOPS_STATE_DIR: /state\n', '    MLOPS_STATE_DIR: /state\n    MLOPS_STATE_DIR: /data\n'), /unique/],
    ['no image, no build', composeWith((c) => delete c.services['temporal-ui'].image), /^temporal-ui: has neither image nor build/],
    ['a missing build context', composeWith((c) => (c.services.worker.build = { context: './nope' })), /^worker: build\.context '\.\/nope'/],
    ['a missing Dockerfile', composeWith((c) => (c.services.api.build = { context: '.', dockerfile: 'Dockerfile.nope' })), /^api: build\.dockerfile 'Dockerfile\.nope'/],
    ['an unpinned image', composeWith((c) => (c.services['temporal-ui'].image = 'temporalio/ui:latest')), /^temporal-ui: image .* not pinned/],
    ['depends_on an unknown service', composeWith((c) => (c.services.worker.depends_on.temporl = { condition: 'service_started' })), /^worker: depends_on names 'temporl'/],
    ['an invalid condition', composeWith((c) => (c.services.api.depends_on['lake-bootstrap'].condition = 'service_done')), /^api: depends_on\.lake-bootstrap\.condition/],
    ['service_healthy on no healthcheck', composeWith((c) => delete c.services.temporal.healthcheck), /^temporal-ui: depends_on\.temporal waits for service_healthy/],
    ['service_completed_successfully on a restarting service', composeWith((c) => (c.services['lake-bootstrap'].restart = 'unless-stopped')), /^worker: depends_on\.lake-bootstrap .* restart: unless-stopped/],
    ['a dependency cycle', composeWith((c) => (c.services.postgresql.depends_on = { api: { condition: 'service_started' } })), /^depends_on: cycle/],
    ['an unescaped shell variable', replaced(COMPOSE, '"$$tries" -lt 60', '"$tries" -lt 60'), /^temporal-create-namespace: command has '\$tries'/],
    ['TEMPORAL_ADDRESS on the wrong port', composeWith((c) => (c.services.trainer.environment.TEMPORAL_ADDRESS = 'temporal:7234')), /^trainer: environment\.TEMPORAL_ADDRESS port 7234, but temporal's frontend listens on 7233/],
    ['TEMPORAL_ADDRESS to no service', composeWith((c) => (c.services['temporal-ui'].environment.TEMPORAL_ADDRESS = 'temporal-server:7233')), /^temporal-ui: environment\.TEMPORAL_ADDRESS names 'temporal-server'/],
    ['TEMPORAL_ADDRESS to another server', composeWith((c) => (c.services.api.environment.TEMPORAL_ADDRESS = 'postgresql:7233')), /^api: environment\.TEMPORAL_ADDRESS .* not a Temporal server/],
    ['an app without TEMPORAL_ADDRESS', composeWith((c) => delete c.services.worker.environment.TEMPORAL_ADDRESS), /^worker: environment\.TEMPORAL_ADDRESS is not set/],
    ['two services on one host port', composeWith((c) => (c.services.api.ports = ['8080:3000'])), /^ports: host port 8080 is published by both temporal-ui and api/],
    ['the API on another port than it publishes', composeWith((c) => (c.services.api.environment.PORT = '3001')), /^api: environment\.PORT is 3001/],
    ['an API setting its process refuses', composeWith((c) => (c.services.api.environment.MLOPS_PREDICT_MAX_BATCH = '0')), /^api: environment: MLOPS_PREDICT_MAX_BATCH="0": must be a whole number from 1/],
    ['a log level no process knows', composeWith((c) => (c.services.trainer.environment.LOG_LEVEL = 'verbose')), /^trainer: environment: LOG_LEVEL="verbose"/],
    ['the API on the loopback', composeWith((c) => (c.services.api.environment.HOST = '127.0.0.1')), /^api: environment\.HOST/],
    ['the API without its healthcheck', composeWith((c) => delete c.services.api.healthcheck), /^api: healthcheck/],
    ['the API without its Node flags', composeWith((c) => (c.services.api.command = ['node', 'dist/api/main.js'])), /^api: command lacks --max-semi-space-size=4/],
    ['replicas on a published port', composeWith((c) => (c.services.api.deploy.replicas = 2)), /^api: ports publishes host port 3000 but deploy\.replicas is 2/],
    ['the UI port not published', composeWith((c) => (c.services['temporal-ui'].ports = ['127.0.0.1:8080:8081'])), /^temporal-ui: ports do not publish the UI's container port 8080/],
    ['UI links to the wrong port', composeWith((c) => (c.services.worker.environment.TEMPORAL_UI_URL = 'http://localhost:8088')), /^worker: environment\.TEMPORAL_UI_URL port 8088/],
    ['an undeclared volume', composeWith((c) => delete c.volumes['minio-data']), /^minio: volumes uses 'minio-data'/],
    ['an app without the store', composeWith((c) => delete c.services.trainer.environment.MLOPS_STORE), /^trainer: environment\.MLOPS_STORE is not set/],
    ['a store URL the code refuses', composeWith((c) => (c.services.api.environment.MLOPS_STORE = 'minio://mlops')), /^api: environment: MLOPS_STORE="minio:\/\/mlops"/],
    ['two stores', composeWith((c) => (c.services.api.environment.MLOPS_STORE = 's3://other/state')), /^api: environment\.MLOPS_STORE is s3:\/\/other\/state but/],
    ['a store endpoint to no service', composeWith((c) => (c.services.worker.environment.AWS_ENDPOINT_URL_S3 = 'http://minoi:9000')), /^worker: environment\.AWS_ENDPOINT_URL_S3 names 'minoi'/],
    [
      'state on a shared volume',
      composeWith((c) => ((c.services.worker.volumes = ['shared:/state']), (c.services.trainer.volumes = ['shared:/state']), (c.volumes.shared = null))),
      /^trainer: MLOPS_STATE_DIR \/state is volume 'shared', which worker mounts too/,
    ],
    ['the worker polling every queue', composeWith((c) => (c.services.worker.environment.MLOPS_WORKER_QUEUES = 'all')), /^worker: environment\.MLOPS_WORKER_QUEUES is 'all', expected main/],
    ['an unknown worker role', composeWith((c) => (c.services.trainer.environment.MLOPS_WORKER_QUEUES = 'train')), /^trainer: environment\.MLOPS_WORKER_QUEUES 'train' is not one of/],
    ['nobody polling training', composeWith((c) => (c.services.trainer.environment.MLOPS_WORKER_QUEUES = 'main')), /^services: no worker polls the training queue/],
    ['a default against a set name', composeWith((c) => ((c.services.worker.environment.MLOPS_TASK_QUEUE = 'jobs'), delete c.services.api.environment.MLOPS_TASK_QUEUE)), /^api: environment\.MLOPS_TASK_QUEUE is 'mlops' but worker's is 'jobs'/],
    ['a trainer on another queue', composeWith((c) => (c.services.trainer.environment.MLOPS_TASK_QUEUE = 'jobs')), /^trainer: environment\.MLOPS_TASK_QUEUE is 'jobs' but worker's is 'mlops' \(training: jobs-training against mlops-training\)/],
    ['a search attribute missing', replaced(COMPOSE, /\s*--name MonitorVerdict --type Keyword/, ''), /^temporal-create-namespace: command does not register search attribute MonitorVerdict \(KEYWORD\)/],
    ['a search attribute of the wrong type', replaced(COMPOSE, '--name ModelVersion --type Int', '--name ModelVersion --type Keyword'), /^temporal-create-namespace: command registers ModelVersion as Keyword but core\/types\.ts defines INT/],
    ['a search attribute the code does not define', replaced(COMPOSE, '--name TrainReason --type Keyword', '--name TrainReason --type Keyword --name Owner --type Text'), /^temporal-create-namespace: command registers Owner/],
    ['an app in another namespace', composeWith((c) => (c.services.api.environment.TEMPORAL_NAMESPACE = 'mlops')), /^api: environment\.TEMPORAL_NAMESPACE 'mlops' is not the namespace/],
    ['a misspelt variable', composeWith((c) => (c.services.worker.environment.MLOPS_STATE_DIRR = '/state')), /^worker: environment\.MLOPS_STATE_DIRR is not read by the code/],
    ['metrics not exposed', composeWith((c) => delete c.services.worker.expose), /^worker: environment\.MLOPS_WORKER_METRICS port 9464 is not in expose/],
    ['metrics on the loopback', composeWith((c) => (c.services.trainer.environment.MLOPS_WORKER_METRICS = '127.0.0.1:9464')), /^trainer: environment\.MLOPS_WORKER_METRICS binds 127\.0\.0\.1/],
    ['an undeclared secret', composeWith((c) => delete c.secrets), /^api: secrets uses 'api-tokens'/],
    ['a token file that is not mounted', composeWith((c) => (c.services.api.environment.MLOPS_API_TOKENS_FILE = '/etc/tokens.json')), /^api: environment\.MLOPS_API_TOKENS_FILE \/etc\/tokens\.json/],
    ['an undeclared config', composeWith((c) => delete c.configs), /^temporal: configs uses 'temporal-dynamic-config'/],
    ['a healthcheck with a tool the server image lacks', composeWith((c) => (c.services.temporal.healthcheck.test = ['CMD', 'tctl', '--address', 'temporal:7233', 'cluster', 'health'])), /^temporal: healthcheck runs tctl/],
    ['no dynamic config for the server', composeWith((c) => delete c.services.temporal.configs), /^temporal: no dynamic config file mounted/],
    ['no trainer', composeWith((c) => delete c.services.trainer), /^services: no 'trainer' service/],
  ];
  it.each(composeCases)('compose: %s', (_label, broken, expected) => {
    const problems = checkCompose(broken(), repo);
    expect(problems.some((p) => expected.test(p)), problems.join('\n') || '(no problem found)').toBe(true);
  });

  it('compose: a secret file inside the build context', () => {
    const problems = checkCompose(COMPOSE, { ...repo, dockerignore: repo.dockerignore.replace(/^secrets$/m, '') });
    expect(problems).toContainEqual(expect.stringMatching(/^secrets\.api-tokens: \.\/secrets\/api-tokens\.json is in the build context/));
  });

  const base = /node:[\w.-]+bookworm-slim/;
  const withoutHono = {
    ...repo.packageJson,
    dependencies: Object.fromEntries(Object.entries(repo.packageJson.dependencies ?? {}).filter(([name]) => name !== 'hono')),
  };
  const same = () => DOCKERFILE;
  const dockerfileCases: [string, () => string, Partial<Repo>, RegExp][] = [
    ['an Alpine base', replaced(DOCKERFILE, base, 'node:20.20.2-alpine'), {}, /^Dockerfile: FROM node:20\.20\.2-alpine is Alpine/],
    ['a base that names no Debian release', replaced(DOCKERFILE, base, 'node:20.20.2-slim'), {}, /^Dockerfile: FROM node:20\.20\.2-slim does not name a Debian release/],
    ['an unpinned base', replaced(DOCKERFILE, base, 'node'), {}, /^Dockerfile: FROM node is not pinned/],
    ['a COPY of nothing', replaced(DOCKERFILE, 'COPY api ./api', 'COPY api ./api\nCOPY nope ./nope'), {}, /^Dockerfile: COPY nope: not found/],
    ['a COPY that .dockerignore drops', same, { dockerignore: `${repo.dockerignore}\nmodels\n` }, /^Dockerfile: COPY models: excluded by \.dockerignore/],
    ['onnxruntime-node allowed to download', replaced(DOCKERFILE, 'ONNXRUNTIME_NODE_INSTALL=skip ', ''), {}, /^Dockerfile: .* runs onnxruntime-node's install script/],
    ['running as root', replaced(DOCKERFILE, /^USER .*$/m, ''), {}, /^Dockerfile: the final stage runs as root/],
    ['a folder the code imports left out', replaced(DOCKERFILE, /^COPY ml \.\/ml$/m, ''), {}, /^Dockerfile: \S+ imports \.\.\/ml\/\S+, but ml is not copied/],
    ['a runtime import of a devDependency', same, { packageJson: withoutHono }, /^Dockerfile: api\/\S+ imports 'hono(\/[^']*)?', which is not in package\.json dependencies/],
  ];
  it.each(dockerfileCases)('Dockerfile: %s', (_label, broken, override, expected) => {
    const problems = checkDockerfile(broken(), { ...repo, ...override });
    expect(problems.some((p) => expected.test(p)), problems.join('\n') || '(no problem found)').toBe(true);
  });
});
