// Package adminapi is the administration HTTP API: REST+JSON under
// /admin/v1/, served on a listener of its own (admin.listen), never the
// public one. It is a thin layer over package admin, which owns every
// operation, its validation, the file-owned rule and the audit events;
// this package owns only the HTTP side of it: the routes, strict JSON
// decoding, who may call (authentication), the mapping of errors to RFC
// 9457 problem details, and the OpenAPI 3.1 document (openapi.json, served
// at /admin/v1/openapi.json), which describes every route and which the
// tests hold every exchange of theirs against.
//
// # Who may call
//
// Every call but the OpenAPI document carries "Authorization: Bearer" with
// an access token that this provider issued with the client-credentials
// grant to a client holding scope admin, for the audience admin.audience.
// The token is verified with package resource, as any API of ours would
// verify it (dogfooding): discovery and the JWKS are fetched from the
// provider's own http.Handler in-process, so the admin listener keeps
// working whatever the public URL resolves to. Because the API runs inside
// the provider, it also sees what a JWT cannot show: a token whose jti (or
// refresh family) was revoked, or whose client was deleted or lost scope
// admin since, is refused at once rather than at its exp. Every refusal is
// the audit event admin.denied with its reason and, once the token is
// verified, the client id; never the token.
//
// It imports admin, resource, storage, observe and config (and so what they
// import); package authserver and setup's other parts do not import it:
// setup builds it, cmd/authserver serves it.
package adminapi
