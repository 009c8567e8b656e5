// Package tlsserve owns how the provider runs as a long-lived process: its
// HTTP servers (the public one, in plain http or https with HTTP/2 and TLS
// 1.2 or later, and the metrics and admin listeners beside it), a TLS
// certificate that is replaced without a restart (on SIGHUP, or when its
// files change), the
// self-signed development certificate of `authserver serve --dev-tls`, and a
// graceful stop: stop accepting, drain in-flight requests within a bound,
// then stop the background loops, so that the caller can close the store
// last.
//
// It knows nothing of OAuth or of the configuration file: cmd/authserver maps
// config.Config onto a Server. It imports only the standard library and must
// not import any package of this module.
package tlsserve
