// A real OpenID Connect provider (the `oidc-provider` npm package) for Moorage's
// OIDC tests, on a loopback port. Started by tests/oidc_provider.py, never served.
//
// Environment:
//   PORT           the loopback port to listen on (the issuer is http://127.0.0.1:PORT)
//   ACCOUNTS_FILE  JSON {"<login>": {"password", "sub", "name", "email", "groups": [...]}},
//                  read again at every sign-in, so a test changes someone's groups
//                  by rewriting it
//   CLIENTS        JSON list of client metadata (client_id, client_secret,
//                  redirect_uris, post_logout_redirect_uris)
//
// The provider's own sign-in page checks the password from ACCOUNTS_FILE; consent
// is granted at once (a first-party client), as a company's provider does for its
// own apps. Prints "listening <issuer>" when ready.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;

function accounts() {
  return JSON.parse(readFileSync(process.env.ACCOUNTS_FILE, 'utf8'));
}

function bySub(sub) {
  return Object.entries(accounts()).find(([, account]) => account.sub === sub);
}

// A signing key of its own at every start (the provider's published JWKS), so an
// ID token is checked against a key Moorage fetched, never a built-in one.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: `test-${Date.now()}`, use: 'sig', alg: 'RS256' };

const configuration = {
  jwks: { keys: [signingKey] },
  clients: JSON.parse(process.env.CLIENTS),
  claims: {
    openid: ['sub'],
    profile: ['preferred_username', 'name'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  scopes: ['openid', 'profile', 'email', 'groups'],
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  cookies: { keys: ['moorage-test-provider-cookie-key'] },
  async findAccount(ctx, sub) {
    const found = bySub(sub);
    if (!found) return undefined;
    const [login, account] = found;
    return {
      accountId: sub,
      async claims() {
        return {
          sub,
          preferred_username: account.username ?? login,
          name: account.name,
          email: account.email,
          email_verified: true,
          groups: account.groups ?? [],
        };
      },
    };
  },
  async loadExistingGrant(ctx) {
    // First-party client: grant what it asks for, no consent screen.
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope([...ctx.oidc.requestParamScopes].join(' '));
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>Error</title><h1>Provider error</h1><pre>${escape(
      JSON.stringify(out),
    )}</pre>`;
  },
};

function escape(text) {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Test provider sign-in</title></head>
<body>
<h1>Test provider sign-in</h1>
${error ? `<p id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
  <label>Username <input name="login" autocomplete="username" autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password"></label>
  <button type="submit">Sign in to the provider</button>
</form>
</body></html>`;
}

async function formOf(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

const provider = new Provider(issuer, configuration);

provider.use(async (ctx, next) => {
  const match = ctx.path.match(/^\/interaction\/([^/]+)(\/login)?$/);
  if (!match) return next();
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  ctx.set('Cache-Control', 'no-store');
  if (details.prompt.name !== 'login') {
    ctx.status = 501;
    ctx.body = `prompt ${details.prompt.name} is not handled by this test provider`;
    return undefined;
  }
  if (ctx.method === 'GET' && !match[2]) {
    ctx.type = 'html';
    ctx.body = loginPage(details.uid);
    return undefined;
  }
  if (ctx.method === 'POST' && match[2]) {
    const form = await formOf(ctx.req);
    const account = accounts()[form.get('login') ?? ''];
    if (!account || account.password !== form.get('password')) {
      ctx.status = 401;
      ctx.type = 'html';
      ctx.body = loginPage(details.uid, 'Wrong username or password.');
      return undefined;
    }
    const to = await provider.interactionResult(
      ctx.req,
      ctx.res,
      { login: { accountId: account.sub } },
      { mergeWithLastSubmission: false },
    );
    ctx.status = 303;
    ctx.redirect(to);
    return undefined;
  }
  ctx.status = 405;
  return undefined;
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
