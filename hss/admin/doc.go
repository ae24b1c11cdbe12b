// Package admin is the operator's REST API for subscribers: create, read, merge
// patch (RFC 7396), delete, paged listing and streamed bulk import (JSON lines or
// CSV). It speaks JSON over net/http, authenticates every request with a bearer
// token (RFC 6750) and maps the hss domain errors to HTTP status codes in one
// place (errorStatus). POST /v1/reset runs the S6a Reset procedure (TS 29.272
// 5.2.1.3) through hss.HSS.Reset and reports what every serving node answered.
//
// It depends only on the standard library and package hss: telemetry, config and
// transport concerns belong to the caller, which wraps the Handler. K, OP and OPc
// are write-only: no response and no log line carries them.
//
// docs/openapi.yaml describes every route Routes returns; a test keeps them equal.
package admin
