// A real OpenID Connect provider for yswd's sign-in tests: panva's oidc-provider
// (OpenID Certified), on loopback, with its development login and consent screens.
//
//   node tests/oidc/provider.mjs [PORT]
//
// Settings (environment; PORT may also be the first argument):
//   OIDC_PORT                       port on 127.0.0.1 (0: any free port)
//   OIDC_CLIENT_ID, OIDC_CLIENT_SECRET
//   OIDC_REDIRECT_URIS              space- or comma-separated callback URLs
//   OIDC_POST_LOGOUT_REDIRECT_URIS  space- or comma-separated, for RP-initiated logout
//   OIDC_TOKEN_ENDPOINT_AUTH_METHOD client_secret_basic (default) or client_secret_post
//   OIDC_EXTRA_CLIENTS              JSON list of more clients, each in the same shape as
//                                   oidc-provider's client metadata (client_id, client_secret,
//                                   redirect_uris, ...)
//   OIDC_ACCOUNTS                   JSON object {account id: claims}, replaces the defaults
//   OIDC_ID_TOKEN_TTL               seconds an ID token lives (default 120)
//   OIDC_CODE_TTL                   seconds an authorization code lives (default 60)
//   OIDC_JWKS_FILE                  a JSON file {"keys": [private JWK, ...]} to sign with;
//                                   unset, a fresh RSA key is made at each start
//   OIDC_CONFORM_ID_TOKEN_CLAIMS    "true": email and name only at userinfo, not in the ID
//                                   token (oidc-provider's default; CIS2 does the same)
//   OIDC_RP_INITIATED_LOGOUT        "false": no end_session_endpoint
//
// Prints "listening on http://127.0.0.1:PORT" (the issuer) when ready; stops on SIGTERM
// or SIGINT. Development interactions: GET /interaction/UID shows a form that posts
// prompt=login, login=ACCOUNT ID, password=anything; then prompt=consent.

import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const env = process.env;

function list(value) {
  return (value || '').split(/[\s,]+/).filter(Boolean);
}

function seconds(name, fallback) {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number.parseInt(raw, 10);
  if (!Number.isInteger(value) || value < 1) {
    throw new Error(`${name} must be a positive whole number of seconds, not ${raw}`);
  }
  return value;
}

const port = Number.parseInt(process.argv[2] ?? env.OIDC_PORT ?? '0', 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  throw new Error(`bad port: ${process.argv[2] ?? env.OIDC_PORT}`);
}

// The fixed accounts. An account id is what one types into the development login form.
const DEFAULT_ACCOUNTS = {
  alice: { email: 'alice.ward@hospital.example', email_verified: true, name: 'Alice Ward' },
  unverified: {
    email: 'unverified@hospital.example', email_verified: false, name: 'Una Verified',
  },
  stranger: { email: 'stranger@elsewhere.example', email_verified: true, name: 'Sam Stranger' },
  'no-email': { name: 'Nora Nomail' },
  'no-verified-claim': { email: 'plain@hospital.example', name: 'Pat Plain' },
};
const accounts = env.OIDC_ACCOUNTS ? JSON.parse(env.OIDC_ACCOUNTS) : DEFAULT_ACCOUNTS;

const mainClient = {
  client_id: env.OIDC_CLIENT_ID || 'yswd',
  client_secret: env.OIDC_CLIENT_SECRET || 'yswd-test-secret',
  redirect_uris: list(env.OIDC_REDIRECT_URIS || 'http://127.0.0.1:8000/staff/sign-in/callback'),
  post_logout_redirect_uris: list(env.OIDC_POST_LOGOUT_REDIRECT_URIS),
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: env.OIDC_TOKEN_ENDPOINT_AUTH_METHOD || 'client_secret_basic',
};
const extraClients = env.OIDC_EXTRA_CLIENTS ? JSON.parse(env.OIDC_EXTRA_CLIENTS) : [];
const clients = [mainClient, ...extraClients].map((client) => ({
  response_types: ['code'],
  grant_types: ['authorization_code'],
  token_endpoint_auth_method: 'client_secret_basic',
  post_logout_redirect_uris: [],
  ...client,
}));

function signingKeys() {
  if (env.OIDC_JWKS_FILE) {
    return JSON.parse(readFileSync(env.OIDC_JWKS_FILE, 'utf8'));
  }
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { keys: [{ ...jwk, use: 'sig', alg: 'RS256', kid: randomBytes(8).toString('hex') }] };
}

function plainPage(title, body) {
  // No external fonts or styles (the defaults import web fonts): tests run offline.
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${title}</title></head>`
    + `<body><h1>${title}</h1>${body}</body></html>`;
}

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const configuration = {
  clients,
  jwks: signingKeys(),
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // Scopes come from these keys: openid, email, profile.
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name'],
  },
  // By default put the scope-requested claims (email, email_verified, name) in the ID token
  // too, as Entra ID and Keycloak do; oidc-provider's own default (and CIS2) keep them at
  // the userinfo endpoint only.
  conformIdTokenClaims: env.OIDC_CONFORM_ID_TOKEN_CLAIMS === 'true',
  async findAccount(ctx, id) {
    if (!Object.hasOwn(accounts, id)) return undefined;
    const claims = accounts[id];
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...claims };
      },
    };
  },
  pkce: { required: () => true },
  responseTypes: ['code'],
  ttl: {
    AccessToken: 300,
    AuthorizationCode: seconds('OIDC_CODE_TTL', 60),
    IdToken: seconds('OIDC_ID_TOKEN_TTL', 120),
    Interaction: 600,
    Session: 3600,
    Grant: 3600,
  },
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: {
      enabled: env.OIDC_RP_INITIATED_LOGOUT !== 'false',
      async logoutSource(ctx, form) {
        ctx.body = plainPage(
          'Sign out?',
          `${form}<button type="submit" form="op.logoutForm" name="logout" value="yes">`
            + 'Yes, sign me out</button>'
            + '<button type="submit" form="op.logoutForm">No, stay signed in</button>',
        );
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = plainPage('Signed out', '<p>You are signed out.</p>');
      },
    },
    introspection: { enabled: false },
    revocation: { enabled: false },
    userinfo: { enabled: true },
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = plainPage(
      'Sign-in error',
      Object.entries(out).map(([k, v]) => `<p><strong>${escapeHtml(k)}</strong>: ${escapeHtml(v)}</p>`).join(''),
    );
  },
};

// Listen first (port 0 picks a free one), then build the provider for the real issuer.
const server = createServer();
server.listen(port, '127.0.0.1', () => {
  const issuer = `http://127.0.0.1:${server.address().port}`;
  const provider = new Provider(issuer, configuration);
  for (const event of ['server_error', 'grant.error', 'authorization.error', 'end_session.error']) {
    provider.on(event, (ctx, error) => {
      process.stderr.write(`${event}: ${error?.name}: ${error?.message} ${error?.error_detail ?? ''}\n`);
    });
  }
  server.on('request', provider.callback());
  process.stdout.write(`listening on ${issuer}\n`);
});

function stop() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
