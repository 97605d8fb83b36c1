// A real OpenID Connect provider for the tests: panva's `oidc-provider` (npm, certified by the
// OpenID Foundation), fetched once into the cache by devtools/infra.py `ensure_oidc_provider`.
// Its development login form accepts any login; the claims of each login come from the JSON file
// ACCOUNTS_FILE ({"<login>": {"name": …, "role": …}}), read at every sign-in so a test can add
// people while it runs. PKCE is required of every client, so a sign-in without it fails here.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
};
const list = (name) => (process.env[name] || '').split(',').filter(Boolean);

const { default: Provider } = await import(pathToFileURL(env('OIDC_PROVIDER_MODULE')).href);

const provider = new Provider(env('ISSUER'), {
  clients: [{
    client_id: env('CLIENT_ID'),
    client_secret: env('CLIENT_SECRET'),
    redirect_uris: list('REDIRECT_URIS'),
    post_logout_redirect_uris: list('POST_LOGOUT_REDIRECT_URIS'),
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: 'client_secret_basic',
    // Back-Channel Logout 1.0: a logout here posts a Logout Token to routing; with the session
    // required, the ID token carries `sid` and the Logout Token names that session.
    ...(process.env.BACKCHANNEL_LOGOUT_URI ? {
      backchannel_logout_uri: process.env.BACKCHANNEL_LOGOUT_URI,
      backchannel_logout_session_required: true,
    } : {}),
  }],
  pkce: { required: () => true },
  // Scope-granted claims go into the ID token too (the relying party reads only the ID token).
  conformIdTokenClaims: false,
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email'],
    pengaduan: ['role', 'pemda', 'opd'],
  },
  scopes: ['openid', 'profile', 'email', 'pengaduan'],
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
  },
  cookies: { keys: ['test-only-cookie-key-of-the-oidc-provider'] },
  // The signing key comes from the test (JWKS_FILE), so it can also sign Logout Tokens by hand.
  jwks: JSON.parse(readFileSync(env('JWKS_FILE'), 'utf8')),
  // The provider refuses outgoing requests to special-use addresses (its SSRF guard, a dispatcher
  // passed in the options); routing under test listens on 127.0.0.1, so the back-channel call
  // goes out without that guard here.
  fetch: (url, { dispatcher: _guard, ...options }) => globalThis.fetch(url, options),
  findAccount: async (_ctx, id) => {
    const people = JSON.parse(readFileSync(env('ACCOUNTS_FILE'), 'utf8'));
    const claims = people[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, preferred_username: id, ...claims }) };
  },
});

// The test reads the outcome of each back-channel call from the provider's log.
provider.on('backchannel.success', (_ctx, client, accountId, sid) => {
  console.log(`backchannel.success ${client.clientId} ${accountId} ${sid}`);
});
provider.on('backchannel.error', (_ctx, err, client, accountId, sid) => {
  console.log(`backchannel.error ${client.clientId} ${accountId} ${sid} ${err.message}`);
});

const port = Number(env('PORT'));
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${env('ISSUER')}`);
});
