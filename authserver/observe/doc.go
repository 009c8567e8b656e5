// Package observe owns what the provider tells its operators: the process
// logger (text or JSON, with the request id on every line of a request), the
// audit events (one function, one list of stable event names), the access
// log, request ids, the client IP as trusted proxies report it, and the
// Prometheus metrics of one server (its own registry, never the global one).
//
// It imports only the standard library and prometheus/client_golang; it must
// not import authserver, storage or cmd, so every layer can use it.
package observe
