// Command rcmhss is the Diameter HSS/AAA server: S6a (TS 29.272) and SWx
// (TS 29.273) on go-diameter, subscribers in Redis or an embedded store, and one
// HTTP listener for the admin REST API, /metrics, /healthz and /readyz.
//
//	rcmhss [--config configs/rcmhss.yaml]
//
// Every configuration key can be overridden by an RCMHSS_* environment
// variable. The files: config.go loads and checks the configuration (the only
// user of viper); run.go converts it into each package's typed Config, builds
// the graph, serves and shuts down in order (RFC 6733 5.4 DPR to every peer);
// store.go picks the store; peer_directory.go builds the Redis peer directory
// through which the CLR, IDR, DSR, PPR and RTR of any node reach a peer
// connected to another node (diameter.forward_requests); rcm.go builds Remote Credential Management (the
// rcm section: guest range, RCM signing identity, its store, the S6a
// extension, docs/rcm.md) when rcm.enabled; rcm_provisioning.go adds the RCM
// provisioning server (its own HTTPS listener with mutual TLS, the provider
// admin API under /v1/providers, session expiry) and rcm.demo, which seeds
// the demo provider from a `rcmdevice pki` directory; telemetry.go sets up OpenTelemetry (Prometheus
// exporter on a private registry, OTLP/gRPC traces) and the metrics that wrap
// domain calls.
package main
