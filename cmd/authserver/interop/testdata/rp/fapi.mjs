// openid-client 6 as a FAPI 2.0-style client against the real authserver
// over https: private_key_jwt client authentication (the private JWK comes
// from the Go test, CLIENT_KEY_FILE, whose public half is the client's
// registered jwks), pushed authorization requests, PKCE, and DPoP-bound
// tokens at the token endpoint, userinfo and refresh. Run by
// cmd/authserver/interop/fapi_test.go. Each step prints "ok - ..."; the
// refusals it provokes are printed in the final "result {json}" line, which
// the Go test checks.
import { readFile } from 'node:fs/promises';
import * as client from 'openid-client';
import * as jose from 'jose';
import { browser, check, env, ok } from './browser.mjs';

const issuer = new URL(env('ISSUER'));
const clientId = env('CLIENT_ID');
const redirectUri = env('REDIRECT_URI');
const scope = 'openid profile email offline_access';

const privateJWK = JSON.parse(await readFile(env('CLIENT_KEY_FILE'), 'utf8'));
const clientKey = { key: await jose.importJWK(privateJWK, privateJWK.alg), kid: privateJWK.kid };

// ID_TOKEN_ALG, when set, is the client's registered id_token_signed_response_alg,
// the only one openid-client then accepts.
const metadata = process.env.ID_TOKEN_ALG ? { id_token_signed_response_alg: process.env.ID_TOKEN_ALG } : undefined;
const config = await client.discovery(issuer, clientId, metadata, client.PrivateKeyJwt(clientKey));
const meta = config.serverMetadata();
check(meta.pushed_authorization_request_endpoint, 'pushed_authorization_request_endpoint advertised');
check(meta.token_endpoint_auth_methods_supported?.includes('private_key_jwt'), `auth methods ${meta.token_endpoint_auth_methods_supported}`);
check(meta.dpop_signing_alg_values_supported?.includes('ES256'), `DPoP algs ${meta.dpop_signing_alg_values_supported}`);
ok('discovery: PAR, private_key_jwt and DPoP advertised');

const result = { client_id: clientId };
const { navigate, signIn } = browser(issuer, { username: env('USERNAME'), password: env('PASSWORD') });

// The key the tokens get bound to; the Go test recomputes its thumbprint.
const keyPair = await client.randomDPoPKeyPair('ES256');
const dpop = client.getDPoPHandle(config, keyPair);
const publicJWK = await jose.exportJWK(keyPair.publicKey);
result.dpop_jwk = publicJWK;
result.dpop_jkt = await jose.calculateJwkThumbprint(publicJWK);

function pkce() {
  const verifier = client.randomPKCECodeVerifier();
  return { verifier, state: client.randomState(), nonce: client.randomNonce() };
}

// 1. A plain authorization request, not pushed: this client must push.
{
  const p = pkce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri, scope, state: p.state, nonce: p.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(p.verifier), code_challenge_method: 'S256',
  });
  const step = await navigate(url);
  // Refused either by an error redirect to the client or by an error page;
  // what matters is that no code is issued and no login page is shown.
  result.without_par = step.redirect
    ? { redirect: true, error: step.redirect.searchParams.get('error'), code: step.redirect.searchParams.has('code') }
    : { redirect: false, status: step.status, login_page: step.body.includes('name="password"') };
  ok(`authorization request without PAR: ${JSON.stringify(result.without_par)}`);
}

// 2. The code flow with PAR (the proof at /par binds the code, RFC 9449 §10),
//    private_key_jwt at /par and /token, PKCE, DPoP at /token.
const p = pkce();
const authURL = await client.buildAuthorizationUrlWithPAR(config, {
  redirect_uri: redirectUri, scope, state: p.state, nonce: p.nonce,
  code_challenge: await client.calculatePKCECodeChallenge(p.verifier), code_challenge_method: 'S256',
}, { DPoP: dpop });
check([...authURL.searchParams.keys()].sort().join(' ') === 'client_id request_uri', `authorization URL ${authURL}`);
check(authURL.searchParams.get('request_uri').startsWith('urn:ietf:params:oauth:request_uri:'), 'a PAR request_uri');
ok('pushed authorization request (private_key_jwt, DPoP proof): only client_id and request_uri go to the browser');

const { redirect, shown } = await signIn(authURL);
check(shown.includes('login'), `pages shown ${shown}`);
const tokens = await client.authorizationCodeGrant(config, redirect, {
  pkceCodeVerifier: p.verifier, expectedState: p.state, expectedNonce: p.nonce, idTokenExpected: true,
}, undefined, { DPoP: dpop });
const claims = tokens.claims();
check(claims.iss === meta.issuer && [].concat(claims.aud).includes(clientId), 'ID token iss and aud');
check(tokens.refresh_token, 'a refresh token for offline_access');
result.token_type = tokens.token_type;
result.access_cnf = jose.decodeJwt(tokens.access_token).cnf ?? null;
ok(`code flow: token_type ${tokens.token_type}, ID token verified by openid-client`);

// 3. userinfo with the proof; the same token as a bearer token is refused.
const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub, { DPoP: dpop });
check(info.sub === claims.sub && info.email === 'alice@example.com', `userinfo ${JSON.stringify(info)}`);
ok('userinfo with DPoP');
result.bearer_userinfo = await refusal(() => client.fetchUserInfo(config, tokens.access_token, claims.sub));
ok(`userinfo with the bound token as Bearer: ${JSON.stringify(result.bearer_userinfo)}`);

// 4. A refresh without a proof is refused (the client's tokens must be
//    bound) and spends nothing; with the proof, the new token is bound too.
result.refresh_without_proof = await refusal(() => client.refreshTokenGrant(config, tokens.refresh_token));
ok(`refresh without a DPoP proof: ${JSON.stringify(result.refresh_without_proof)}`);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token, undefined, { DPoP: dpop });
check(refreshed.access_token !== tokens.access_token, 'a new access token');
result.refreshed_token_type = refreshed.token_type;
result.refreshed_cnf = jose.decodeJwt(refreshed.access_token).cnf ?? null;
await client.fetchUserInfo(config, refreshed.access_token, claims.sub, { DPoP: dpop });
ok('refresh with DPoP; the new access token works at userinfo with its proof');

// 5. The request_uri was spent when the code was issued.
{
  const again = await navigate(authURL);
  result.spent_request_uri = again.redirect
    ? { redirect: true, error: again.redirect.searchParams.get('error'), code: again.redirect.searchParams.has('code') }
    : { redirect: false, status: again.status, login_page: again.body.includes('name="password"') };
  ok(`the spent request_uri again: ${JSON.stringify(result.spent_request_uri)}`);
}

// 6. A code bound at PAR (by the proof sent there) is redeemed only with
//    that key: the exchange with another key is refused (RFC 9449 §10).
{
  const q = pkce();
  const url = await client.buildAuthorizationUrlWithPAR(config, {
    redirect_uri: redirectUri, scope, state: q.state, nonce: q.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(q.verifier), code_challenge_method: 'S256',
  }, { DPoP: dpop });
  const { redirect } = await signIn(url);
  const other = client.getDPoPHandle(config, await client.randomDPoPKeyPair('ES256'));
  result.code_other_key = await refusal(() => client.authorizationCodeGrant(config, redirect, {
    pkceCodeVerifier: q.verifier, expectedState: q.state, expectedNonce: q.nonce, idTokenExpected: true,
  }, undefined, { DPoP: other }));
  ok(`the code bound at PAR, redeemed with another DPoP key: ${JSON.stringify(result.code_other_key)}`);
}

// 7. private_key_jwt with a key the client did not register is refused at /par.
{
  const { privateKey } = await jose.generateKeyPair('ES256');
  const impostor = new client.Configuration(meta, clientId, metadata, client.PrivateKeyJwt({ key: privateKey, kid: privateJWK.kid }));
  const q = pkce();
  const challenge = await client.calculatePKCECodeChallenge(q.verifier);
  result.par_foreign_key = await refusal(() => client.buildAuthorizationUrlWithPAR(impostor, {
    redirect_uri: redirectUri, scope, state: q.state, code_challenge: challenge, code_challenge_method: 'S256',
  }));
  ok(`PAR with a client assertion signed by an unregistered key: ${JSON.stringify(result.par_foreign_key)}`);
}

console.log('result ' + JSON.stringify(result));
console.log('all steps passed');

// refusal runs fn, which must fail, and returns what the server said.
async function refusal(fn) {
  try {
    await fn();
  } catch (err) {
    const status = err.status ?? err.cause?.status ?? err.response?.status;
    let error = err.error ?? err.cause?.error;
    // A 401 with a WWW-Authenticate header: a resource (userinfo) puts its
    // error there; a token or PAR endpoint in the JSON body, which
    // openid-client leaves unread behind its challenge error.
    const challenges = Array.isArray(err.cause) ? err.cause : [];
    const inChallenges = challenges.map((c) => c.parameters?.error).filter(Boolean);
    if (!error && inChallenges.length === 0 && err.response && !err.response.bodyUsed) {
      error = await err.response.json().then((b) => b.error, () => undefined);
    }
    if (!error && challenges.length) error = challenges.map((c) => `${c.scheme}:${c.parameters?.error ?? ''}`).join(' ');
    return { refused: true, status: status ?? null, error: error ?? err.code ?? err.message };
  }
  return { refused: false };
}
