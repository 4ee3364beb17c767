'use strict';
// A small Express API for opsreview's tests: real morgan access logs (issue 3) and real
// hardened / deliberately weak HTTP security behaviour for the probes (issue 4).
//
// Configuration (environment variables):
//   PORT          port to listen on; 0 (default) picks a free one. When listening, the app prints
//                 exactly one line on stdout: {"port": 12345}
//   HOST          address to listen on (default 127.0.0.1)
//   LOG_FORMAT    morgan format: combined (default), common, dev, short, tiny, or any format string
//   LOG_FILE      file the access log is appended to (default: stdout, after the port line)
//   MODE          hardened (default) | weak
//   WEAKNESSES    only with MODE=weak: comma-separated subset of weaknesses.json (default: all)
//   JWT_SECRET    HS256 secret for the API's tokens (required)
//   CORS_ORIGIN   the one origin allowed in hardened mode (default https://app.example.test)
//   API_RATE_LIMIT     requests per minute per client on /api (default 300; hardened only)
//   SEARCH_RATE_LIMIT  requests per window on GET /api/search (default 5; hardened only)
//   SEARCH_RATE_WINDOW_MS  that window (default 10000)
//   LOGIN_RATE_LIMIT   POST /api/auth/login attempts per minute (default 10; hardened only)
//   ROUTE_LOG     file to append one JSON line per finished request to: {method, url, route,
//                 status}, `route` being the template Express matched (mount path + route path,
//                 e.g. /api/articles/:slug) or null when no route matched (the 404 handler)
//   STRIPE_WEBHOOK_SECRET  signing secret (whsec_...) of POST /api/webhooks/stripe; without it
//                 that route answers 500 (outcome error) to every delivery
//   WEBHOOK_LOG   file the webhook route appends its JSON lines to (default: stderr), one per
//                 delivery; see stripeWebhook() below for the fields
//
// The weaknesses of MODE=weak are listed, one per key, in weaknesses.json (read below); every
// place that plants one is marked `WEAK(<key>)`. Hardened mode has none of them.

const fs = require('node:fs');
const http = require('node:http');
const express = require('express');
const morgan = require('morgan');
const helmet = require('helmet');
const cors = require('cors');
const { rateLimit } = require('express-rate-limit');
const jwt = require('jsonwebtoken');
const stripe = require('stripe');

const KNOWN_WEAKNESSES = Object.keys(require('./weaknesses.json')).filter((k) => !k.startsWith('_'));

function die(message) {
  process.stderr.write(`express_app: ${message}\n`);
  process.exit(2);
}

function intEnv(env, name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) die(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return value;
}

function readConfig(env) {
  const mode = env.MODE || 'hardened';
  if (mode !== 'hardened' && mode !== 'weak') die(`MODE must be hardened or weak, got ${JSON.stringify(mode)}`);
  let weaknesses = [];
  if (mode === 'weak') {
    weaknesses = env.WEAKNESSES === undefined ? KNOWN_WEAKNESSES
      : env.WEAKNESSES.split(',').map((s) => s.trim()).filter(Boolean);
    const unknown = weaknesses.filter((w) => !KNOWN_WEAKNESSES.includes(w));
    if (unknown.length) die(`unknown WEAKNESSES ${unknown.join(',')}; known: ${KNOWN_WEAKNESSES.join(',')}`);
  } else if (env.WEAKNESSES) {
    die('WEAKNESSES is only allowed with MODE=weak');
  }
  if (!env.JWT_SECRET) die('JWT_SECRET is required');
  return {
    port: intEnv(env, 'PORT', 0),
    host: env.HOST || '127.0.0.1',
    logFormat: env.LOG_FORMAT || 'combined',
    logFile: env.LOG_FILE || '',
    mode,
    weak: new Set(weaknesses),
    jwtSecret: env.JWT_SECRET,
    corsOrigin: env.CORS_ORIGIN || 'https://app.example.test',
    apiRateLimit: intEnv(env, 'API_RATE_LIMIT', 300),
    searchRateLimit: intEnv(env, 'SEARCH_RATE_LIMIT', 5),
    searchRateWindowMs: intEnv(env, 'SEARCH_RATE_WINDOW_MS', 10000),
    loginRateLimit: intEnv(env, 'LOGIN_RATE_LIMIT', 10),
    routeLog: env.ROUTE_LOG || '',
    webhookSecret: env.STRIPE_WEBHOOK_SECRET || '',
    webhookLog: env.WEBHOOK_LOG || '',
  };
}

// --- in-memory data -------------------------------------------------------------------------

const PRODUCTS = new Map();
for (let i = 1; i <= 50; i += 1) {
  PRODUCTS.set(String(i), { id: i, name: `Product ${i}`, price: Math.round(i * 199) / 100 });
}

// The fixture (tests/fixtures/express.py) mirrors these accounts.
const USERS = {
  1: { id: '1', username: 'admin', password: 'admin-password', role: 'admin' },
  7: { id: '7', username: 'alice', password: 'alice-password', role: 'user' },
  8: { id: '8', username: 'bob', password: 'bob-password', role: 'user' },
};

// Articles are addressed by slug and carts by Mongo ObjectId: parameters that are not numbers.
const ARTICLES = new Map();
for (const a of ['quiet', 'bright', 'rapid', 'gentle', 'silver']) {
  for (const b of ['river', 'garden', 'engine', 'harbor', 'meadow', 'signal', 'canyon', 'lantern']) {
    const slug = `${a}-${b}`;
    ARTICLES.set(slug, { slug, title: `${a} ${b}`, comments: [{ by: 'alice', text: 'nice' }] });
  }
}
const CARTS = new Map();
for (let i = 1; i <= 30; i += 1) {
  const id = `65a1f00000000000000000${i.toString(16).padStart(2, '0')}`;
  CARTS.set(id, { id, items: [{ productId: i, qty: 1 }] });
}
const OBJECT_ID = /^[0-9a-f]{24}$/i;

function seedOrders() {
  return new Map([
    ['1001', { id: 1001, userId: '7', items: [{ productId: 3, qty: 1 }], total: 5.97 }],
    ['1002', { id: 1002, userId: '8', items: [{ productId: 4, qty: 2 }], total: 15.92 }],
  ]);
}

// --- the Stripe webhook -----------------------------------------------------------------------

const WEBHOOK_TOLERANCE_S = 300; // stripe-node's default, passed explicitly
// The message stripe-node (src/Webhooks.ts, getDefaultSignatureErrorMessage) gives for a correct
// signature whose `t=` is older than the tolerance: the one way to tell a stale delivery from a
// forged one. The signature is checked first, so a tampered old delivery is signature_failed.
const STALE_MESSAGE = 'Timestamp outside the tolerance zone';
// Other messages of StripeSignatureVerificationError, mapped to a fixed reason. The messages
// themselves are never logged: for a header carrying `secret=...` metadata, stripe-node's
// mismatch message states the configured secret's length and last four characters.
const SIGNATURE_REASONS = [
  ['No stripe-signature header value was provided', 'no Stripe-Signature header'],
  ['Unable to extract timestamp and signatures from header', 'malformed Stripe-Signature header'],
  ['No signatures found with expected scheme', 'no v1 signature in Stripe-Signature header'],
  ['No webhook payload was provided', 'empty body'],
];

// What an unverified body claims (event id, type, created), for the log line of a delivery that
// failed verification: kept only when of the right type and short, never trusted for anything else.
function claimedEvent(body) {
  let event = null;
  try {
    event = JSON.parse(Buffer.isBuffer(body) ? body.toString('utf8') : '');
  } catch {
    return {};
  }
  if (!event || typeof event !== 'object' || Array.isArray(event)) return {};
  const short = (v) => (typeof v === 'string' && v.length > 0 && v.length <= 255 ? v : null);
  return {
    id: short(event.id),
    type: short(event.type),
    created: Number.isInteger(event.created) && event.created > 0 ? event.created : null,
  };
}

// POST /api/webhooks/stripe: the raw body (a signature covers the bytes as sent, so no JSON
// parser may run first), verified with the official SDK's constructEvent, deduplicated on the
// event id in memory. Writes one JSON line per delivery, winston-style:
//   {"timestamp": ISO-8601 of the answer, "level": "info"|"warn", "message": "stripe webhook",
//    "event_id", "type", "outcome": "handled"|"duplicate"|"signature_failed"|"stale"|"error",
//    "http_status", "event_created": unix s, "lag_ms": answer - created, ["reason"]}
// event_id/type/event_created are null when unknown; on signature_failed and stale they are what
// the unverified body claims. `reason` (fixed wording, never the secret) is on the failures only.
// Answers: 200 handled / duplicate; 400 signature_failed / stale / a verified body that is no
// event / a body the raw parser refused (its own status: 413, 415); 500 when no secret is set.
function stripeWebhook(cfg, stream) {
  const seen = new Set();
  const rawBody = express.raw({ type: 'application/json', limit: '512kb' });

  function record(res, status, outcome, event, reason) {
    const now = Date.now();
    const created = event.created ?? null;
    const entry = {
      timestamp: new Date(now).toISOString(),
      level: outcome === 'handled' || outcome === 'duplicate' ? 'info' : 'warn',
      message: 'stripe webhook',
      event_id: event.id ?? null,
      type: event.type ?? null,
      outcome,
      http_status: status,
      event_created: created,
      lag_ms: created === null ? null : now - created * 1000,
    };
    if (reason) entry.reason = reason;
    stream.write(`${JSON.stringify(entry)}\n`);
    if (outcome === 'handled' || outcome === 'duplicate') res.status(status).json({ received: true, outcome });
    else res.status(status).json({ error: reason, outcome });
  }

  const parse = (req, res, next) => rawBody(req, res, (err) => {
    if (err) {
      const code = err.status || err.statusCode;
      const status = Number.isInteger(code) && code >= 400 && code < 500 ? code : 400;
      record(res, status, 'error', {}, `body refused (${err.type || 'unreadable'})`);
      return;
    }
    next();
  });

  const handle = (req, res) => {
    if (!cfg.webhookSecret) {
      record(res, 500, 'error', claimedEvent(req.body), 'STRIPE_WEBHOOK_SECRET is not set');
      return;
    }
    if (!Buffer.isBuffer(req.body)) {
      record(res, 400, 'error', {}, 'no application/json body');
      return;
    }
    let event;
    try {
      event = stripe.webhooks.constructEvent(req.body, req.get('stripe-signature'), cfg.webhookSecret, WEBHOOK_TOLERANCE_S);
    } catch (err) {
      if (err instanceof stripe.errors.StripeSignatureVerificationError) {
        const message = String(err.message || '');
        if (message.startsWith(STALE_MESSAGE)) {
          record(res, 400, 'stale', claimedEvent(req.body), `timestamp outside the tolerance (${WEBHOOK_TOLERANCE_S} s)`);
          return;
        }
        const known = SIGNATURE_REASONS.find(([prefix]) => message.startsWith(prefix));
        record(res, 400, 'signature_failed', claimedEvent(req.body), known ? known[1] : 'signature mismatch');
        return;
      }
      // Verified, but the body is not JSON (constructEvent parses it after the check).
      record(res, 400, 'error', {}, 'signed body is not JSON');
      return;
    }
    const fields = claimedEvent(req.body); // verified now
    if (!fields.id || !fields.type) {
      record(res, 400, 'error', fields, 'signed body is not an event (no id or type)');
      return;
    }
    if (seen.has(event.id)) {
      record(res, 200, 'duplicate', fields);
      return;
    }
    seen.add(event.id);
    record(res, 200, 'handled', fields);
  };

  return [parse, handle];
}

// --- the app ----------------------------------------------------------------------------------

function buildApp(cfg) {
  const weak = cfg.weak;
  const orders = seedOrders();
  let nextOrderId = 2001;

  const app = express();
  // Each route's first handler: note the template Express matched, for ROUTE_LOG (the mount
  // path is only known while the route runs; an error handler runs after it is restored).
  const matched = (req, res, next) => {
    req.matchedRoute = `${req.baseUrl}${req.route.path}`;
    next();
  };
  // WEAK(x_powered_by): Express sends `X-Powered-By: Express` unless disabled.
  app.set('x-powered-by', weak.has('x_powered_by'));

  // First, so that every response (429, 404, 500 included) is logged, written on response finish.
  const logStream = cfg.logFile ? fs.createWriteStream(cfg.logFile, { flags: 'a' }) : process.stdout;
  app.use(morgan(cfg.logFormat, { stream: logStream }));
  const routeStream = cfg.routeLog ? fs.createWriteStream(cfg.routeLog, { flags: 'a' }) : null;
  if (routeStream) {
    app.use((req, res, next) => {
      res.on('finish', () => {
        const entry = {
          method: req.method, url: req.originalUrl, route: req.matchedRoute || null, status: res.statusCode,
        };
        routeStream.write(`${JSON.stringify(entry)}\n`);
      });
      next();
    });
  }

  // WEAK(no_helmet). helmet itself removes X-Powered-By, so it must be told not to when only
  // x_powered_by is planted.
  if (!weak.has('no_helmet')) app.use(helmet({ xPoweredBy: !weak.has('x_powered_by') }));

  if (weak.has('cors_reflects_any_origin')) {
    // WEAK(cors_reflects_any_origin): `origin: true` echoes whatever Origin the request has.
    app.use(cors({ origin: true, credentials: true }));
  } else {
    // A function answering false makes cors add no CORS header at all for foreign origins.
    app.use(cors({ origin: (origin, cb) => cb(null, origin === cfg.corsOrigin), credentials: true }));
  }

  // Before the JSON parser: the webhook needs the body's bytes as they were signed. Outside the
  // /api router, so the API rate limit does not apply (Stripe's retries must get through).
  const webhookStream = cfg.webhookLog ? fs.createWriteStream(cfg.webhookLog, { flags: 'a' }) : process.stderr;
  app.post('/api/webhooks/stripe', matched, ...stripeWebhook(cfg, webhookStream));

  app.use(express.json({ limit: '100kb' }));

  if (weak.has('env_exposed')) {
    // WEAK(env_exposed): a static-files mistake that publishes the environment file (fake values).
    app.get('/.env', matched, (req, res) => {
      res.type('text/plain').send(
        'NODE_ENV=production\nMONGODB_URI=mongodb://shop:planted-fake-password@db.internal:27017/shop\n'
        + 'JWT_SECRET=planted-fake-jwt-secret\n',
      );
    });
  }

  const limiters = !weak.has('no_rate_limit'); // WEAK(no_rate_limit)
  const limiter = (limit, windowMs) => rateLimit({
    windowMs,
    limit,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    message: { error: 'Too Many Requests' },
  });
  const ownLimits = new Set(['/search', '/auth/login']);
  const noLimit = (req, res, next) => next();
  const apiLimiter = limiters ? limiter(cfg.apiRateLimit, 60_000) : noLimit;
  const searchLimiter = limiters ? limiter(cfg.searchRateLimit, cfg.searchRateWindowMs) : noLimit;
  const loginLimiter = limiters ? limiter(cfg.loginRateLimit, 60_000) : noLimit;

  function requireAuth(req, res, next) {
    const match = /^Bearer\s+(\S+)$/i.exec(req.get('authorization') || '');
    if (!match) {
      res.set('WWW-Authenticate', 'Bearer').status(401).json({ error: 'authentication required' });
      return;
    }
    try {
      // Pinning the algorithm rejects alg:none and algorithm-confusion tokens; exp is checked.
      req.user = jwt.verify(match[1], cfg.jwtSecret, { algorithms: ['HS256'] });
    } catch {
      res.set('WWW-Authenticate', 'Bearer error="invalid_token"').status(401).json({ error: 'invalid or expired token' });
      return;
    }
    next();
  }

  function requireAdmin(req, res, next) {
    if (req.user.role !== 'admin') {
      res.status(403).json({ error: 'forbidden' });
      return;
    }
    next();
  }

  const api = express.Router();
  api.use((req, res, next) => (ownLimits.has(req.path) ? next() : apiLimiter(req, res, next)));

  api.get('/health', matched, (req, res) => {
    res.json({ status: 'ok', uptime_s: Math.round(process.uptime() * 1000) / 1000 });
  });

  api.get('/products', matched, (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.toLowerCase() : '';
    const page = Math.max(1, Number.parseInt(req.query.page, 10) || 1);
    const limit = Math.min(50, Math.max(1, Number.parseInt(req.query.limit, 10) || 10));
    const all = [...PRODUCTS.values()].filter((p) => p.name.toLowerCase().includes(q));
    res.json({ page, limit, total: all.length, items: all.slice((page - 1) * limit, page * limit) });
  });

  api.get('/products/:id', matched, (req, res) => {
    const product = PRODUCTS.get(req.params.id);
    if (!product) {
      res.status(404).json({ error: 'product not found' });
      return;
    }
    res.json(product);
  });

  api.put('/products/:id', matched, requireAuth, requireAdmin, (req, res) => {
    const product = PRODUCTS.get(req.params.id);
    if (!product) {
      res.status(404).json({ error: 'product not found' });
      return;
    }
    const { name, price } = req.body || {};
    if ((name !== undefined && typeof name !== 'string') || (price !== undefined && !(Number(price) > 0))) {
      res.status(400).json({ error: 'name must be a string and price a positive number' });
      return;
    }
    if (name !== undefined) product.name = name;
    if (price !== undefined) product.price = Number(price);
    res.json(product);
  });

  api.post('/orders', matched, requireAuth, (req, res) => {
    const items = (req.body || {}).items;
    const valid = Array.isArray(items) && items.length > 0
      && items.every((it) => PRODUCTS.has(String(it.productId)) && Number.isInteger(it.qty) && it.qty > 0);
    if (!valid) {
      res.status(400).json({ error: 'items must be a non-empty list of {productId, qty}' });
      return;
    }
    const total = items.reduce((sum, it) => sum + PRODUCTS.get(String(it.productId)).price * it.qty, 0);
    const order = { id: nextOrderId, userId: String(req.user.sub), items, total: Math.round(total * 100) / 100 };
    nextOrderId += 1;
    orders.set(String(order.id), order);
    res.status(201).location(`/api/orders/${order.id}`).json(order);
  });

  api.delete('/orders/:id', matched, requireAuth, (req, res) => {
    const order = orders.get(req.params.id);
    // Someone else's order answers 404 as well, so order ids cannot be enumerated.
    if (!order || (order.userId !== String(req.user.sub) && req.user.role !== 'admin')) {
      res.status(404).json({ error: 'order not found' });
      return;
    }
    orders.delete(req.params.id);
    res.status(204).end();
  });

  api.get('/users/:id/orders', matched, requireAuth, (req, res) => {
    if (String(req.user.sub) !== req.params.id && req.user.role !== 'admin') {
      res.status(403).json({ error: 'forbidden' });
      return;
    }
    res.json({ items: [...orders.values()].filter((o) => o.userId === req.params.id) });
  });

  api.post('/auth/login', matched, loginLimiter, (req, res) => {
    const { username, password } = req.body || {};
    const user = Object.values(USERS).find((u) => u.username === username);
    if (!user || user.password !== password) {
      res.status(401).json({ error: 'invalid username or password' });
      return;
    }
    const token = jwt.sign({ sub: user.id, role: user.role }, cfg.jwtSecret, { algorithm: 'HS256', expiresIn: '1h' });
    res.json({ token, token_type: 'Bearer', expires_in: 3600 });
  });

  // WEAK(admin_no_role_check): the JWT is still verified, the role is not.
  const adminGuard = weak.has('admin_no_role_check') ? [requireAuth] : [requireAuth, requireAdmin];
  api.get('/admin/stats', matched, ...adminGuard, (req, res) => {
    res.json({ users: Object.keys(USERS).length, products: PRODUCTS.size, orders: orders.size });
  });

  api.get('/search', matched, searchLimiter, (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q : '';
    const items = [...PRODUCTS.values()].filter((p) => p.name.toLowerCase().includes(q.toLowerCase()));
    res.json({ q, total: items.length, items: items.slice(0, 10) });
  });

  // A slow endpoint, to spread response times: ?delay_ms=N (0..5000).
  api.get('/reports/daily', matched, (req, res) => {
    const delay = Math.min(5000, Math.max(0, Number.parseInt(req.query.delay_ms, 10) || 0));
    setTimeout(() => res.json({ day: new Date().toISOString().slice(0, 10), delay_ms: delay }), delay);
  });

  api.get('/boom', matched, () => {
    throw new Error('simulated failure in the reports service');
  });

  // Registered before /articles/:slug, which would match it too (Express tries routes in order).
  api.get('/articles/featured', matched, (req, res) => {
    res.json({ items: [...ARTICLES.values()].slice(0, 3) });
  });

  api.get('/articles/:slug', matched, (req, res) => {
    const article = ARTICLES.get(req.params.slug);
    if (!article) {
      res.status(404).json({ error: 'article not found' });
      return;
    }
    res.json(article);
  });

  api.get('/articles/:slug/comments', matched, (req, res) => {
    const article = ARTICLES.get(req.params.slug);
    if (!article) {
      res.status(404).json({ error: 'article not found' });
      return;
    }
    res.json({ items: article.comments });
  });

  // As a Mongoose app answers: an id that is no ObjectId (`undefined`, `null`) is a 400 (CastError).
  api.get('/carts/:cartId', matched, (req, res) => {
    if (!OBJECT_ID.test(req.params.cartId)) {
      res.status(400).json({ error: 'invalid cart id' });
      return;
    }
    const cart = CARTS.get(req.params.cartId.toLowerCase());
    if (!cart) {
      res.status(404).json({ error: 'cart not found' });
      return;
    }
    res.json(cart);
  });

  app.use('/api', api);

  // WEAK(default_404): without this handler Express answers with its own HTML page "Cannot GET /x".
  if (!weak.has('default_404')) {
    app.use((req, res) => {
      res.status(404).json({ error: 'Not Found' });
    });
  }

  // eslint-disable-next-line no-unused-vars
  app.use((err, req, res, next) => {
    const code = err.status || err.statusCode;
    const status = Number.isInteger(code) && code >= 400 && code < 600 ? code : 500;
    if (status >= 500) process.stderr.write(`${err.stack}\n`);
    if (weak.has('error_details')) {
      // WEAK(error_details): message, stack trace and file path go to the client.
      res.status(status).json({ error: err.message, name: err.name, stack: err.stack, file: __filename });
      return;
    }
    res.status(status).json({ error: status >= 500 ? 'Internal Server Error' : http.STATUS_CODES[status] || 'Error' });
  });

  return { app, logStream, routeStream, webhookStream };
}

function main() {
  const cfg = readConfig(process.env);
  const { app, logStream, routeStream, webhookStream } = buildApp(cfg);
  const server = http.createServer(app);
  server.on('error', (err) => die(`cannot listen on ${cfg.host}:${cfg.port}: ${err.message}`));
  server.listen(cfg.port, cfg.host, () => {
    process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
  });

  const stop = () => {
    // Finish in-flight responses (their log lines included), then flush the log file.
    server.close(() => {
      const ends = [logStream, routeStream, webhookStream].filter((s) => s && s !== process.stdout && s !== process.stderr);
      if (!ends.length) process.exit(0);
      let open = ends.length;
      ends.forEach((s) => s.end(() => {
        open -= 1;
        if (open === 0) process.exit(0);
      }));
    });
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 3000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
