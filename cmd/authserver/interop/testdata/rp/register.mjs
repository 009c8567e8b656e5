// A relying party we did not write registers itself: openid-client 6's
// dynamicClientRegistration() (RFC 7591) against the real authserver over
// https, then the code flow with each client it registered. Run by
// cmd/authserver/interop/register_test.go, which starts the server with
// --dev-tls and registration.mode open (or passes INITIAL_ACCESS_TOKEN).
// Each step prints "ok - ..."; the first failure exits non-zero. At the end
// it prints one line "result {...}" (JSON) that the Go test checks and uses
// for RFC 7592.
import * as client from 'openid-client';
import { browser, check, env, ok } from './browser.mjs';

const issuer = new URL(env('ISSUER'));
const user = { username: env('USERNAME'), password: env('PASSWORD') };
const initialAccessToken = process.env.INITIAL_ACCESS_TOKEN || undefined;

// register asks the server for a client with metadata and returns
// openid-client's Configuration for it.
async function register(metadata, auth) {
  const config = await client.dynamicClientRegistration(issuer, metadata, auth, { initialAccessToken });
  const registered = config.clientMetadata();
  check(typeof registered.client_id === 'string' && registered.client_id, 'a client_id');
  check(registered.registration_access_token, 'a registration_access_token (RFC 7592)');
  const endpoint = config.serverMetadata().registration_endpoint;
  check(endpoint === `${issuer.href.replace(/\/$/, '')}/register`, `registration_endpoint ${endpoint}`);
  check(registered.registration_client_uri === `${endpoint}/${encodeURIComponent(registered.client_id)}`,
    `registration_client_uri ${registered.registration_client_uri}`);
  for (const [k, v] of Object.entries(metadata)) {
    const got = registered[k];
    check(JSON.stringify(got) === JSON.stringify(v), `registered ${k} ${JSON.stringify(got)}, asked for ${JSON.stringify(v)}`);
  }
  return config;
}

// authorize runs one code flow with PKCE, state and nonce in a fresh
// browser: login and consent (a registered client never skips it).
async function authorize(config, redirectUri, scope) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const { redirect, shown } = await browser(issuer, user).signIn(url);
  check(shown.includes('login') && shown.includes('consent'), `pages shown ${shown}`);
  const tokens = await client.authorizationCodeGrant(config, redirect, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, claims: tokens.claims() };
}

// A confidential web application (client_secret_basic).
const webRedirect = env('REDIRECT_URI');
const web = await register(
  {
    client_name: 'openid-client, registered',
    redirect_uris: [webRedirect],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'openid profile email offline_access',
  },
  client.ClientSecretBasic(), // the secret the server issued
);
const webMeta = web.clientMetadata();
check(webMeta.client_secret && webMeta.client_secret_expires_at === 0, 'a client_secret that does not expire');
ok(`dynamic registration of a confidential client (${webMeta.client_id})`);

const first = await authorize(web, webRedirect, 'openid profile email offline_access');
check([].concat(first.claims.aud).includes(webMeta.client_id), `ID token aud ${first.claims.aud}`);
check(first.tokens.refresh_token, 'a refresh token for offline_access');
ok('code flow with PKCE with the registered client: login, consent, ID token verified by openid-client');

const info = await client.fetchUserInfo(web, first.tokens.access_token, first.claims.sub);
check(info.sub === first.claims.sub && info.email, `userinfo ${JSON.stringify(info)}`);
const refreshed = await client.refreshTokenGrant(web, first.tokens.refresh_token);
check(refreshed.access_token && refreshed.refresh_token !== first.tokens.refresh_token, 'the refresh token rotates');
ok('userinfo and refresh with the registered client');

// A public native application: no secret, PKCE, a loopback redirect URI
// (RFC 8252 §7.3).
const nativeRedirect = env('NATIVE_REDIRECT_URI');
const native = await register(
  {
    application_type: 'native',
    redirect_uris: [nativeRedirect],
    token_endpoint_auth_method: 'none',
    scope: 'openid email',
  },
  client.None(),
);
const nativeMeta = native.clientMetadata();
check(nativeMeta.client_secret === undefined, 'no client_secret for a public client');
ok(`dynamic registration of a public native client (${nativeMeta.client_id})`);

const second = await authorize(native, nativeRedirect, 'openid email');
check(second.claims.sub === first.claims.sub, 'the same user');
check(!second.tokens.refresh_token, 'no refresh token without the refresh_token grant');
ok('code flow with PKCE with the registered public client');

console.log(
  'result ' +
    JSON.stringify({
      sub: first.claims.sub,
      confidential: {
        client_id: webMeta.client_id,
        registration_client_uri: webMeta.registration_client_uri,
        registration_access_token: webMeta.registration_access_token,
      },
      public: { client_id: nativeMeta.client_id },
    }),
);
console.log('all steps passed');
