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
  features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
  cookies: { keys: ['test-only-cookie-key-of-the-oidc-provider'] },
  findAccount: async (_ctx, id) => {
    const people = JSON.parse(readFileSync(env('ACCOUNTS_FILE'), 'utf8'));
    const claims = people[id];
    if (!claims) return undefined;
    return { accountId: id, claims: async () => ({ sub: id, preferred_username: id, ...claims }) };
  },
});

const port = Number(env('PORT'));
provider.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${env('ISSUER')}`);
});
