// A relying party we did not write, openid-client 6, against the real
// authserver over https. Run by cmd/authserver/interop/interop_test.go,
// which starts the server with --dev-tls and passes its certificate in
// NODE_EXTRA_CA_CERTS. The browser (browser.mjs) is played with fetch: redirects are
// followed by hand within the provider, its cookies are kept, and its login
// and consent forms are posted as a user would. Each step prints "ok - ...";
// the first failure exits non-zero.
import http from 'node:http';
import { once } from 'node:events';
import * as client from 'openid-client';
import * as jose from 'jose';
import { browser, check, env, ok } from './browser.mjs';

const issuer = new URL(env('ISSUER'));
const clientId = env('CLIENT_ID');
const redirectUri = env('REDIRECT_URI');
const postLogoutRedirectUri = env('POST_LOGOUT_REDIRECT_URI');
const [bcHost, bcPort] = env('BACKCHANNEL_LISTEN').split(':');

// The user's browser (browser.mjs): cookies, redirects, the login and consent forms.
const { navigate, signIn } = browser(issuer, { username: env('USERNAME'), password: env('PASSWORD') });

// ---- the relying party ----

const config = await client.discovery(issuer, clientId, undefined, client.ClientSecretBasic(env('CLIENT_SECRET')));
const meta = config.serverMetadata();
check(meta.issuer === issuer.href.replace(/\/$/, ''), `issuer ${meta.issuer}`);
check(meta.code_challenge_methods_supported?.includes('S256'), 'S256 advertised');
ok('discovery over https (the development certificate trusted through NODE_EXTRA_CA_CERTS)');

// authorize runs one code flow with PKCE, state and nonce.
async function authorize(extra = {}, opts) {
  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...extra,
  });
  const { redirect, shown } = await signIn(url, opts);
  const tokens = await client.authorizationCodeGrant(config, redirect, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  return { tokens, shown, claims: tokens.claims() };
}

const first = await authorize({ prompt: 'consent' });
check(first.shown.includes('login') && first.shown.includes('consent'), `pages shown ${first.shown}`);
check(first.claims.iss === meta.issuer && [].concat(first.claims.aud).includes(clientId), 'ID token iss and aud');
check(first.claims.sid, 'the ID token names its session (sid)');
check(first.tokens.refresh_token, 'a refresh token for offline_access');
ok('code flow with PKCE: login and consent pages, ID token verified by openid-client');

const info = await client.fetchUserInfo(config, first.tokens.access_token, first.claims.sub);
check(info.email === 'alice@example.com' && info.name === 'Alice Example', `userinfo ${JSON.stringify(info)}`);
ok('userinfo');

const refreshed = await client.refreshTokenGrant(config, first.tokens.refresh_token);
check(refreshed.access_token && refreshed.access_token !== first.tokens.access_token, 'a new access token');
check(refreshed.refresh_token && refreshed.refresh_token !== first.tokens.refresh_token, 'the refresh token rotates');
if (refreshed.id_token) check(refreshed.claims().sub === first.claims.sub, 'refreshed ID token for the same user');
await client.fetchUserInfo(config, refreshed.access_token, first.claims.sub);
ok('refresh (rotated), the new access token works');

const silent = await authorize({ prompt: 'none' }, { interact: false });
check(silent.shown.length === 0, `prompt=none showed ${silent.shown}`);
check(silent.claims.sub === first.claims.sub, 'silent renew for the same user');
check(silent.claims.sid === first.claims.sid, 'silent renew in the same session');
ok('prompt=none silent renew (remembered consent)');

await client.tokenRevocation(config, refreshed.refresh_token);
await expectOAuthError(() => client.refreshTokenGrant(config, refreshed.refresh_token), 'invalid_grant', 'refresh with a revoked token');
await client.tokenRevocation(config, refreshed.access_token);
await expectRejected(() => client.fetchUserInfo(config, refreshed.access_token, first.claims.sub), 'userinfo with a revoked access token');
ok('revocation of the refresh and the access token');

// Back-channel logout: listen for the logout token, then sign out through
// the end_session_endpoint with the latest ID token as hint.
const jwks = jose.createRemoteJWKSet(new URL(meta.jwks_uri));
let deliver;
const delivered = new Promise((resolve) => (deliver = resolve));
const listener = http.createServer(async (req, res) => {
  let body = '';
  for await (const chunk of req) body += chunk;
  try {
    check(req.method === 'POST' && req.url === '/backchannel-logout', `${req.method} ${req.url}`);
    check(req.headers['content-type']?.startsWith('application/x-www-form-urlencoded'), `content-type ${req.headers['content-type']}`);
    const token = new URLSearchParams(body).get('logout_token');
    check(token, 'a logout_token parameter');
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
      issuer: meta.issuer,
      audience: clientId,
      typ: 'logout+jwt',
      requiredClaims: ['iat', 'jti', 'events'],
    });
    res.writeHead(200, { 'cache-control': 'no-store' }).end();
    deliver({ payload, protectedHeader });
  } catch (err) {
    res.writeHead(400).end();
    deliver({ err });
  }
});
listener.listen(Number(bcPort), bcHost);
await once(listener, 'listening');
check(meta.backchannel_logout_supported === true, 'backchannel_logout_supported');
check(meta.backchannel_logout_session_supported === true, 'backchannel_logout_session_supported');

const logoutState = client.randomState();
const endSession = client.buildEndSessionUrl(config, {
  id_token_hint: silent.tokens.id_token,
  post_logout_redirect_uri: postLogoutRedirectUri,
  state: logoutState,
});
const out = await navigate(endSession);
check(out.redirect, `the logout ended on a page: ${out.status}\n${out.body}`);
check(out.redirect.href === `${postLogoutRedirectUri}?state=${logoutState}`, `post-logout redirect ${out.redirect}`);
ok('RP-initiated logout back to the post_logout_redirect_uri with state');

const timeout = new Promise((resolve) => setTimeout(() => resolve({ err: new Error('no logout token within 15 s') }), 15000).unref());
const got = await Promise.race([delivered, timeout]);
listener.close();
if (got.err) throw got.err;
const { payload } = got;
check(payload.events?.['http://schemas.openid.net/event/backchannel-logout'] !== undefined, `events ${JSON.stringify(payload.events)}`);
check(payload.sid === first.claims.sid, `sid ${payload.sid}, the session's ${first.claims.sid}`);
check(payload.sub === first.claims.sub, `sub ${payload.sub}`);
check(payload.nonce === undefined, 'no nonce in a logout token');
ok('back-channel logout token received and verified with jose (typ logout+jwt, events, sid, sub)');

const after = client.buildAuthorizationUrl(config, {
  redirect_uri: redirectUri,
  scope: 'openid',
  state: client.randomState(),
  prompt: 'none',
  code_challenge: await client.calculatePKCECodeChallenge(client.randomPKCECodeVerifier()),
  code_challenge_method: 'S256',
});
const { redirect } = await signIn(after, { interact: false });
check(redirect.searchParams.get('error') === 'login_required', `prompt=none after logout: ${redirect}`);
ok('signed out: prompt=none answers login_required');

console.log('all steps passed');

async function expectRejected(fn, what) {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error(`${what} succeeded`);
}
async function expectOAuthError(fn, code, what) {
  const err = await expectRejected(fn, what);
  check(err.error === code || err.cause?.error === code, `${what}: ${err.error ?? err.message}`);
}
